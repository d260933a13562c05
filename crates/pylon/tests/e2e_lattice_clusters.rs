//! End to end for one service network across two clusters, each read from its own manifest
//! directory by its own Pylon (`--cluster-name`, `--remote-cluster`): a client in cluster west
//! reaches by DNS name a service whose route lives in cluster east, a route in west splits 20/80
//! between a local Service and east's ServiceExport, endpoint changes in east are followed in
//! west, and `associateWithVpc: false` makes west's Pylon stop answering for the network.
//! `kube.rs` runs the same against two real API servers.

mod support;

use std::time::{Duration, Instant};
use support::lattice::*;
use support::*;

/// Cluster east: route inventory on its pods, and Service payments exported.
fn east(env: &Env, payments: &[String]) -> String {
    format!(
        "{NAMESPACE}{MESH_GATEWAY}---
{}---
{}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: inventory, namespace: demo}}
spec:
  parentRefs: [{{name: mesh}}]
  hostnames: [inventory.example.com]
  rules: [{{backendRefs: [{{name: inventory, port: 80}}]}}]
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceExport
metadata:
  name: payments
  namespace: demo
  annotations: {{application-networking.k8s.aws/federation: amazon-vpc-lattice}}
spec:
  exportedPorts: [{{port: 80, routeType: HTTP}}]
",
        service("inventory", 8080, &[env.backend_ip(1)]),
        service("payments", 8080, payments),
    )
}

/// Cluster west: route checkout weighting its own payments 20 and east's export 80.
fn west(env: &Env, associate: bool) -> String {
    let association = match associate {
        true => String::new(),
        false => "---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: VpcAssociationPolicy
metadata: {name: mesh-association, namespace: demo}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: mesh}
  associateWithVpc: false
"
        .to_string(),
    };
    format!(
        "{NAMESPACE}{MESH_GATEWAY}---
{}---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceImport
metadata: {{name: payments, namespace: demo}}
spec:
  type: ClusterSetIP
  ports: [{{port: 80, protocol: TCP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: checkout, namespace: demo}}
spec:
  parentRefs: [{{name: mesh}}]
  hostnames: [checkout.example.com]
  rules:
  - backendRefs:
    - {{name: payments-local, port: 80, weight: 20}}
    - {{group: application-networking.k8s.aws, kind: ServiceImport, name: payments, weight: 80}}
{association}",
        service("payments-local", 8080, &[env.backend_ip(1)]),
    )
}

#[test]
fn lattice_service_network_spans_two_clusters() {
    let (a, b) = (Env::new(83), Env::new(84));
    a.write("east.yaml", &east(&a, &[a.backend_ip(2)]));
    b.write("west.yaml", &west(&b, true));
    let _inventory = a.backend(1, 8080, "east-inventory");
    let _payments = a.backend(2, 8080, "east-payments-1");
    let _local = b.backend(1, 8080, "west-payments");
    let east_dir = format!("east={}", a.manifests().display());
    let west_dir = format!("west={}", b.manifests().display());
    let _east = a.pylon_with(&["--cluster-name", "east", "--remote-cluster", &west_dir]);
    let _west = b.pylon_with(&["--cluster-name", "west", "--remote-cluster", &east_dir]);

    // West serves east's service by its DNS name, at west's own address of the network.
    let sn = network(&b, "mesh");
    let inventory = sn["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["origin"]["name"] == "inventory")
        .expect("east's route is a service of the network in west")
        .clone();
    assert_eq!(inventory["cluster"], "east");
    let dns_name = inventory["dnsName"].as_str().unwrap();
    let (code, addresses) = resolve(&b, dns_name, false);
    assert_eq!(code, "No Error");
    assert_eq!(addresses, vec![address(&sn, 80).ip()]);
    let lb = address(&sn, 80);
    let reply = http_get(lb, "/", Some(dns_name)).unwrap();
    assert_eq!(
        (reply.status, reply.backend()),
        (200, "east-inventory".to_string())
    );
    assert_eq!(
        header(&reply.json(), "x-amzn-source-vpc"),
        sn["sourceVpc"].as_str(),
        "requests carry the client's VPC (west's)"
    );
    assert_ne!(network(&a, "mesh")["sourceVpc"], sn["sourceVpc"]);

    // 20/80 between west's Service and east's export, over 500 requests.
    let seen = backends_seen(lb, "checkout.example.com", 500);
    let local = seen.get("west-payments").copied().unwrap_or(0);
    let remote = seen.get("east-payments-1").copied().unwrap_or(0);
    assert_eq!(local + remote, 500, "{seen:?}");
    assert!((60..=140).contains(&local), "near 20/80: {seen:?}");

    // Only west's objects get statuses from west.
    let status = b.status();
    let objects: Vec<String> = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}/{}", o["kind"], o["name"]))
        .collect();
    assert!(
        objects.iter().any(|o| o.contains("checkout")),
        "{objects:?}"
    );
    assert!(
        !objects.iter().any(|o| o.contains("inventory")),
        "{objects:?}"
    );

    // East scales its export: west follows.
    let _second = a.backend(3, 8080, "east-payments-2");
    let changed = Instant::now();
    a.write("east.yaml", &east(&a, &[a.backend_ip(2), a.backend_ip(3)]));
    wait_until(
        Duration::from_secs(5),
        || backends_seen(lb, "checkout.example.com", 20).contains_key("east-payments-2"),
        || "west never served east's new endpoint".into(),
    );
    let followed = changed.elapsed();
    eprintln!("west served east's new endpoint after {followed:?}");

    // West's plan shows where the network's parts come from.
    let (code, plan) = b.pylon_command(
        "plan",
        &["--cluster-name", "west", "--remote-cluster", &east_dir],
    );
    assert_eq!(code, 0, "{plan}");
    assert!(
        plan.contains("spans other clusters: Gateway demo/mesh in cluster east"),
        "{plan}"
    );
    assert!(
        plan.contains("(HTTPRoute demo/inventory in cluster east)"),
        "{plan}"
    );
    assert!(plan.contains("targets in cluster east"), "{plan}");

    // West's VPC leaves the network: west stops answering for its names.
    b.write("west.yaml", &west(&b, false));
    wait_until(
        Duration::from_secs(5),
        || resolve(&b, dns_name, false).1.is_empty() && http_get(lb, "/", Some(dns_name)).is_err(),
        || "west still answers for a network its VPC left".into(),
    );
    // East still serves it.
    let east_lb = address(&network(&a, "mesh"), 80);
    assert_eq!(
        http_get(east_lb, "/", Some("inventory.example.com"))
            .unwrap()
            .status,
        200
    );
}
