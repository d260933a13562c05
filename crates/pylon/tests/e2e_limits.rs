//! End to end for what a listener does with clients that misbehave: headers too large (431),
//! malformed requests (400), and a client that sends its headers too slowly (slowloris: 408 and
//! the close after `--header-read-timeout`, on Pylon's own HTTP/1.1 path and on hyper's — TLS,
//! and connections handed over after a request with a body), with every such connection released
//! afterwards.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::certs::{issue, secret};
use support::*;

fn active_connections(env: &Env) -> f64 {
    let text = http_get(env.admin(), "/metrics", None).unwrap().body;
    metric(&text, "pylon_active_connections ").expect("pylon_active_connections")
}

#[test]
fn oversized_malformed_and_slow_requests_are_refused_and_released() {
    let env = Env::new(65);
    env.write("ns.yaml", NAMESPACE);
    env.write("web.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    env.write(
        "ingress.yaml",
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: demo, annotations: {alb.ingress.kubernetes.io/target-type: ip}}
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#,
    );
    let _web = env.backend(1, 9000, "web");
    let _pylon = env.pylon_with(&["--header-read-timeout", "1"]);
    let lb = env.wait_for_address("demo", "web");
    assert_eq!(http_get(lb, "/", None).unwrap().status, 200);

    // Headers over 64 KiB: 431, and the connection is closed.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: web\r\nX-Big: {}\r\n\r\n",
        "a".repeat(80 * 1024)
    );
    let answer = exchange(lb, big.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );

    // Not HTTP: 400.
    let answer = exchange(lb, b"NOT HTTP AT ALL\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // A client that never finishes its headers is cut off after the header read timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(lb).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: web\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "closed after {took:?}: {}",
        String::from_utf8_lossy(&buf)
    );
    // As an ALB: 408 before the close.
    assert!(
        buf.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&buf)
    );

    // A client that goes away while its request waits for the target is let go at once, not when
    // the target answers (in 10 s).
    let mut gone = TcpStream::connect(lb).unwrap();
    gone.write_all(b"GET /sleep/10000 HTTP/1.1\r\nHost: web\r\n\r\n")
        .unwrap();
    wait_until(
        Duration::from_secs(5),
        || active_connections(&env) == 1.0,
        || format!("{} connections open, not 1", active_connections(&env)),
    );
    drop(gone);
    let dropped = Instant::now();

    // Every refused connection is released; the listener keeps serving.
    wait_until(
        Duration::from_secs(5),
        || active_connections(&env) == 0.0,
        || format!("{} connections still open", active_connections(&env)),
    );
    assert!(
        dropped.elapsed() < Duration::from_secs(5),
        "released only after {:?}",
        dropped.elapsed()
    );
    assert_eq!(http_get(lb, "/", None).unwrap().status, 200);
}

const TLS_INGRESS: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: infra}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: infra
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 8080}, {"HTTPS": 8443}]'
    alb.ingress.kubernetes.io/load-balancer-attributes: idle_timeout.timeout_seconds=3
spec:
  ingressClassName: alb
  tls:
  - hosts: [web.example.com]
    secretName: web
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#;

#[test]
fn slow_request_heads_get_408_on_hypers_paths_too() {
    let env = Env::new(77);
    let dir = env.dir.path();
    issue(dir, "ca", "web", &["web.example.com"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    env.write("ingress.yaml", TLS_INGRESS);
    env.write(
        "web.yaml",
        &service("web", 9000, &[env.backend_ip(1)]).replace("namespace: demo", "namespace: infra"),
    );
    env.write(
        "tls.yaml",
        &secret("web", &read("web.crt"), &read("web.key")),
    );
    let _web = env.backend(1, 9000, "web");
    let _pylon = env.pylon_with(&["--header-read-timeout", "1"]);
    let lb = env.wait_for_address("infra", "web");
    let http = SocketAddr::new(lb.ip(), 8080);
    let https = SocketAddr::new(lb.ip(), 8443);
    assert_eq!(http_get(http, "/", None).unwrap().status, 200);

    // TLS (hyper's server): a head begun and never finished gets 408 before the close.
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-quiet", "-alpn", "http/1.1"])
        .args([
            "-servername",
            "web.example.com",
            "-connect",
            &https.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let mut stdin = s_client.stdin.take().unwrap();
    stdin
        .write_all(b"GET / HTTP/1.1\r\nHost: web.example.com\r\n")
        .unwrap();
    let started = Instant::now();
    // openssl ends when the server closes; its input stays open until then.
    let waited = std::thread::spawn(move || s_client.wait_with_output().unwrap().stdout);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !waited.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = waited.join().unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out)
    );

    // A connection that a request with a body moved to hyper's server: after the answer, a head
    // begun and never finished gets 408 when the load balancer's idle timeout (3 s) is over.
    let mut moved = TcpStream::connect(http).unwrap();
    moved
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    moved
        .write_all(b"POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 1\r\n\r\nx")
        .unwrap();
    let mut first = [0u8; 12];
    moved.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let started = Instant::now();
    moved.write_all(b"GET / HTTP/1.1\r\nHost: web\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = moved.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    let took = started.elapsed();
    assert!(
        text.contains("HTTP/1.1 408 Request Timeout\r\n"),
        "after {took:?}: {text}"
    );
    assert!(took >= Duration::from_secs(2), "closed after {took:?}");
}
