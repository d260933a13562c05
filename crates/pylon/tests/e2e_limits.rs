//! End to end for what a listener does with clients that misbehave: headers too large (431),
//! malformed requests (400), and a client that sends its headers too slowly (slowloris: closed
//! after `--header-read-timeout`), with every such connection released afterwards.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
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
