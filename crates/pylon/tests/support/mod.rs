//! End-to-end test support: the real `pylon` binary and real backend processes on loopback.
//!
//! Each test owns one loopback /16, `127.<net>.0.0/16`, so tests can run in parallel: the admin
//! endpoint is `127.<net>.0.1:9901`, internet-facing load balancers come from `127.<net>.1.0/24`,
//! internal ones from `127.<net>.2.0/24`, and backends listen on `127.<net>.3.x`.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod certs;
pub mod kube_env;
pub mod lattice;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PYLON: &str = env!("CARGO_BIN_EXE_pylon");
pub const BACKEND: &str = env!("CARGO_BIN_EXE_pylon-demo-backend");
/// The Python peers: gRPC, WebSocket and AWS SDK clients and servers.
pub const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

/// Runs a Python program to its end; its standard output.
pub fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A process killed when dropped.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One test's world: its loopback network, manifest directory and state directory.
pub struct Env {
    pub net: u8,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(net: u8) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("manifests")).unwrap();
        Env { net, dir }
    }

    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn admin(&self) -> SocketAddr {
        format!("127.{}.0.1:9901", self.net).parse().unwrap()
    }

    /// Writes files of the shipped example (`examples/eks-seed`), its two demo backends moved
    /// onto this test's network (hosts 1 and 2).
    pub fn write_example(&self, names: &[&str]) {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/eks-seed");
        for name in names {
            let text = std::fs::read_to_string(format!("{example}/{name}")).unwrap();
            let text = text
                .replace("127.0.0.11", &self.backend_ip(1))
                .replace("127.0.0.12", &self.backend_ip(2));
            self.write(name, &text);
        }
    }

    /// Where this test's `pylon run` answers DNS.
    pub fn dns(&self) -> SocketAddr {
        format!("127.{}.0.53:5353", self.net).parse().unwrap()
    }

    pub fn backend_ip(&self, host: u8) -> String {
        format!("127.{}.3.{host}", self.net)
    }

    /// Writes (or replaces) a manifest file atomically, as `kubectl apply -f` users edit them.
    pub fn write(&self, name: &str, text: &str) {
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.manifests().join(name)).unwrap();
    }

    /// Starts a demo backend on `127.<net>.3.<host>:<port>` and waits until it answers.
    pub fn backend(&self, host: u8, port: u16, name: &str) -> Process {
        let addr = format!("{}:{port}", self.backend_ip(host));
        self.peer(name, BACKEND, &["--listen", &addr, "--name", name], &addr)
    }

    /// Starts `program` with `args` (a backend or other peer of the test) and waits until it
    /// accepts connections on `addr`.
    pub fn peer(&self, name: &str, program: &str, args: &[&str], addr: &str) -> Process {
        let addr: SocketAddr = addr.parse().unwrap();
        let log = self.dir.path().join(format!("peer-{name}.log"));
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({program}): {e}"));
        let mut process = Process { child, log };
        wait_until(
            Duration::from_secs(20),
            || {
                if let Ok(Some(status)) = process.child.try_wait() {
                    panic!("{name} exited ({status}): {}", process.log_text());
                }
                TcpStream::connect(addr).is_ok()
            },
            || format!("{name} never listened on {addr}"),
        );
        process
    }

    /// The `pylon` arguments shared by every subcommand that reads manifests.
    pub fn translate_args(&self) -> Vec<String> {
        vec![
            self.manifests().display().to_string(),
            "--internet-facing-pool".into(),
            format!("127.{}.1.0/24", self.net),
            "--internal-pool".into(),
            format!("127.{}.2.0/24", self.net),
            "--lattice-pool".into(),
            format!("127.{}.4.0/24", self.net),
            "--state-dir".into(),
            self.state().display().to_string(),
        ]
    }

    /// Starts `pylon run` and waits until its admin endpoint answers.
    pub fn pylon(&self) -> Process {
        self.pylon_with(&[])
    }

    /// Starts `pylon run` with `extra` arguments and waits until its admin endpoint answers.
    pub fn pylon_with(&self, extra: &[&str]) -> Process {
        let log = self
            .dir
            .path()
            .join(format!("pylon-{}.log", std::process::id()));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(PYLON)
            .arg("run")
            .args(self.translate_args())
            .args(["--admin", &self.admin().to_string()])
            .args(["--dns-listen", &self.dns().to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start pylon");
        let process = Process { child, log };
        wait_until(
            Duration::from_secs(10),
            || http_get(self.admin(), "/healthz", None).is_ok(),
            || {
                format!(
                    "pylon's admin endpoint never answered; log:\n{}",
                    process.log_text()
                )
            },
        );
        process
    }

    /// Runs a `pylon` subcommand to completion: (exit code, stdout).
    pub fn pylon_command(&self, command: &str, extra: &[&str]) -> (i32, String) {
        let output = Command::new(PYLON)
            .arg(command)
            .args(self.translate_args())
            .args(extra)
            .output()
            .expect("run pylon");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    pub fn status(&self) -> Value {
        let r = http_get(self.admin(), "/status", None).expect("GET /status");
        serde_json::from_str(&r.body).expect("status is JSON")
    }

    pub fn config(&self) -> Value {
        let r = http_get(self.admin(), "/config", None).expect("GET /config");
        serde_json::from_str(&r.body).expect("config is JSON")
    }

    /// The address and port an object's status advertises, once every listener port is bound.
    pub fn wait_for_address(&self, namespace: &str, name: &str) -> SocketAddr {
        let mut found = None;
        wait_until(
            Duration::from_secs(10),
            || {
                found = bound_address(&self.status(), namespace, name);
                found.is_some()
            },
            || {
                format!(
                    "Ingress {namespace}/{name} never got an address; status: {}",
                    self.status()
                )
            },
        );
        found.unwrap()
    }
}

impl Env {
    /// A Gateway's address with `port`, once the Gateway is programmed.
    pub fn wait_for_gateway(&self, namespace: &str, name: &str, port: u16) -> SocketAddr {
        let mut found = None;
        wait_until(
            Duration::from_secs(10),
            || {
                found = gateway_address(&self.status(), namespace, name);
                found.is_some()
            },
            || {
                format!(
                    "Gateway {namespace}/{name} was never programmed; status: {}",
                    self.status()
                )
            },
        );
        SocketAddr::new(found.unwrap(), port)
    }
}

/// The address of a programmed Gateway.
pub fn gateway_address(status: &Value, namespace: &str, name: &str) -> Option<std::net::IpAddr> {
    let object = status["objects"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == "Gateway" && o["namespace"] == namespace && o["name"] == name)?;
    let conditions = object["status"]["conditions"].as_array()?;
    if !conditions
        .iter()
        .any(|c| c["type"] == "Programmed" && c["status"] == "True")
    {
        return None;
    }
    object["status"]["addresses"].get(0)?["value"]
        .as_str()?
        .parse()
        .ok()
}

/// The first `ip:port` of an Ingress's status whose port has no error.
pub fn bound_address(status: &Value, namespace: &str, name: &str) -> Option<SocketAddr> {
    let object = status["objects"]
        .as_array()?
        .iter()
        .find(|o| o["namespace"] == namespace && o["name"] == name)?;
    let entry = object["status"]["loadBalancer"]["ingress"].get(0)?;
    let port = entry["ports"]
        .as_array()?
        .iter()
        .find(|p| p["error"].is_null())?;
    format!("{}:{}", entry["ip"].as_str()?, port["port"])
        .parse()
        .ok()
}

pub fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool, what: impl FnOnce() -> String) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out: {}", what());
}

/// An HTTP response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The demo backend's JSON answer.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Which demo backend answered.
    pub fn backend(&self) -> String {
        self.json()["backend"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// `GET path` with an optional Host header, on a fresh connection.
pub fn http_get(addr: SocketAddr, path: &str, host: Option<&str>) -> std::io::Result<Reply> {
    http_request(addr, "GET", path, host, &[])
}

pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: Option<&str>,
    headers: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        host.map_or(addr.to_string(), str::to_string)
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Length: 0\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "malformed response: {:?}",
            String::from_utf8_lossy(&raw)
        ))
    })
}

fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The seed-shaped backend manifests: Namespace `demo`, Service `name` (port 80 → targetPort
/// `port`), and an EndpointSlice with the given backend addresses.
pub fn service(name: &str, port: u16, addresses: &[String]) -> String {
    let endpoints: String = addresses
        .iter()
        .map(|a| format!("- addresses: [\"{a}\"]\n  conditions: {{ready: true}}\n"))
        .collect();
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: demo
spec:
  ports:
  - name: http
    port: 80
    targetPort: {port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: demo
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
- name: http
  port: {port}
endpoints:
{endpoints}"
    )
}

pub const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n";

/// Reads the manifests under `dir` for `pylon plan`-style checks.
pub fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir).unwrap()
}

/// A client connection kept open across requests (HTTP/1.1 keep-alive).
pub struct KeepAlive {
    stream: std::io::BufReader<TcpStream>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        KeepAlive {
            stream: std::io::BufReader::new(stream),
        }
    }

    /// `GET path` on this connection; the response must carry a Content-Length.
    pub fn get(&mut self, path: &str) -> std::io::Result<Reply> {
        use std::io::BufRead;
        write!(
            self.stream.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: keep-alive.test\r\n\r\n"
        )?;
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed"));
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .ok_or_else(|| std::io::Error::other(format!("no content-length in {head:?}")))?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        let mut raw = head.into_bytes();
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&body);
        parse_reply(&raw).ok_or_else(|| std::io::Error::other("malformed response"))
    }
}

/// The value of the Prometheus metric line that starts with `name` (labels included), if any.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Sends `raw` on a new connection and reads until the server closes it (or 10 s pass).
pub fn exchange(lb: SocketAddr, raw: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(lb).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}
