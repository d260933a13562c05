//! One Lattice service network across two clusters on two real API servers (`scripts/kube-env`
//! twice, on their own ports), one Pylon per cluster reading the other with
//! `--remote-cluster NAME=kubeconfig:PATH`, pods of each in network namespaces on their own
//! subnets: a client of cluster west reaches by DNS name a service whose route lives in east, a
//! route in west splits 20/80 between a local Service and east's ServiceExport, east's endpoint
//! changes are followed in west, and `associateWithVpc: false` takes west out of the network.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::kube_env::{condition, KubeEnv, TestHost};
use support::lattice::{backends_seen, resolve, MESH_GATEWAY};
use support::*;

/// A Service with an EndpointSlice of these pod addresses (port 8080), as the endpoint
/// controller would write it.
fn service(name: &str, pods: &[&str]) -> String {
    let endpoints: String = pods
        .iter()
        .map(|ip| format!("- addresses: [\"{ip}\"]\n  conditions: {{ready: true}}\n"))
        .collect();
    format!(
        "---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: demo}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: demo
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
{endpoints}"
    )
}

const EAST: &str = "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: inventory, namespace: demo}
spec:
  parentRefs: [{name: mesh}]
  hostnames: [inventory.example.com]
  rules: [{backendRefs: [{name: payments, port: 80}]}]
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceExport
metadata:
  name: payments
  namespace: demo
  annotations: {application-networking.k8s.aws/federation: amazon-vpc-lattice}
spec:
  exportedPorts: [{port: 80, routeType: HTTP}]
";

const WEST: &str = "---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceImport
metadata:
  name: payments
  namespace: demo
  annotations: {application-networking.k8s.aws/aws-eks-cluster-name: east}
spec:
  type: ClusterSetIP
  ports: [{port: 80, protocol: TCP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: checkout, namespace: demo}
spec:
  parentRefs: [{name: mesh}]
  hostnames: [checkout.example.com]
  rules:
  - backendRefs:
    - {name: payments-local, port: 80, weight: 20}
    - {group: application-networking.k8s.aws, kind: ServiceImport, name: payments, weight: 80}
";

#[test]
fn a_service_network_spans_two_api_servers() {
    let (east, west) = (KubeEnv::up(22679), KubeEnv::up(22779));
    let (mut pay_1, mut pay_2, mut local) =
        (TestHost::new(73), TestHost::new(74), TestHost::new(75));
    pay_1.backend("10.244.73.2", "east-payments-1");
    pay_2.backend("10.244.74.2", "east-payments-2");
    local.backend("10.244.75.2", "west-payments");
    east.kubectl_apply(&format!(
        "{NAMESPACE}{MESH_GATEWAY}{}{EAST}",
        service("payments", &["10.244.73.2"])
    ));
    west.kubectl_apply(&format!(
        "{NAMESPACE}{MESH_GATEWAY}{}{WEST}",
        service("payments-local", &["10.244.75.2"])
    ));

    let (east_env, west_env) = (Env::new(85), Env::new(86));
    let east_remote = format!("east=kubeconfig:{}", east.kubeconfig().display());
    let west_remote = format!("west=kubeconfig:{}", west.kubeconfig().display());
    let _east_pylon = east.pylon(
        &east_env,
        &east.kubeconfig(),
        &["--cluster-name", "east", "--remote-cluster", &west_remote],
    );
    let _west_pylon = west.pylon(
        &west_env,
        &west.kubeconfig(),
        &["--cluster-name", "west", "--remote-cluster", &east_remote],
    );

    // East's route, by the DNS name east's Pylon wrote on it, answered in west.
    let annotation = "application-networking.k8s.aws/lattice-assigned-domain-name";
    let mut dns = String::new();
    wait_until(
        Duration::from_secs(10),
        || {
            let route = east.get(&["httproute", "-n", "demo", "inventory"]);
            dns = route["metadata"]["annotations"][annotation]
                .as_str()
                .unwrap_or_default()
                .to_string();
            !dns.is_empty()
        },
        || "east's route never got its domain name".into(),
    );
    let mut addresses = Vec::new();
    wait_until(
        Duration::from_secs(10),
        || {
            addresses = resolve(&west_env, &dns, false).1;
            !addresses.is_empty()
        },
        || format!("west's DNS never answered for {dns}"),
    );
    let lb = SocketAddr::new(addresses[0], 80);
    assert_eq!(
        http_get(lb, "/", Some(&dns)).unwrap().backend(),
        "east-payments-1"
    );

    // West's route splits near 20/80 between its own pods and east's export.
    wait_until(
        Duration::from_secs(10),
        || http_get(lb, "/", Some("checkout.example.com")).is_ok_and(|r| r.status == 200),
        || "west never served its checkout route".into(),
    );
    let seen = backends_seen(lb, "checkout.example.com", 500);
    let west_share = seen.get("west-payments").copied().unwrap_or(0);
    assert_eq!(
        west_share + seen.get("east-payments-1").copied().unwrap_or(0),
        500,
        "{seen:?}"
    );
    assert!((60..=140).contains(&west_share), "near 20/80: {seen:?}");
    // West's route is Accepted with its import resolved; east's objects get no status from west.
    wait_until(
        Duration::from_secs(5),
        || {
            let route = west.get(&["httproute", "-n", "demo", "checkout"]);
            condition(&route["status"]["parents"][0]["conditions"], "ResolvedRefs")
                .is_some_and(|c| c["status"] == "True")
        },
        || {
            format!(
                "west's route status: {}",
                west.get(&["httproute", "-n", "demo", "checkout"])["status"]
            )
        },
    );
    let east_route = east.get(&["httproute", "-n", "demo", "inventory"]);
    assert_eq!(
        east_route["status"]["parents"].as_array().map(Vec::len),
        Some(1)
    );

    // East scales its export's endpoints: west follows within a second.
    east.kubectl_apply(&service("payments", &["10.244.73.2", "10.244.74.2"]));
    let scaled = Instant::now();
    wait_until(
        Duration::from_secs(5),
        || backends_seen(lb, "checkout.example.com", 20).contains_key("east-payments-2"),
        || "west never served east's new endpoint".into(),
    );
    let took = scaled.elapsed();
    eprintln!("west followed east's endpoints after {took:?}");
    assert!(
        took < Duration::from_secs(1),
        "west followed after {took:?}"
    );

    // West's VPC leaves the network: west's Pylon stops answering for it.
    west.kubectl_apply("apiVersion: application-networking.k8s.aws/v1alpha1\nkind: VpcAssociationPolicy\nmetadata: {name: mesh-association, namespace: demo}\nspec:\n  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: mesh}\n  associateWithVpc: false\n");
    wait_until(
        Duration::from_secs(10),
        || resolve(&west_env, &dns, false).1.is_empty() && http_get(lb, "/", Some(&dns)).is_err(),
        || "west still answers for a network its VPC left".into(),
    );
    // East still does.
    let east_lb = SocketAddr::new(resolve(&east_env, &dns, false).1[0], 80);
    assert_eq!(http_get(east_lb, "/", Some(&dns)).unwrap().status, 200);
}
