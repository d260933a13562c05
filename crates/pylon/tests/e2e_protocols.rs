//! End to end for the protocols a listener speaks besides HTTP/1.1: HTTP/2 from clients
//! (prior-knowledge h2c on plaintext listeners, ALPN `h2` on TLS ones, checked with curl), gRPC
//! through a GRPCRoute to a real gRPC server over h2c (unary, server streaming, bidirectional
//! streaming, trailers and error statuses, checked with a real gRPC client), and WebSocket
//! upgrades tunnelled to a real WebSocket server.
//! The gRPC and WebSocket peers are Python programs (grpcio, websockets) in `tests/peers`.

mod support;

use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use support::certs::{issue, secret};
use support::*;

const GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: pylon
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
  - {name: grpc, protocol: HTTP, port: 8081}
  - name: https
    protocol: HTTPS
    port: 8443
    hostname: a.example.com
    tls: {certificateRefs: [{name: a}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}, {name: gw, sectionName: https}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /ws}}]
    backendRefs: [{name: ws, port: 80}]
  - backendRefs: [{name: v1, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: grpc}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{method: {service: pylon.test.Echo}}]
    backendRefs: [{name: grpc, port: 80}]
"#;

fn in_infra(text: String) -> String {
    text.replace("namespace: demo", "namespace: infra")
}

/// `curl` with `args`, returning the HTTP version it spoke, the status and the body.
fn curl(args: &[&str]) -> (String, u16, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", ""));
    let (version, code) = tail.split_once(' ').unwrap_or(("", "0"));
    (
        version.to_string(),
        code.parse().unwrap_or(0),
        body.to_string(),
    )
}

#[test]
fn http2_grpc_and_websocket_pass_through() {
    let env = Env::new(61);
    let dir = env.dir.path();
    issue(dir, "ca", "a", &["a.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("gateway.yaml", GATEWAY);
    env.write("a.yaml", &secret("a", &read("a.crt"), &read("a.key")));
    env.write(
        "v1.yaml",
        &in_infra(service("v1", 9000, &[env.backend_ip(1)])),
    );
    env.write(
        "grpc.yaml",
        &in_infra(service("grpc", 9100, &[env.backend_ip(2)])),
    );
    env.write(
        "ws.yaml",
        &in_infra(service("ws", 9200, &[env.backend_ip(3)])),
    );
    let _v1 = env.backend(1, 9000, "v1");
    let grpc_addr = format!("{}:9100", env.backend_ip(2));
    let grpc_echo = format!("{PEERS}/grpc_echo.py");
    let _grpc = env.peer(
        "grpc",
        "python3",
        &[&grpc_echo, "serve", &grpc_addr, "grpc-1"],
        &grpc_addr,
    );
    let ws_addr = format!("{}:9200", env.backend_ip(3));
    let ws_echo = format!("{PEERS}/ws_echo.py");
    let _ws = env.peer(
        "ws",
        "python3",
        &[&ws_echo, "serve", &ws_addr, "ws-1"],
        &ws_addr,
    );
    let _pylon = env.pylon();
    let ip = env.wait_for_gateway("infra", "gw", 8443).ip();
    let http = SocketAddr::new(ip, 8080);
    let grpc = SocketAddr::new(ip, 8081);
    let https = SocketAddr::new(ip, 8443);

    // HTTP/2 with prior knowledge on the plaintext listener; HTTP/1.1 still works beside it.
    let url = format!("http://{http}/hello");
    let (version, code, body) = curl(&["--http2-prior-knowledge", &url]);
    assert_eq!((version.as_str(), code), ("2", 200), "{body}");
    let reply: Value = serde_json::from_str(&body).expect("demo backend JSON");
    assert_eq!(reply["backend"], "v1", "{reply}");
    assert_eq!(reply["uri"], "/hello", "{reply}");
    // The target gets the client's host as `Host`, not its own address.
    assert_eq!(reply["headers"]["host"], format!("{http}"), "{reply}");
    let (version, code, _) = curl(&["--http1.1", &url]);
    assert_eq!((version.as_str(), code), ("1.1", 200));

    // HTTP/2 negotiated with ALPN on the TLS listener.
    let ca = dir.join("ca.crt").display().to_string();
    let resolve = format!("a.example.com:8443:{}", https.ip());
    let (version, code, body) = curl(&[
        "--http2",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "https://a.example.com:8443/tls",
    ]);
    assert_eq!((version.as_str(), code), ("2", 200), "{body}");

    // gRPC end to end: a GRPCRoute matched by host and service, h2c to the target, streams both
    // ways, the target's trailers and error statuses passed back.
    let out = python(&[&grpc_echo, "call", &grpc.to_string(), "grpc.example.com"]);
    let calls: Value = serde_json::from_str(out.trim()).expect("client JSON");
    assert_eq!(calls["unary"]["answer"], "grpc-1:hello", "{calls}");
    assert_eq!(calls["unary"]["served_by"], "grpc-1", "{calls}");
    assert_eq!(
        calls["streaming"],
        serde_json::json!(["0", "1", "2", "3", "4"]),
        "{calls}"
    );
    assert_eq!(
        calls["bidirectional"],
        serde_json::json!(["a", "b", "c"]),
        "{calls}"
    );
    assert_eq!(calls["error"]["code"], "NOT_FOUND", "{calls}");
    assert_eq!(calls["error"]["details"], "no such thing", "{calls}");
    // No rule for this service: Pylon's own 404 reaches the client as a gRPC status.
    assert_eq!(calls["unknown_method"]["code"], "UNIMPLEMENTED", "{calls}");

    // WebSocket: the upgrade reaches the target and the connection becomes a tunnel.
    let out = python(&[&ws_echo, "call", &format!("ws://{http}/ws/chat")]);
    let ws: Value = serde_json::from_str(out.trim()).expect("client JSON");
    assert_eq!(
        ws["echoed"],
        serde_json::json!(["ws-1:one", "ws-1:two", "ws-1:three"]),
        "{ws}"
    );
    assert_eq!(ws["path"], "/ws/chat", "{ws}");
}

#[test]
fn grpc_errors_made_by_pylon_are_grpc_statuses() {
    let env = Env::new(62);
    env.write("gateway.yaml", GATEWAY);
    // The echo Service exists but nothing listens on its endpoint: connections are refused.
    env.write(
        "grpc.yaml",
        &in_infra(service("grpc", 9100, &[env.backend_ip(2)])),
    );
    let _pylon = env.pylon();
    let grpc = env.wait_for_gateway("infra", "gw", 8081);
    let grpc_echo = format!("{PEERS}/grpc_echo.py");
    let out = python(&[&grpc_echo, "call", &grpc.to_string(), "grpc.example.com"]);
    let calls: Value = serde_json::from_str(out.trim()).expect("client JSON");
    assert_eq!(calls["unary"]["code"], "UNAVAILABLE", "{calls}");
    assert_eq!(calls["unknown_method"]["code"], "UNIMPLEMENTED", "{calls}");
}

const H2C_GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: pylon
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: h2c, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  hostnames: [h2c.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /renamed}}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: inner.example.com}
    backendRefs: [{name: h2, port: 80}]
  - backendRefs: [{name: h2, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.example.com]
  rules:
  - backendRefs: [{name: grpc, port: 80}]
"#;

/// A Service whose port speaks h2c (`appProtocol: kubernetes.io/h2c`).
fn h2c_service(name: &str, port: u16, address: String) -> String {
    in_infra(service(name, port, &[address])).replacen(
        "  - name: http\n",
        "  - name: http\n    appProtocol: kubernetes.io/h2c\n",
        1,
    )
}

#[test]
fn http2_targets_get_the_clients_authority_and_may_send_large_heads() {
    let env = Env::new(74);
    env.write("gateway.yaml", H2C_GATEWAY);
    env.write("h2.yaml", &h2c_service("h2", 9000, env.backend_ip(1)));
    env.write(
        "grpc.yaml",
        &in_infra(service("grpc", 9100, &[env.backend_ip(2)])),
    );
    let _h2 = env.backend(1, 9000, "h2");
    let grpc_addr = format!("{}:9100", env.backend_ip(2));
    let grpc_echo = format!("{PEERS}/grpc_echo.py");
    let _grpc = env.peer(
        "grpc",
        "python3",
        &[&grpc_echo, "serve", &grpc_addr, "grpc-1"],
        &grpc_addr,
    );
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("infra", "gw", 8080);
    let resolve = format!("h2c.example.com:8080:{}", lb.ip());

    // The target speaks HTTP/2 and sees the client's host as `:authority` (RFC 9113 §8.3.1),
    // from an HTTP/1.1 client and from an HTTP/2 one alike, with no `host` field beside it.
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let (_, code, body) = curl(&[
            version,
            "--resolve",
            &resolve,
            "http://h2c.example.com:8080/a",
        ]);
        assert_eq!(code, 200, "{version}: {body}");
        let reply: Value = serde_json::from_str(&body).expect("demo backend JSON");
        assert_eq!(reply["version"], "HTTP/2.0", "{version}: {reply}");
        assert_eq!(
            reply["authority"], "h2c.example.com:8080",
            "{version}: {reply}"
        );
        assert!(reply["headers"].get("host").is_none(), "{version}: {reply}");
    }
    // A URLRewrite hostname is the authority the target sees.
    let (_, code, body) = curl(&["--resolve", &resolve, "http://h2c.example.com:8080/renamed"]);
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("demo backend JSON");
    assert_eq!(reply["authority"], "inner.example.com", "{reply}");

    // A 40 000-byte response header from an HTTP/2 target reaches the client (hyper's client
    // default would have refused anything past 16 KiB with a 502).
    let out = Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--max-time",
            "5",
            "--resolve",
            &resolve,
        ])
        .arg("http://h2c.example.com:8080/header/40000")
        .output()
        .expect("curl runs");
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200"), "{head:.200}");
    let big = head
        .lines()
        .find_map(|l| l.strip_prefix("x-big: "))
        .expect("x-big passed on");
    assert_eq!(big.trim_end().len(), 40000);

    // gRPC: 20 000-byte initial and trailing metadata pass; a target that dies in the middle of
    // a stream ends the call UNAVAILABLE (what the client sees without Pylon), not INTERNAL.
    let grpc = SocketAddr::new(lb.ip(), 8080);
    let out = python(&[&grpc_echo, "edges", &grpc.to_string(), "grpc.example.com"]);
    let calls: Value = serde_json::from_str(out.trim()).expect("client JSON");
    assert_eq!(calls["big"]["answer"], "large", "{calls}");
    assert_eq!(calls["big"]["header"], 20000, "{calls}");
    assert_eq!(calls["big"]["trailer"], 20000, "{calls}");
    assert_eq!(
        calls["die"]["received"],
        serde_json::json!(["one", "two"]),
        "{calls}"
    );
    assert_eq!(calls["die"]["code"], "UNAVAILABLE", "{calls}");
}

const ALB_GATEWAY: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: gateway.k8s.aws/v1
kind: TargetGroupConfiguration
metadata: {name: app, namespace: infra}
spec:
  targetReference: {name: app}
  defaultConfiguration: {targetType: ip}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: alb
  listeners:
  - {name: http, protocol: HTTP, port: 8080}
  - name: https
    protocol: HTTPS
    port: 8443
    tls: {certificateRefs: [{name: a}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /web}}]
    backendRefs: [{name: app, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{method: {service: pylon.test.Echo}}]
    backendRefs: [{name: app, port: 80}]
"#;

/// An ALB Gateway's HTTPRoute and GRPCRoute on one Service get a target group each: behind the
/// HTTPS listener the gRPC call reaches the pod over HTTP/2 and the web request over HTTP/1.1;
/// behind the HTTP listener both reach it over HTTP/1.1, as an ALB sends them.
#[test]
fn alb_gateway_grpc_route_reaches_the_pod_over_http2() {
    let env = Env::new(87);
    let dir = env.dir.path();
    issue(dir, "ca", "a", &["a.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("gateway.yaml", ALB_GATEWAY);
    env.write("a.yaml", &secret("a", &read("a.crt"), &read("a.key")));
    env.write(
        "app.yaml",
        &in_infra(service("app", 9000, &[env.backend_ip(1)])),
    );
    let _app = env.backend(1, 9000, "app");
    let _pylon = env.pylon();
    let lb = env.wait_for_gateway("infra", "gw", 8443);
    let ca = dir.join("ca.crt").display().to_string();
    let resolve = format!("a.example.com:8443:{}", lb.ip());
    let grpc_call = |url: &str| {
        curl(&[
            "--http2",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            "-X",
            "POST",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "--data-binary",
            "",
            url,
        ])
    };
    let seen = |(_, code, body): (String, u16, String)| {
        assert_eq!(code, 200, "{body}");
        let reply: Value = serde_json::from_str(&body).expect("demo backend JSON");
        reply["version"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(
        seen(grpc_call("https://a.example.com:8443/pylon.test.Echo/Say")),
        "HTTP/2.0"
    );
    let web = curl(&[
        "--http2",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "https://a.example.com:8443/web",
    ]);
    assert_eq!(seen(web), "HTTP/1.1");
    // Behind the HTTP listener the GRPCRoute's group is HTTP1, as an ALB speaks to targets there.
    let plain = format!("http://{}:8080/pylon.test.Echo/Say", lb.ip());
    let out = curl(&[
        "--http2-prior-knowledge",
        "-X",
        "POST",
        "-H",
        "content-type: application/grpc",
        "--data-binary",
        "",
        &plain,
    ]);
    assert_eq!(seen(out), "HTTP/1.1");
}
