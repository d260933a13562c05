//! Kube mode against a real API server (`scripts/kube-env`, built from the official Go modules):
//! the seed's manifests applied with kubectl are served as in standalone mode, by backends that
//! run as test hosts in network namespaces (the API server refuses loopback EndpointSlices), and
//! an EndpointSlice edit re-targets live traffic.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::kube_env::{condition, KubeEnv, TestHost};
use support::*;

const GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: pylon
  listeners: [{name: http, protocol: HTTP, port: 8080}]
"#;

fn route(name: &str) -> String {
    format!("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{backendRefs: [{{name: missing, port: 80}}]}}]\n")
}

fn route_accepted(kube: &KubeEnv, name: &str) -> bool {
    let (ok, out) = kube.kubectl(&[
        "get",
        "httproute",
        "-n",
        "apps",
        name,
        "-o",
        "jsonpath={.status.parents[0].conditions[?(@.type==\"Accepted\")].status}",
    ]);
    ok && out == "True"
}

/// Two replicas: both serve, one writes statuses; when it stops, the other takes the Lease
/// within its duration and writes from then on.
#[test]
fn two_replicas_fail_over_status_writing() {
    let kube = KubeEnv::up(22479);
    kube.kubectl_apply(GATEWAY);
    kube.kubectl_apply(&route("first"));
    let (env_a, env_b) = (Env::new(52), Env::new(53));
    let mut a = kube.pylon(
        &env_a,
        &kube.kubeconfig(),
        &["--identity", "replica-a", "--lease-duration-seconds", "3"],
    );
    wait_until(
        Duration::from_secs(10),
        || kube.lease_holder("default") == "replica-a",
        || "replica-a never took the Lease".into(),
    );
    let _b = kube.pylon(
        &env_b,
        &kube.kubeconfig(),
        &["--identity", "replica-b", "--lease-duration-seconds", "3"],
    );
    wait_until(
        Duration::from_secs(10),
        || route_accepted(&kube, "first"),
        || "the leader never wrote the route status".into(),
    );
    // Both replicas serve the Gateway (each on its own address here).
    env_a.wait_for_gateway("apps", "gw", 8080);
    env_b.wait_for_gateway("apps", "gw", 8080);
    assert_eq!(
        kube.lease_holder("default"),
        "replica-a",
        "the follower does not take a live Lease"
    );

    a.terminate();
    let stopped = Instant::now();
    wait_until(
        Duration::from_secs(15),
        || kube.lease_holder("default") == "replica-b",
        || "replica-b never took over".into(),
    );
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "hand-over took {took:?} with a 3 s lease"
    );
    kube.kubectl_apply(&route("second"));
    wait_until(
        Duration::from_secs(10),
        || route_accepted(&kube, "second"),
        || "the new leader never wrote a status".into(),
    );
}

/// The RBAC in deploy/ is enough: Pylon running with that ServiceAccount's token reads every kind
/// and writes statuses and its Lease.
#[test]
fn the_deploy_rbac_is_sufficient() {
    let kube = KubeEnv::up(22579);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in ["deploy/00-namespace.yaml", "deploy/01-rbac.yaml"] {
        kube.kubectl_apply(&std::fs::read_to_string(root.join(file)).unwrap());
    }
    let (ok, token) = kube.kubectl(&["create", "token", "pylon", "-n", "pylon-system"]);
    assert!(ok, "kubectl create token failed");
    let admin = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    let server = admin
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .unwrap()
        .trim()
        .trim_start_matches("server:")
        .trim()
        .to_string();
    let ca = admin
        .lines()
        .find(|l| l.trim_start().starts_with("certificate-authority:"))
        .unwrap()
        .trim()
        .trim_start_matches("certificate-authority:")
        .trim()
        .to_string();
    let kubeconfig = kube.run.path().join("pylon-sa.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {server}, certificate-authority: {ca}}}\nusers:\n- name: pylon\n  user: {{token: {}}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: pylon}}\ncurrent-context: c\n", token.trim()),
    )
    .unwrap();
    kube.kubectl_apply(GATEWAY);
    kube.kubectl_apply(&route("web"));
    kube.kubectl_apply("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: apps}\nspec:\n  ingressClassName: alb\n  defaultBackend: {service: {name: missing, port: {number: 80}}}\n");
    // A Lattice route: its annotations are patched on the route itself.
    kube.kubectl_apply("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: amazon-vpc-lattice}\nspec: {controllerName: application-networking.k8s.aws/gateway-api-controller}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: mesh, namespace: apps}\nspec:\n  gatewayClassName: amazon-vpc-lattice\n  listeners: [{name: http, protocol: HTTP, port: 80}]\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: inventory, namespace: apps}\nspec:\n  parentRefs: [{name: mesh}]\n  rules: [{backendRefs: [{name: missing, port: 80}]}]\n");
    kube.kubectl_apply("apiVersion: application-networking.k8s.aws/v1alpha1\nkind: TargetGroupPolicy\nmetadata: {name: missing-health, namespace: apps}\nspec:\n  targetRef: {group: \"\", kind: Service, name: missing}\n  healthCheck: {path: /ready}\n");
    let env = Env::new(54);
    let pylon = kube.pylon(
        &env,
        &kubeconfig,
        &[
            "--identity",
            "sa",
            "--leader-election-namespace",
            "pylon-system",
        ],
    );
    wait_until(
        Duration::from_secs(10),
        || route_accepted(&kube, "web"),
        || {
            format!(
                "no route status written with the deploy RBAC; log:\n{}",
                pylon.log_text()
            )
        },
    );
    wait_until(
        Duration::from_secs(10),
        || {
            kube.kubectl(&[
                "get",
                "ingress",
                "-n",
                "apps",
                "web",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[0].ip}",
            ])
            .1
            .starts_with("127.54.2.")
        },
        || {
            format!(
                "no Ingress status written with the deploy RBAC; log:\n{}",
                pylon.log_text()
            )
        },
    );
    wait_until(
        Duration::from_secs(10),
        || {
            kube.kubectl(&[
                "get",
                "httproute",
                "-n",
                "apps",
                "inventory",
                "-o",
                "jsonpath={.metadata.annotations.application-networking\\.k8s\\.aws/lattice-assigned-domain-name}",
            ])
            .1
            .starts_with("inventory-apps-")
        },
        || {
            format!(
                "no Lattice annotations written with the deploy RBAC; log:\n{}",
                pylon.log_text()
            )
        },
    );
    // A Lattice policy's status, through its status subresource.
    wait_until(
        Duration::from_secs(10),
        || {
            kube.kubectl(&[
                "get",
                "targetgrouppolicy",
                "-n",
                "apps",
                "missing-health",
                "-o",
                "jsonpath={.status.conditions[0].reason}",
            ])
            .1 == "TargetNotFound"
        },
        || {
            format!(
                "no TargetGroupPolicy status written with the deploy RBAC; log:\n{}",
                pylon.log_text()
            )
        },
    );
    assert_eq!(kube.lease_holder("pylon-system"), "sa");
    // The missing backend is a Warning Event on the route.
    wait_until(
        Duration::from_secs(10),
        || {
            let events = kube.get(&["events", "-n", "apps"]);
            events["items"].as_array().is_some_and(|items| {
                items.iter().any(|e| {
                    e["involvedObject"]["name"] == "web"
                        && e["reason"] == "TranslationError"
                        && e["message"].as_str().is_some_and(|m| m.contains("missing"))
                })
            })
        },
        || {
            format!(
                "no Event about the missing backend: {}",
                kube.get(&["events", "-n", "apps"])
            )
        },
    );
    let log = pylon.log_text();
    assert!(
        !log.contains("cannot watch"),
        "a kind could not be watched with the deploy RBAC:\n{log}"
    );
    assert!(
        !log.contains("Forbidden") && !log.contains("forbidden"),
        "{log}"
    );
}

#[test]
fn the_seed_applied_to_an_api_server_is_served_and_follows_endpoint_changes() {
    let kube = KubeEnv::up(22379);
    let (mut host_a, mut host_b) = (TestHost::new(71), TestHost::new(72));
    host_a.backend("10.244.71.2", "pod-a");
    host_b.backend("10.244.72.2", "pod-b");

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/eks-seed");
    let backends = std::fs::read_to_string(format!("{example}/00-nginx-backend.yaml"))
        .unwrap()
        .replace("127.0.0.11", "10.244.71.2")
        .replace("127.0.0.12", "10.244.72.2");
    kube.kubectl_apply(&backends);
    kube.kubectl_apply(&std::fs::read_to_string(format!("{example}/01-ingress-alb.yaml")).unwrap());
    kube.kubectl_apply(&std::fs::read_to_string(format!("{example}/02-gateway-alb.yaml")).unwrap());
    kube.kubectl_apply(
        &std::fs::read_to_string(format!("{example}/03-gateway-lattice.yaml")).unwrap(),
    );

    let env = Env::new(51);
    let mut pylon = kube.pylon(&env, &kube.kubeconfig(), &[]);
    let ingress = env.wait_for_address("demo", "nginx-ingress");
    let gateway = env.wait_for_gateway("demo", "nginx-gateway-ip", 80);
    for lb in [ingress, gateway] {
        let seen: std::collections::BTreeSet<String> = (0..4)
            .map(|_| http_get(lb, "/", None).unwrap().backend())
            .collect();
        assert_eq!(
            seen,
            ["pod-a".to_string(), "pod-b".to_string()].into(),
            "both pods behind {lb}"
        );
    }

    // The EndpointSlice loses pod-a: live traffic follows within a second or so.
    let only_b = backends.replace("- addresses: [\"10.244.71.2\"]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, namespace: demo, name: nginx-576c6b7b6-tsgvn}\n", "");
    assert_ne!(only_b, backends, "the edit removes pod-a");
    kube.kubectl_apply(&only_b);
    // Timed from when the API server has the edit (kubectl returned).
    let edited = Instant::now();
    wait_until(
        Duration::from_secs(5),
        || (0..4).all(|_| http_get(gateway, "/", None).unwrap().backend() == "pod-b"),
        || "traffic never left pod-a".into(),
    );
    let took = edited.elapsed();
    eprintln!("re-targeting took {took:?}");
    assert!(took < Duration::from_secs(1), "re-targeting took {took:?}");
    assert!((0..4).all(|_| http_get(ingress, "/", None).unwrap().backend() == "pod-b"));

    // Statuses in the API server, as kubectl shows them.
    wait_until(
        Duration::from_secs(5),
        || {
            let gw = kube.get(&["gateway", "-n", "demo", "nginx-gateway-ip"]);
            condition(&gw["status"]["conditions"], "Programmed")
                .is_some_and(|c| c["status"] == "True")
                && gw["status"]["addresses"][0]["value"] == gateway.ip().to_string()
        },
        || {
            format!(
                "the Gateway status never showed Programmed with its address: {}",
                kube.get(&["gateway", "-n", "demo", "nginx-gateway-ip"])["status"]
            )
        },
    );
    let gw = kube.get(&["gateway", "-n", "demo", "nginx-gateway-ip"]);
    let programmed = condition(&gw["status"]["conditions"], "Programmed").unwrap();
    assert_eq!(
        programmed["observedGeneration"],
        gw["metadata"]["generation"]
    );
    assert!(programmed["lastTransitionTime"].is_string());
    assert_eq!(gw["status"]["listeners"][0]["attachedRoutes"], 1);
    wait_until(
        Duration::from_secs(5),
        || {
            kube.get(&["ingress", "-n", "demo", "nginx-ingress"])["status"]["loadBalancer"]
                ["ingress"][0]["ip"]
                == ingress.ip().to_string()
        },
        || "the Ingress status never showed its address".into(),
    );
    let class = kube.get(&["gatewayclass", "aws-alb-gateway-class"]);
    assert_eq!(
        condition(&class["status"]["conditions"], "Accepted").unwrap()["status"],
        "True"
    );
    let lattice = kube.get(&["gatewayclass", "amazon-vpc-lattice"]);
    assert_eq!(
        condition(&lattice["status"]["conditions"], "Accepted").unwrap()["status"],
        "True",
        "{}",
        lattice["status"]
    );
    // The Lattice route: its service's name and ARN as annotations, its status, and its pods
    // through the generated DNS name, resolved by Pylon.
    let annotation = "application-networking.k8s.aws/lattice-assigned-domain-name";
    let mut dns = String::new();
    wait_until(
        Duration::from_secs(5),
        || {
            let route = kube.get(&["httproute", "-n", "demo", "nginx-lattice-route"]);
            dns = route["metadata"]["annotations"][annotation]
                .as_str()
                .unwrap_or_default()
                .to_string();
            !dns.is_empty()
        },
        || "the Lattice route never got its domain name annotation".into(),
    );
    let route = kube.get(&["httproute", "-n", "demo", "nginx-lattice-route"]);
    assert!(
        route["metadata"]["annotations"]["application-networking.k8s.aws/lattice-service-arn"]
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:vpc-lattice:us-west-2:")),
        "{}",
        route["metadata"]
    );
    let parent = &route["status"]["parents"][0];
    assert_eq!(
        parent["controllerName"],
        "application-networking.k8s.aws/gateway-api-controller"
    );
    assert_eq!(
        condition(&parent["conditions"], "Accepted").unwrap()["status"],
        "True"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime
        .block_on(pylon_dns::client::ask(
            env.dns(),
            false,
            &dns,
            pylon_dns::RecordType::A,
        ))
        .unwrap();
    let network = pylon_dns::client::addresses(&answer)[0];
    let seen: std::collections::BTreeSet<String> = (0..4)
        .map(|_| {
            http_get(std::net::SocketAddr::new(network, 80), "/", Some(&dns))
                .unwrap()
                .backend()
        })
        .collect();
    assert_eq!(
        seen,
        ["pod-b".to_string()].into(),
        "the Lattice service's pods"
    );
    let route = kube.get(&["httproute", "-n", "demo", "nginx-route-ip"]);
    let parents = route["status"]["parents"].as_array().unwrap();
    assert_eq!(parents.len(), 1);
    assert_eq!(parents[0]["controllerName"], "gateway.k8s.aws/alb");
    assert_eq!(
        condition(&parents[0]["conditions"], "Accepted").unwrap()["status"],
        "True"
    );

    // A restarted Pylon converges without rewriting statuses that are already right.
    let version = |kind: &str, name: &str| {
        kube.get(&[kind, "-n", "demo", name])["metadata"]["resourceVersion"].clone()
    };
    let before = (
        version("gateway", "nginx-gateway-ip"),
        version("httproute", "nginx-route-ip"),
        version("ingress", "nginx-ingress"),
        version("httproute", "nginx-lattice-route"),
    );
    pylon.terminate();
    let _restarted = kube.pylon(&env, &kube.kubeconfig(), &["--identity", "seed-2"]);
    assert_eq!(
        env.wait_for_gateway("demo", "nginx-gateway-ip", 80),
        gateway,
        "the same address after a restart"
    );
    // The stopped replica gave its Lease up, so the restarted one leads (and would write) at once.
    wait_until(
        Duration::from_secs(5),
        || kube.lease_holder("default") == "seed-2",
        || "the restarted replica never led".into(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let after = (
        version("gateway", "nginx-gateway-ip"),
        version("httproute", "nginx-route-ip"),
        version("ingress", "nginx-ingress"),
        version("httproute", "nginx-lattice-route"),
    );
    assert_eq!(
        before, after,
        "a restart must not rewrite unchanged statuses"
    );

    // Deleting the Gateway stops its listener and removes Pylon's entry from the route status.
    assert!(
        kube.kubectl(&["delete", "gateway", "-n", "demo", "nginx-gateway-ip"])
            .0
    );
    wait_until(
        Duration::from_secs(5),
        || http_get(gateway, "/", None).is_err(),
        || "the Gateway's listener kept serving".into(),
    );
    wait_until(
        Duration::from_secs(5),
        || {
            kube.get(&["httproute", "-n", "demo", "nginx-route-ip"])["status"]["parents"]
                .as_array()
                .is_none_or(|p| p.is_empty())
        },
        || {
            format!(
                "the route status kept the deleted Gateway: {}",
                kube.get(&["httproute", "-n", "demo", "nginx-route-ip"])["status"]
            )
        },
    );
    assert_eq!(
        http_get(ingress, "/", None).unwrap().backend(),
        "pod-b",
        "the Ingress keeps serving"
    );
}
