//! End to end: an IngressGroup of three Ingresses in two namespaces served on one address with
//! the group's rule order, and a member removed under load without a failed request or a moved
//! address.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

fn member(ns: &str, name: &str, extra: &str, rules: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: {ns}
  annotations:
    alb.ingress.kubernetes.io/group.name: shared
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{\"HTTP\": 8080}}]'
{extra}spec:
  ingressClassName: alb
  rules:
{rules}"
    )
}

fn path_rule(host: &str, path: &str, service: &str) -> String {
    format!(
        "  - host: {host}
    http:
      paths:
      - path: {path}
        pathType: Prefix
        backend:
          service: {{name: {service}, port: {{number: 80}}}}
"
    )
}

#[test]
fn ingress_group_members_share_one_load_balancer_in_group_order() {
    let env = Env::new(90);
    for (ns, name, host) in [("team-a", "a", 1), ("team-b", "b", 2), ("team-b", "c", 3)] {
        env.write(
            &format!("svc-{name}.yaml"),
            &service(name, 9000, &[env.backend_ip(host)])
                .replace("namespace: demo", &format!("namespace: {ns}")),
        );
    }
    let _a = env.backend(1, 9000, "a");
    let _b = env.backend(2, 9000, "b");
    let _c = env.backend(3, 9000, "c");
    // b (order -1) comes first: its /special rule on shared.example.com wins over a's catch-all
    // there; c (order 5) comes last.
    env.write(
        "a.yaml",
        &member(
            "team-a",
            "a",
            "",
            &path_rule("shared.example.com", "/", "a"),
        ),
    );
    env.write(
        "b.yaml",
        &member(
            "team-b",
            "b",
            "    alb.ingress.kubernetes.io/group.order: '-1'\n",
            &path_rule("shared.example.com", "/special", "b"),
        ),
    );
    env.write(
        "c.yaml",
        &member(
            "team-b",
            "c",
            "    alb.ingress.kubernetes.io/group.order: '5'\n",
            &(path_rule("c.example.com", "/", "c")
                + &path_rule("shared.example.com", "/special", "c")),
        ),
    );
    let (code, plan) = env.pylon_command("plan", &[]);
    assert_eq!(code, 0, "{plan}");
    assert!(
        plan.contains(
            "IngressGroup members in order: Ingress team-b/b, Ingress team-a/a, Ingress team-b/c"
        ),
        "{plan}"
    );
    let _pylon = env.pylon();
    let lb = env.wait_for_address("team-a", "a");
    for (ns, name) in [("team-b", "b"), ("team-b", "c")] {
        assert_eq!(
            env.wait_for_address(ns, name),
            lb,
            "{ns}/{name} shares the address"
        );
    }
    let seen = |path: &str, host: &str| http_get(lb, path, Some(host)).unwrap().backend();
    assert_eq!(seen("/special/x", "shared.example.com"), "b");
    assert_eq!(seen("/other", "shared.example.com"), "a");
    assert_eq!(seen("/", "c.example.com"), "c");

    // Under load, c leaves the group: no request fails and the address stays.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < 20_000 {
                    let ok = http_get(lb, "/other", Some("shared.example.com"))
                        .is_ok_and(|r| r.status == 200 && r.backend() == "a");
                    sent.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(env.manifests().join("c.yaml")).unwrap();
    wait_until(
        Duration::from_secs(10),
        || http_get(lb, "/", Some("c.example.com")).is_ok_and(|r| r.status == 404),
        || "c's rules never left the load balancer".into(),
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(sent.load(Ordering::Relaxed) > 50, "too little load");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "of {} requests",
        sent.load(Ordering::Relaxed)
    );
    assert_eq!(env.wait_for_address("team-a", "a"), lb, "the address moved");
    assert_eq!(seen("/special/x", "shared.example.com"), "b");
}
