//! End to end: request heads read as strictly as nginx and HAProxy read them, on both server
//! paths — Pylon's own HTTP/1.1 path (requests without a body) and hyper's (requests with one).
//! Raw bytes on a socket; the target's own request log shows what reached it.

mod support;

use serde_json::Value;
use std::net::SocketAddr;
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
  - host: api.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: api, port: {number: 80}}}
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"#;

/// The request twice: bodiless (Pylon's own path) and with a one-byte body (hyper's path).
fn both_paths(head: &str) -> [String; 2] {
    [
        format!("{head}\r\n"),
        format!("{head}Content-Length: 1\r\n\r\nx"),
    ]
}

/// The JSON a demo backend answered with (the body after the head).
fn echoed(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let line = body.lines().find(|l| l.starts_with('{')).unwrap_or("null");
    serde_json::from_str(line).unwrap_or(Value::Null)
}

fn seen(addr: SocketAddr) -> Vec<String> {
    let reply = http_get(addr, "/__requests", None).unwrap();
    serde_json::from_str(&reply.body).unwrap()
}

/// Pylon on `net` serving [`INGRESS`] to two demo backends, `web` and `api`: the environment,
/// the running processes (Pylon last), and the load balancer's address.
fn serve(net: u8) -> (Env, [Process; 3], SocketAddr) {
    let env = Env::new(net);
    env.write("ns.yaml", NAMESPACE);
    env.write("web.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    env.write("api.yaml", &service("api", 9000, &[env.backend_ip(2)]));
    env.write("ingress.yaml", INGRESS);
    let web = env.backend(1, 9000, "web");
    let api = env.backend(2, 9000, "api");
    let pylon = env.pylon();
    let lb = env.wait_for_address("demo", "web");
    assert_eq!(http_get(lb, "/", None).unwrap().status, 200);
    (env, [web, api, pylon], lb)
}

#[test]
fn request_heads_are_checked_on_both_server_paths() {
    let (env, _processes, lb) = serve(72);
    let web_addr: SocketAddr = format!("{}:9000", env.backend_ip(1)).parse().unwrap();
    let api_addr: SocketAddr = format!("{}:9000", env.backend_ip(2)).parse().unwrap();

    for (i, raw) in both_paths("GET /two-hosts HTTP/1.1\r\nHost: web\r\nHost: api.example\r\n")
        .iter()
        .enumerate()
    {
        let answer = exchange(lb, raw.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 400"), "path {i}: {answer}");
        assert!(answer.contains("more than one Host"), "path {i}: {answer}");
    }
    for (i, raw) in both_paths("GET /no-host HTTP/1.1\r\n").iter().enumerate() {
        let answer = exchange(lb, raw.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 400"), "path {i}: {answer}");
    }
    // HTTP/1.0 needs no Host.
    let answer = exchange(lb, b"GET /old HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Absolute form: routed on its authority (api), forwarded in origin form with that Host.
    for (i, raw) in both_paths(
        "GET http://api.example/absolute?q=1 HTTP/1.1\r\nHost: web\r\nConnection: close\r\n",
    )
    .iter()
    .enumerate()
    {
        let answer = exchange(lb, raw.as_bytes());
        let json = echoed(&answer);
        assert_eq!(json["backend"], "api", "path {i}: {answer}");
        assert_eq!(json["uri"], "/absolute?q=1", "path {i}: {answer}");
        assert_eq!(json["headers"]["host"], "api.example", "path {i}: {answer}");
    }

    // `Connection: Host` does not take the Host away from the target.
    for (i, raw) in
        both_paths("GET /keep-host HTTP/1.1\r\nHost: api.example\r\nConnection: Host, close\r\n")
            .iter()
            .enumerate()
    {
        let json = echoed(&exchange(lb, raw.as_bytes()));
        assert_eq!(json["backend"], "api", "path {i}: {json}");
        assert_eq!(json["headers"]["host"], "api.example", "path {i}: {json}");
    }

    // `Upgrade: h2c` is never forwarded: the request is served as HTTP/1.1 without it, and the
    // next request on the connection is routed like any other (no tunnel past the rules).
    for (i, raw) in both_paths(
        "GET /h2c HTTP/1.1\r\nHost: web\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    )
    .iter()
    .enumerate()
    {
        let raw = format!("{raw}GET /after-h2c HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n");
        let answer = exchange(lb, raw.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 200"), "path {i}: {answer}");
        assert!(!answer.contains("101 Switching"), "path {i}: {answer}");
        let json = echoed(&answer);
        assert_eq!(json["backend"], "web", "path {i}: {answer}");
        assert!(json["headers"].get("upgrade").is_none(), "path {i}: {json}");
        assert!(json["headers"].get("http2-settings").is_none(), "path {i}: {json}");
        let second = answer.split("HTTP/1.1 200").nth(2).unwrap_or_default();
        assert!(second.contains("\"backend\":\"api\""), "path {i}: the second request was not routed: {answer}");
    }
    // Also when the client does not name the fields in `Connection`.
    let answer = exchange(
        lb,
        b"GET /h2c-bare HTTP/1.1\r\nHost: web\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: close\r\n\r\n",
    );
    let json = echoed(&answer);
    assert!(json["headers"].get("upgrade").is_none(), "{json}");
    assert!(json["headers"].get("http2-settings").is_none(), "{json}");

    // Content-Length with leading zeros is normalised; one beyond 2^63-1 is refused.
    let answer = exchange(
        lb,
        b"POST /zeros HTTP/1.1\r\nHost: web\r\nContent-Length: 005\r\nConnection: close\r\n\r\nhello",
    );
    let json = echoed(&answer);
    assert_eq!(json["bodyBytes"], 5, "{answer}");
    assert_eq!(json["headers"]["content-length"], "5", "{answer}");
    let answer = exchange(
        lb,
        b"POST /huge HTTP/1.1\r\nHost: web\r\nContent-Length: 9223372036854775808\r\n\r\nhello",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // No refused request reached a target.
    let all: Vec<String> = seen(web_addr).into_iter().chain(seen(api_addr)).collect();
    for refused in ["/two-hosts", "/no-host", "/huge"] {
        assert!(
            !all.iter().any(|r| r.contains(refused)),
            "{refused} reached a target: {all:?}"
        );
    }
}

#[test]
fn bodies_of_unknown_length_reach_the_target_and_malformed_ones_are_refused() {
    let (_env, processes, lb) = serve(73);

    // A GET with a chunked body keeps its body.
    let answer = exchange(
        lb,
        b"GET /chunked HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(echoed(&answer)["bodyBytes"], 5, "{answer}");

    // Malformed chunk framing is the client's fault: 400, and the connection closed.
    for raw in [
        &b"POST /bad-size HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"[..],
        b"POST /overflow HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        b"POST /bare-lf HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    ] {
        let answer = exchange(lb, raw);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{}: {answer}",
            String::from_utf8_lossy(raw)
        );
    }
    // The client's fault is not reported as the target's.
    let log = processes[2].log_text();
    assert!(!log.contains("target failed"), "{log}");
}
