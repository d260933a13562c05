//! End to end for what Pylon tells about the traffic it serves: a JSON access log line per
//! request (`--access-log`), Prometheus metrics on the admin endpoint (`/metrics`: requests and
//! latency per listener, open connections, target health, configuration generation, workers),
//! and the number of proxy threads (`--workers`).

mod support;

use serde_json::Value;
use std::time::Duration;
use support::*;

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
spec:
  ingressClassName: alb
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"#;

#[test]
fn access_log_metrics_and_workers() {
    let env = Env::new(64);
    env.write("ns.yaml", NAMESPACE);
    env.write(
        "web.yaml",
        &service("web", 9000, &[env.backend_ip(1), env.backend_ip(2)]),
    );
    env.write("ingress.yaml", INGRESS);
    let _a = env.backend(1, 9000, "a");
    let _b = env.backend(2, 9000, "b");
    let log = env.dir.path().join("access.log");
    let _pylon = env.pylon_with(&["--workers", "2", "--access-log", &log.display().to_string()]);
    let lb = env.wait_for_address("demo", "web");
    for _ in 0..10 {
        assert_eq!(
            http_get(lb, "/app", Some("web.example.com"))
                .unwrap()
                .status,
            200
        );
    }
    assert_eq!(
        http_get(lb, "/status/503", Some("web.example.com"))
            .unwrap()
            .status,
        503
    );
    assert_eq!(
        http_get(lb, "/", Some("other.example.com")).unwrap().status,
        404
    );

    // One JSON line per request, written when the response ends.
    let lines = std::cell::RefCell::new(Vec::new());
    wait_until(
        Duration::from_secs(5),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            *lines.borrow_mut() = text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
                .collect();
            lines.borrow().len() >= 12
        },
        || format!("access log: {:?}", lines.borrow()),
    );
    let lines = lines.into_inner();
    assert_eq!(lines.len(), 12, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/app");
    assert_eq!(first["host"], "web.example.com");
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["rule"], 1);
    assert_eq!(
        first["listener"],
        format!("{}/listener/80", first["load_balancer"].as_str().unwrap())
    );
    assert!(
        first["origin"]
            .as_str()
            .unwrap()
            .starts_with("Ingress demo/web"),
        "{first}"
    );
    assert!(
        first["target_group"].as_str().unwrap().contains("web"),
        "{first}"
    );
    assert!(first["bytes"].as_u64().unwrap() > 0, "{first}");
    assert!(first["duration_ms"].as_f64().unwrap() >= 0.0);
    let targets: std::collections::BTreeSet<String> = lines[..10]
        .iter()
        .map(|l| l["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(targets.len(), 2, "both targets named: {targets:?}");
    assert_eq!(lines[10]["status"], 503);
    assert_eq!(lines[11]["status"], 404);
    assert_eq!(lines[11]["rule"], 0, "the default action");
    assert!(lines[11].get("target").is_none());

    // Prometheus metrics on the admin endpoint.
    let text = http_get(env.admin(), "/metrics", None).unwrap().body;
    let listener = first["listener"].as_str().unwrap();
    let requests = |class: &str| {
        metric(
            &text,
            &format!("pylon_requests_total{{listener=\"{listener}\",code=\"{class}\"}}"),
        )
    };
    assert_eq!(requests("2xx"), Some(10.0), "{text}");
    assert_eq!(requests("4xx"), Some(1.0), "{text}");
    assert_eq!(requests("5xx"), Some(1.0), "{text}");
    assert_eq!(
        metric(
            &text,
            &format!("pylon_request_duration_seconds_count{{listener=\"{listener}\"}}")
        ),
        Some(12.0),
        "{text}"
    );
    assert_eq!(metric(&text, "pylon_workers"), Some(2.0), "{text}");
    assert!(
        metric(&text, "pylon_config_generation").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "pylon_active_connections").is_some(),
        "{text}"
    );
    let healthy = text
        .lines()
        .filter(|l| l.starts_with("pylon_target_healthy{") && l.ends_with(" 1"))
        .count();
    assert_eq!(healthy, 2, "{text}");
}
