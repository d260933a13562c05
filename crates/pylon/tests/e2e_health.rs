//! End to end: active health checks take targets out and back in, and a group whose targets are
//! all unhealthy fails open, as an ALB does.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use support::*;

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: checked
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
    alb.ingress.kubernetes.io/healthcheck-path: /healthz
    alb.ingress.kubernetes.io/healthcheck-interval-seconds: "5"
    alb.ingress.kubernetes.io/healthcheck-timeout-seconds: "2"
    alb.ingress.kubernetes.io/healthy-threshold-count: "2"
    alb.ingress.kubernetes.io/unhealthy-threshold-count: "2"
spec:
  ingressClassName: alb
  defaultBackend:
    service: {name: web, port: {number: 80}}
"#;

fn backends_seen(lb: SocketAddr, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|_| http_get(lb, "/", None).unwrap().backend())
        .collect()
}

fn health_of(env: &Env, backend: &str) -> String {
    let config = env.config();
    let tg = &config["ir"]["loadBalancers"][0]["targetGroups"]["ingress/demo/checked/tg/web:80"];
    tg["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["ip"] == backend)
        .map(|t| t["health"]["state"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn unhealthy_targets_leave_and_come_back_and_all_unhealthy_fails_open() {
    let env = Env::new(21);
    env.write("ns.yaml", NAMESPACE);
    env.write(
        "web.yaml",
        &service("web", 9000, &[env.backend_ip(1), env.backend_ip(2)]),
    );
    env.write("ingress.yaml", INGRESS);
    let _a = env.backend(1, 9000, "a");
    let _b = env.backend(2, 9000, "b");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "checked");
    let (a, b) = (env.backend_ip(1), env.backend_ip(2));
    let set_health = |ip: &str, code: u16| {
        let addr: SocketAddr = format!("{ip}:9000").parse().unwrap();
        assert_eq!(
            http_request(addr, "POST", &format!("/health/{code}"), None, &[])
                .unwrap()
                .status,
            200
        );
    };
    let both: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
    assert_eq!(backends_seen(lb, 4), both);
    wait_until(
        Duration::from_secs(5),
        || health_of(&env, &a) == "healthy",
        || "a never turned healthy".into(),
    );

    // a fails its checks: after two failed checks it gets no more traffic.
    set_health(&a, 500);
    wait_until(
        Duration::from_secs(20),
        || backends_seen(lb, 4) == ["b".to_string()].into(),
        || "a was never ejected".into(),
    );
    assert_eq!(health_of(&env, &a), "unhealthy");
    assert!(env
        .config()
        .to_string()
        .contains("health check answered 500, expected 200"));

    // b fails too: with no healthy target the group fails open and uses both.
    set_health(&b, 500);
    wait_until(
        Duration::from_secs(20),
        || health_of(&env, &b) == "unhealthy",
        || "b never turned unhealthy".into(),
    );
    assert_eq!(backends_seen(lb, 4), both);

    // a recovers: two passing checks bring it back, and it alone is healthy.
    set_health(&a, 200);
    wait_until(
        Duration::from_secs(20),
        || backends_seen(lb, 4) == ["a".to_string()].into(),
        || "a never came back".into(),
    );
    assert_eq!(health_of(&env, &a), "healthy");
}

#[test]
fn a_target_that_stops_listening_is_ejected() {
    let env = Env::new(22);
    env.write("ns.yaml", NAMESPACE);
    env.write(
        "web.yaml",
        &service("web", 9000, &[env.backend_ip(1), env.backend_ip(2)]),
    );
    env.write("ingress.yaml", INGRESS);
    let mut a = env.backend(1, 9000, "a");
    let _b = env.backend(2, 9000, "b");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "checked");
    a.terminate();
    // Until the checks notice, requests to a fail with 502, as on an ALB; then only b answers.
    wait_until(
        Duration::from_secs(20),
        || health_of(&env, &env.backend_ip(1)) == "unhealthy",
        || "a never turned unhealthy".into(),
    );
    assert!((0..6).all(|_| http_get(lb, "/", None).unwrap().status == 200));
    let _a = env.backend(1, 9000, "a");
    wait_until(
        Duration::from_secs(20),
        || backends_seen(lb, 4).contains("a"),
        || "a never came back".into(),
    );
}
