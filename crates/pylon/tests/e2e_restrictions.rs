//! End to end: settings that restrict who may reach a route and that Pylon does not enforce yet
//! fail closed. The protected paths answer 503 naming the setting and the target never sees
//! them; the unprotected path beside them is served; `pylon validate` reports each as an error.

mod support;

use support::*;

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - path: /private
        pathType: Prefix
        backend: {service: {name: private, port: {number: 80}}}
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: office
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}]'
    alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#;

fn seen(addr: std::net::SocketAddr) -> String {
    http_get(addr, "/__requests", None).unwrap().body
}

#[test]
fn restrictions_pylon_cannot_enforce_answer_503_and_reach_no_target() {
    let env = Env::new(71);
    let backend = env.backend_ip(1);
    let private = service("private", 9000, std::slice::from_ref(&backend)).replace(
        "  name: private\n  namespace: demo\n",
        "  name: private\n  namespace: demo\n  annotations:\n    alb.ingress.kubernetes.io/auth-type: oidc\n",
    );
    env.write(
        "apps.yaml",
        &format!(
            "{NAMESPACE}---\n{}---\n{private}---\n{INGRESS}",
            service("web", 9000, std::slice::from_ref(&backend))
        ),
    );
    let (code, out) = env.pylon_command("validate", &[]);
    assert_eq!(
        code, 1,
        "a route that cannot be protected is an error:\n{out}"
    );
    for expected in [
        "alb.ingress.kubernetes.io/auth-type \"oidc\" restricts who may reach",
        "alb.ingress.kubernetes.io/inbound-cidrs \"10.0.0.0/8\" restricts who may reach this load balancer",
    ] {
        assert!(out.contains(expected), "validate lacks {expected:?}:\n{out}");
    }
    let target = env.backend(1, 9000, "pod-a");
    let _pylon = env.pylon();
    let shop = env.wait_for_address("demo", "shop");
    let office = env.wait_for_address("demo", "office");

    let open = http_get(shop, "/shop", None).unwrap();
    assert_eq!(open.status, 200, "the unprotected path is served");
    for (lb, path) in [
        (shop, "/private"),
        (shop, "/private/orders?id=1"),
        (office, "/"),
        (office, "/anything"),
    ] {
        let reply = http_get(lb, path, None).unwrap();
        assert_eq!(reply.status, 503, "{path}: {}", reply.body);
        assert!(
            reply.body.contains("restricts access and is not enforced"),
            "{path}: {}",
            reply.body
        );
    }
    let at_target = seen(format!("{backend}:9000").parse().unwrap());
    assert!(at_target.contains("GET /shop"), "{at_target}");
    assert!(
        !at_target.contains("/private") && !at_target.contains("/anything"),
        "the target saw a protected request: {at_target}"
    );
    drop(target);
}
