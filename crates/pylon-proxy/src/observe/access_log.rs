//! The access log: one JSON line per request, written when its response ends (or is abandoned),
//! with the load balancer, listener, rule, target group, target, status, latency and bytes.
//!
//! Lines go through a channel to a writer thread, so a slow sink never stalls a request.

use serde::Serialize;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where access log lines go.
#[derive(Clone)]
pub struct AccessLog(mpsc::Sender<Vec<u8>>);

impl AccessLog {
    /// Starts the writer thread for `sink`.
    pub fn new(mut sink: Box<dyn Write + Send>) -> Self {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name("pylon-access-log".into())
            .spawn(move || {
                while let Ok(line) = rx.recv() {
                    let more: Vec<Vec<u8>> = rx.try_iter().collect();
                    let written = std::iter::once(line)
                        .chain(more)
                        .try_for_each(|l| sink.write_all(&l))
                        .and_then(|()| sink.flush());
                    if let Err(e) = written {
                        tracing::warn!(error = %e, "access log write failed");
                    }
                }
            })
            .expect("spawn the access log thread");
        AccessLog(tx)
    }

    /// Queues one line (ending in a newline) for the writer.
    pub fn send(&self, line: Vec<u8>) {
        let _ = self.0.send(line);
    }
}

/// What is known about a request when its response headers are ready.
#[derive(Serialize)]
pub struct Entry {
    pub time: f64,
    pub client: SocketAddr,
    pub method: String,
    pub host: String,
    pub path: String,
    pub protocol: &'static str,
    pub load_balancer: String,
    pub listener: String,
    /// The matched rule's priority (0: the listener's default action).
    pub rule: u32,
    /// The object and field the rule came from.
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<SocketAddr>,
    pub status: u16,
    /// Until the last byte of the response body, in milliseconds.
    pub duration_ms: f64,
    /// Response body bytes sent.
    pub bytes: u64,
    #[serde(skip)]
    pub(super) started: Option<Instant>,
}

impl Entry {
    /// An entry for a request as it arrives; the rest is filled in when its response is ready.
    pub fn begin<B>(
        started: Instant,
        client: SocketAddr,
        request: &http::Request<B>,
        host: &str,
    ) -> Self {
        Entry {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            client,
            method: request.method().to_string(),
            host: host.to_string(),
            path: request.uri().path().to_string(),
            protocol: match request.version() {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            load_balancer: String::new(),
            listener: String::new(),
            rule: 0,
            origin: String::new(),
            target_group: None,
            target: None,
            status: 0,
            duration_ms: 0.0,
            bytes: 0,
            started: Some(started),
        }
    }
}
