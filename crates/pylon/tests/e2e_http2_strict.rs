//! End to end over HTTP/2, in raw frames on a socket: connections that never complete a request
//! (a preface alone, HEADERS followed by slow CONTINUATION frames) close with GOAWAY after the
//! header read timeout, idle ones after the load balancer's idle timeout; a malformed request
//! resets its own stream and the connection goes on serving; the request-head checks of the
//! HTTP/1.1 paths hold over HTTP/2 too.

mod support;

use serde_json::Value;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::*;

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/load-balancer-attributes: idle_timeout.timeout_seconds=3
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
"#;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A raw HTTP/2 connection: frames written as given, frames read as they come.
struct H2 {
    socket: TcpStream,
    buffered: Vec<u8>,
    closed: bool,
    /// Why reading ended, when it did.
    ended: Option<String>,
}

impl H2 {
    /// Connects and sends the client preface with an empty SETTINGS frame.
    fn connect(lb: SocketAddr) -> Self {
        let socket = TcpStream::connect(lb).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut h2 = H2 {
            socket,
            buffered: Vec::new(),
            closed: false,
            ended: None,
        };
        h2.socket.write_all(PREFACE).unwrap();
        h2.send(SETTINGS, 0, 0, &[]);
        h2
    }

    fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) -> bool {
        let len = payload.len() as u32;
        let mut frame = len.to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags]);
        frame.extend(stream.to_be_bytes());
        frame.extend(payload);
        self.socket.write_all(&frame).is_ok()
    }

    /// A request's header block, complete.
    fn request(&mut self, stream: u32, fields: &[(&str, &str)], end_stream: bool) {
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        self.send(HEADERS, flags, stream, &block(fields));
    }

    /// The frames that arrive within `wait` (all of them up to the close, if it closes sooner).
    fn read_for(&mut self, wait: Duration) -> Vec<Frame> {
        let until = Instant::now() + wait;
        let mut frames = Vec::new();
        while !self.closed && Instant::now() < until {
            frames.extend(self.read_some());
        }
        frames
    }

    /// Reads what is there (up to 200 ms) and returns the whole frames read.
    fn read_some(&mut self) -> Vec<Frame> {
        let mut chunk = [0u8; 65536];
        match self.socket.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                self.ended = Some(format!(
                    "closed, {:?} left over",
                    String::from_utf8_lossy(&self.buffered)
                ));
            }
            Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                self.closed = true;
                self.ended = Some(e.to_string());
            }
        }
        let mut frames = Vec::new();
        while self.buffered.len() >= 9 {
            let len = u32::from_be_bytes([0, self.buffered[0], self.buffered[1], self.buffered[2]])
                as usize;
            if self.buffered.len() < 9 + len {
                break;
            }
            let head: Vec<u8> = self.buffered.drain(..9 + len).collect();
            frames.push(Frame {
                kind: head[3],
                flags: head[4],
                stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                payload: head[9..].to_vec(),
            });
        }
        frames
    }
}

/// An HPACK header block of literal fields, never indexed (names and values under 127 bytes).
fn block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.push(0x10);
        out.push(name.len() as u8);
        out.extend(name.as_bytes());
        out.push(value.len() as u8);
        out.extend(value.as_bytes());
    }
    out
}

fn get(path: &str) -> Vec<(&str, &str)> {
    vec![
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "web.example"),
        (":path", path),
    ]
}

fn serve(net: u8, extra: &[&str]) -> (Env, [Process; 2], SocketAddr) {
    let env = Env::new(net);
    env.write("ns.yaml", NAMESPACE);
    env.write("web.yaml", &service("web", 9000, &[env.backend_ip(1)]));
    env.write("ingress.yaml", INGRESS);
    let web = env.backend(1, 9000, "web");
    let pylon = env.pylon_with(extra);
    let lb = env.wait_for_address("demo", "web");
    assert_eq!(http_get(lb, "/", None).unwrap().status, 200);
    (env, [web, pylon], lb)
}

fn has(frames: &[Frame], kind: u8) -> bool {
    frames.iter().any(|f| f.kind == kind)
}

#[test]
fn quiet_http2_connections_close_with_goaway() {
    let (_env, _processes, lb) = serve(75, &["--header-read-timeout", "1"]);

    // A preface and nothing more: GOAWAY and the close after the header read timeout.
    let started = Instant::now();
    let mut h2 = H2::connect(lb);
    let frames = h2.read_for(Duration::from_secs(8));
    assert!(h2.closed, "a preface alone kept the connection open");
    assert!(has(&frames, GOAWAY), "closed without GOAWAY");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // HEADERS without END_HEADERS, then a CONTINUATION every 300 ms that never ends the block:
    // no request is ever complete, so the same timeout closes the connection.
    let mut h2 = H2::connect(lb);
    let started = Instant::now();
    h2.send(HEADERS, END_STREAM, 1, &block(&get("/slow")));
    let mut frames = Vec::new();
    let mut n = 0;
    while !h2.closed && started.elapsed() < Duration::from_secs(8) {
        n += 1;
        let name = format!("x-slow-{n}");
        if !h2.send(CONTINUATION, 0, 1, &block(&[(name.as_str(), "1")])) {
            break;
        }
        frames.extend(h2.read_for(Duration::from_millis(300)));
    }
    frames.extend(h2.read_for(Duration::from_secs(2)));
    assert!(
        h2.closed,
        "slow CONTINUATION frames kept the connection open"
    );
    assert!(has(&frames, GOAWAY), "closed without GOAWAY");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(
        !frames.iter().any(|f| f.kind == HEADERS && f.stream == 1),
        "the unfinished request was answered"
    );

    // One request answered, then nothing: open past the header read timeout, closed with
    // GOAWAY once the load balancer's idle timeout (3 s) is over.
    let mut h2 = H2::connect(lb);
    h2.request(1, &get("/once"), true);
    let frames = h2.read_for(Duration::from_secs(1));
    assert!(
        frames
            .iter()
            .any(|f| f.kind == DATA && f.stream == 1 && f.flags & END_STREAM != 0),
        "no answer"
    );
    let answered = Instant::now();
    let frames = h2.read_for(Duration::from_secs(10));
    assert!(h2.closed, "an idle connection stayed open");
    assert!(
        has(&frames, GOAWAY),
        "closed without GOAWAY: {:?}",
        h2.ended
    );
    assert!(
        answered.elapsed() >= Duration::from_secs(2),
        "closed after {:?}, before the idle timeout",
        answered.elapsed()
    );
}

#[test]
fn http2_requests_are_checked_stream_by_stream() {
    let (_env, _processes, lb) = serve(76, &[]);
    let mut h2 = H2::connect(lb);
    // A connection-specific field makes the request malformed (RFC 9113 §8.2.2): its stream is
    // reset, the connection stays.
    let mut malformed = get("/malformed");
    malformed.push(("connection", "keep-alive"));
    h2.request(1, &malformed, true);
    // Two Host fields beside :authority: 400, as over HTTP/1.1.
    let mut two_hosts = get("/two-hosts");
    two_hosts.extend([("host", "a.example"), ("host", "b.example")]);
    h2.request(3, &two_hosts, true);
    // A GET with DATA and no content-length: the body reaches the target.
    h2.request(5, &get("/get-body"), false);
    h2.send(DATA, END_STREAM, 5, b"hello");
    // Content-Length with leading zeros reaches the target normalised.
    let mut zeros = get("/zeros");
    zeros.extend([(":method", "POST"), ("content-length", "005")]);
    zeros.remove(0);
    h2.request(7, &zeros, false);
    h2.send(DATA, END_STREAM, 7, b"12345");
    // And the connection still serves.
    h2.request(9, &get("/after"), true);

    let mut frames = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    let done = |frames: &[Frame]| {
        [3, 5, 7, 9].iter().all(|&stream| {
            frames.iter().any(|f| {
                f.stream == stream && matches!(f.kind, DATA | HEADERS) && f.flags & END_STREAM != 0
            })
        })
    };
    while !done(&frames) && !h2.closed && Instant::now() < until {
        frames.extend(h2.read_some());
    }
    assert!(!has(&frames, GOAWAY), "the connection was closed");
    assert!(
        frames.iter().any(|f| f.kind == RST_STREAM && f.stream == 1),
        "the malformed stream was not reset"
    );
    // `:status` as HPACK's static table has it: 0x88 is 200, 0x8c is 400.
    let status = |stream: u32| {
        frames
            .iter()
            .find(|f| f.kind == HEADERS && f.stream == stream)
            .and_then(|f| f.payload.first().copied())
    };
    let summary: Vec<_> = frames
        .iter()
        .map(|f| (f.kind, f.flags, f.stream, f.payload.len()))
        .collect();
    assert_eq!(status(3), Some(0x8c), "two Host fields: {summary:?}");
    assert_eq!(status(5), Some(0x88), "{summary:?}");
    assert_eq!(status(7), Some(0x88), "{summary:?}");
    assert_eq!(status(9), Some(0x88), "{summary:?}");
    let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
    for f in frames.iter().filter(|f| f.kind == DATA) {
        bodies.entry(f.stream).or_default().extend(&f.payload);
    }
    let echoed = |stream: u32| -> Value {
        serde_json::from_slice(bodies.get(&stream).map(Vec::as_slice).unwrap_or(b"null")).unwrap()
    };
    assert_eq!(echoed(5)["bodyBytes"], 5, "{}", echoed(5));
    assert_eq!(echoed(7)["bodyBytes"], 5, "{}", echoed(7));
    assert_eq!(echoed(7)["headers"]["content-length"], "5", "{}", echoed(7));
    assert_eq!(echoed(9)["uri"], "/after", "{}", echoed(9));
}
