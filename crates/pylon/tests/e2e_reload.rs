//! End to end: edits are served without a restart and without losing requests, a broken file
//! does not take the rest down, addresses survive restarts, a listener that cannot bind is
//! reported while the others serve, shutdown finishes in-flight requests, and a whole configuration
//! of 1,000 routes swapped under load loses no request and rebinds no listener.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

fn ingress(name: &str, service: &str, port: u16) -> String {
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{"HTTP": {port}}}]'
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"#
    )
}

/// A test world with Service `web` (one backend, started) and an Ingress per `(name, port)`.
fn web_env(net: u8, ingresses: &[(&str, u16)]) -> (Env, Process) {
    let env = Env::new(net);
    env.write("ns.yaml", NAMESPACE);
    env.write("svc.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    for (name, port) in ingresses {
        env.write(&format!("{name}.yaml"), &ingress(name, "web", *port));
    }
    let web = env.backend(1, 9000, "web");
    (env, web)
}

#[test]
fn an_edit_is_served_within_a_second_and_requests_in_flight_finish() {
    let env = Env::new(31);
    env.write("ns.yaml", NAMESPACE);
    env.write("old.yaml", &service("old", 9000, &[env.backend_ip(1)]));
    env.write("new.yaml", &service("new", 9000, &[env.backend_ip(2)]));
    env.write("ingress.yaml", &ingress("web", "old", 8080));
    let _old = env.backend(1, 9000, "old");
    let _new = env.backend(2, 9000, "new");
    let _pylon = env.pylon();
    let lb = env.wait_for_address("demo", "web");
    assert_eq!(http_get(lb, "/", None).unwrap().backend(), "old");
    let mut kept_open = KeepAlive::connect(lb);
    assert_eq!(kept_open.get("/").unwrap().backend(), "old");

    // Load while the edit lands: every request must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http_get(lb, "/", None) {
                        Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let slow = std::thread::spawn(move || http_get(lb, "/sleep/1500", None).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let edited = Instant::now();
    env.write("ingress.yaml", &ingress("web", "new", 8080));
    wait_until(
        Duration::from_secs(3),
        || http_get(lb, "/", None).unwrap().backend() == "new",
        || "the edit was never served".into(),
    );
    let took = edited.elapsed();
    let slow = slow.join().unwrap();
    assert_eq!(
        (slow.status, slow.backend()),
        (200, "old".to_string()),
        "the in-flight request finished on the old config"
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed during the reload ({} ok)",
        ok.load(Ordering::Relaxed)
    );
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert!(
        took < Duration::from_millis(1500),
        "the edit took {took:?} to be served"
    );
    // The listener was not rebound: a connection opened before the edit is still open and
    // routes on the new configuration.
    assert_eq!(kept_open.get("/").unwrap().backend(), "new");
}

#[test]
fn a_broken_file_keeps_its_last_good_objects_and_the_rest_serves() {
    let (env, _web) = web_env(32, &[("a", 8080), ("b", 8081)]);
    let _pylon = env.pylon();
    let a = env.wait_for_address("demo", "a");
    let b = env.wait_for_address("demo", "b");
    env.write(
        "a.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: [broken\n",
    );
    env.write(
        "c.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: demo}\nspec: {portz: []}\n",
    );
    wait_until(
        Duration::from_secs(3),
        || {
            let s = env.status().to_string();
            s.contains("malformed YAML") && s.contains("spec.portz")
        },
        || format!("problems never reported: {}", env.status()),
    );
    assert_eq!(
        http_get(a, "/", None).unwrap().status,
        200,
        "a is served from its last good version"
    );
    assert_eq!(http_get(b, "/", None).unwrap().status, 200);
    let status = env.status().to_string();
    assert!(status.contains("last good version"), "{status}");
    // Fixed, a is served as now written (a port change moves its listener).
    env.write("a.yaml", &ingress("a", "web", 8082));
    wait_until(
        Duration::from_secs(3),
        || http_get(SocketAddr::new(a.ip(), 8082), "/", None).is_ok_and(|r| r.status == 200),
        || "the fixed file was never served".into(),
    );
    wait_until(
        Duration::from_secs(3),
        || http_get(a, "/", None).is_err(),
        || "the old listener was never closed".into(),
    );
}

#[test]
fn addresses_are_stable_across_restarts_and_other_objects() {
    let (env, _web) = web_env(33, &[("a", 8080)]);
    let mut pylon = env.pylon();
    let a = env.wait_for_address("demo", "a");
    pylon.terminate();
    env.write("b.yaml", &ingress("b", "web", 8080));
    let _pylon = env.pylon();
    assert_eq!(env.wait_for_address("demo", "a"), a);
    let b = env.wait_for_address("demo", "b");
    assert_ne!(a.ip(), b.ip(), "every load balancer has its own address");
    assert_eq!(http_get(a, "/", None).unwrap().status, 200);
    assert_eq!(http_get(b, "/", None).unwrap().status, 200);
    assert!(env.state().join("addresses.json").exists());
}

#[test]
fn a_listener_that_cannot_bind_is_reported_and_the_others_serve() {
    let (env, _web) = web_env(34, &[("x", 8080), ("y", 8080)]);
    let (_, plan) = env.pylon_command("plan", &["-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let x_ip = plan["ir"]["loadBalancers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lb| lb["origin"]["name"] == "x")
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let squatter = TcpListener::bind(format!("{x_ip}:8080")).unwrap();
    let _pylon = env.pylon();
    let y = env.wait_for_address("demo", "y");
    assert_eq!(http_get(y, "/", None).unwrap().status, 200);
    let status = env.status();
    let x = status["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "x")
        .unwrap();
    assert!(
        x["status"]["loadBalancer"]["ingress"].is_null(),
        "x has no address while nothing of it is bound: {x}"
    );
    assert!(
        x["problems"].to_string().contains("Address already in use"),
        "{x}"
    );
    // Once the port is free, the listener is bound without any edit.
    drop(squatter);
    let x = env.wait_for_address("demo", "x");
    assert_eq!(x.ip().to_string(), x_ip);
    assert_eq!(http_get(x, "/", None).unwrap().status, 200);
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let (env, _web) = web_env(35, &[("a", 8080)]);
    let mut pylon = env.pylon();
    let a = env.wait_for_address("demo", "a");
    let slow = std::thread::spawn(move || http_get(a, "/sleep/1000", None).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    pylon.terminate();
    assert_eq!(slow.join().unwrap().status, 200);
    assert!(
        http_get(a, "/", None).is_err(),
        "nothing listens after shutdown"
    );
}

/// A Gateway on port 8080 with `n` HTTPRoutes, route `i` serving `/r<i>` from Service `service`
/// and adding a header that names the generation of the configuration.
fn many_routes(n: usize, service: &str, generation: &str) -> String {
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1
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
",
    );
    for i in 0..n {
        text.push_str(&format!(
            "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r{i}, namespace: demo}}
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /r{i}}}}}]
    filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: x-generation, value: {generation}}}]}}}}]
    backendRefs: [{{name: {service}, port: 80}}]
"
        ));
    }
    text
}

#[test]
fn swapping_a_thousand_routes_under_load_loses_nothing_and_rebinds_nothing() {
    let env = Env::new(66);
    env.write("ns.yaml", NAMESPACE);
    env.write("old.yaml", &service("old", 9000, &[env.backend_ip(1)]));
    env.write("new.yaml", &service("new", 9000, &[env.backend_ip(2)]));
    env.write("routes.yaml", &many_routes(1000, "old", "one"));
    let _old = env.backend(1, 9000, "old");
    let _new = env.backend(2, 9000, "new");
    let pylon = env.pylon();
    let lb = env.wait_for_gateway("demo", "gw", 8080);
    wait_until(
        Duration::from_secs(10),
        || http_get(lb, "/r999", None).is_ok_and(|r| r.status == 200),
        || "the last route never answered".into(),
    );

    // Load on keep-alive connections across all routes while the whole configuration changes.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen_new = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..6)
        .map(|t| {
            let (stop, ok, failed, seen_new) =
                (stop.clone(), ok.clone(), failed.clone(), seen_new.clone());
            std::thread::spawn(move || {
                // A rebound listener would close these connections: they must last throughout.
                let mut client = KeepAlive::connect(lb);
                let mut i = t * 167;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % 1000;
                    match client.get(&format!("/r{i}")) {
                        Ok(r) if r.status == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let generation = r.json()["headers"]["x-generation"].clone();
                            if generation == "two" && r.backend() == "new" {
                                seen_new.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            client = KeepAlive::connect(lb);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    env.write("routes.yaml", &many_routes(1000, "new", "two"));
    wait_until(
        Duration::from_secs(10),
        || seen_new.load(Ordering::Relaxed) > 500,
        || "the new configuration was never served".into(),
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed and no kept-alive connection was closed ({} ok)",
        ok.load(Ordering::Relaxed)
    );
    // Every route answers from the new configuration.
    for i in [0, 499, 999] {
        let r = http_get(lb, &format!("/r{i}"), None).unwrap();
        assert_eq!(r.backend(), "new");
    }
    let log = pylon.log_text();
    assert_eq!(
        log.matches("listener bound").count(),
        1,
        "the listener was bound once: {log}"
    );
    assert!(!log.contains("listener removed"), "{log}");
}
