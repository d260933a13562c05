//! End to end for resilience under load: one of four targets crashes and comes back while
//! clients keep sending requests. No request may fail: a refused connection is retried on
//! another target (the request never reached the crashed one), an idempotent request whose
//! connection closed unanswered is sent again, the target is ejected meanwhile, and it gets
//! traffic again once it is back. A target that leaves its group drains: requests in flight get
//! its deregistration delay, then are cut.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: demo}
spec:
  gatewayClassName: pylon
  listeners: [{name: http, protocol: HTTP, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: demo}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"#;

/// How many requests a target has answered (its own request log).
fn served(env: &Env, host: u8) -> usize {
    let addr = format!("{}:9000", env.backend_ip(host)).parse().unwrap();
    http_get(addr, "/__requests", None)
        .map(|r| r.json().as_array().map_or(0, Vec::len))
        .unwrap_or(0)
}

#[test]
fn a_target_that_crashes_under_load_costs_no_request() {
    let env = Env::new(63);
    env.write("ns.yaml", NAMESPACE);
    env.write("gateway.yaml", GATEWAY);
    let ips: Vec<String> = (1..=4).map(|h| env.backend_ip(h)).collect();
    env.write("web.yaml", &service("web", 9000, &ips));
    let mut backends: Vec<Process> = (1..=4)
        .map(|h| env.backend(h, 9000, &format!("web-{h}")))
        .collect();
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("demo", "gw", 8080);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (stop, ok, failed, errors) =
                (stop.clone(), ok.clone(), failed.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut client = KeepAlive::connect(lb);
                while !stop.load(Ordering::Relaxed) {
                    match client.get("/") {
                        Ok(r) if r.status == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors
                                .lock()
                                .unwrap()
                                .push(format!("{:?}", other.map(|r| r.status)));
                            client = KeepAlive::connect(lb);
                        }
                    }
                }
            })
        })
        .collect();

    // The second target crashes (SIGKILL) under load, stays down for a while, and comes back.
    std::thread::sleep(Duration::from_millis(1000));
    let before = ok.load(Ordering::Relaxed);
    backends[1].child.kill().unwrap();
    backends[1].child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let during = ok.load(Ordering::Relaxed) - before;
    backends[1] = env.backend(2, 9000, "web-2");
    wait_until(
        Duration::from_secs(20),
        || served(&env, 2) > 10,
        || "the target that came back never got traffic again".into(),
    );
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(during > 100, "load kept flowing while the target was down");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "{} requests ok; failures: {:?}",
        ok.load(Ordering::Relaxed),
        errors.lock().unwrap()
    );
    for host in [1, 3, 4] {
        assert!(served(&env, host) > 10, "web-{host} kept serving");
    }
}

const DRAINING: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/target-group-attributes: deregistration_delay.timeout_seconds=1
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#;

#[test]
fn a_deregistered_target_gets_its_deregistration_delay_then_requests_to_it_are_cut() {
    let env = Env::new(67);
    env.write("ns.yaml", NAMESPACE);
    env.write("ingress.yaml", DRAINING);
    env.write("web.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    let _a = env.backend(1, 9000, "a");
    let _b = env.backend(2, 9000, "b");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "web");
    assert_eq!(http_get(lb, "/", None).unwrap().backend(), "a");

    // Two requests in flight to a: one finishes within the delay, one would outlast it.
    let quick = std::thread::spawn(move || http_get(lb, "/sleep/600", None).unwrap());
    let slow = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        (
            http_get(lb, "/sleep/8000", None).unwrap(),
            started.elapsed(),
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    env.write("web.yaml", &service("web", 9000, &[env.backend_ip(2)]));
    wait_until(
        Duration::from_secs(5),
        || http_get(lb, "/", None).is_ok_and(|r| r.backend() == "b"),
        || "traffic never moved to b".into(),
    );
    let quick = quick.join().unwrap();
    assert_eq!((quick.status, quick.backend()), (200, "a".to_string()));
    let (slow, took) = slow.join().unwrap();
    assert_eq!(
        slow.status, 502,
        "cut once the delay is over: {}",
        slow.body
    );
    assert!(
        took < Duration::from_secs(5),
        "cut after the 1 s delay, not after the target answered: {took:?}"
    );
}
