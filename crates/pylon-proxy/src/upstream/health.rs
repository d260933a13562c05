//! Target health: active HTTP checks with a target group's settings, and the state they keep.
//!
//! Health is keyed by (target group, target) and survives configuration swaps, so a reload does
//! not reset what the checks learned. A new target starts `initial` and receives traffic; it turns
//! `healthy` on its first passing check and `unhealthy` after `unhealthy_threshold` failures in a
//! row; an unhealthy target comes back after `healthy_threshold` passes in a row.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use pylon_ir::{HealthCheck, HealthCheckPort, ProtocolVersion};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Initial,
    Healthy,
    Unhealthy,
    /// Health checks are off for its group: it stays in rotation unchecked.
    Unavailable,
    /// It left its group: no new requests; those in flight get the deregistration delay.
    Draining,
}

/// How long a target that refused a connection stays out of rotation, unless a health check
/// passes first.
const EJECTION: Duration = Duration::from_secs(10);

/// What the checks know about one target.
#[derive(Debug)]
pub struct TargetHealth {
    routable: AtomicBool,
    /// When requests still in flight to this target are cut: set once it leaves its group.
    drain_deadline: watch::Sender<Option<tokio::time::Instant>>,
    /// Passive ejection: milliseconds since [`epoch`] until which the target gets no traffic; 0
    /// when it is not ejected.
    ejected_until: AtomicU64,
    detail: Mutex<Detail>,
}

/// The instant ejection deadlines count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone)]
struct Detail {
    state: HealthState,
    passes: u32,
    failures: u32,
    reason: Option<String>,
}

/// A target's health as `/config` and `pylon plan` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub state: HealthState,
    /// Taken out of rotation after refusing a connection, until a check passes or 10 s pass.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ejected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TargetHealth {
    pub fn new() -> Self {
        TargetHealth {
            routable: AtomicBool::new(true),
            drain_deadline: watch::Sender::new(None),
            ejected_until: AtomicU64::new(0),
            detail: Mutex::new(Detail {
                state: HealthState::Initial,
                passes: 0,
                failures: 0,
                reason: None,
            }),
        }
    }

    /// Whether the balancer may pick this target (initial or healthy, and not ejected).
    pub fn is_routable(&self) -> bool {
        self.routable.load(Ordering::Relaxed) && !self.is_ejected()
    }

    fn is_ejected(&self) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && millis_since_epoch() < until
    }

    /// The target left its group: requests in flight get `delay` more to finish.
    fn drain(&self, delay: Duration) {
        let deadline = tokio::time::Instant::now() + delay;
        self.drain_deadline.send_if_modified(|d| {
            let first = d.is_none();
            if first {
                *d = Some(deadline);
            }
            first
        });
    }

    /// Resolves when requests in flight to this target must be cut (never while it is in its
    /// group).
    pub async fn drained(&self) {
        let mut deadline = self.drain_deadline.subscribe();
        let Ok(at) = deadline.wait_for(Option::is_some).await.map(|d| *d) else {
            return std::future::pending().await;
        };
        if let Some(at) = at {
            tokio::time::sleep_until(at).await;
        }
    }

    /// Takes the target out of rotation for a while: it refused a connection.
    pub fn eject(&self, target: SocketAddr) {
        let now = millis_since_epoch();
        let before = self
            .ejected_until
            .swap(now + EJECTION.as_millis() as u64, Ordering::Relaxed);
        if before <= now {
            tracing::info!(%target, "target refused a connection: ejected for 10s");
        }
    }

    pub fn report(&self) -> HealthReport {
        let d = self.detail.lock().expect("health lock");
        HealthReport {
            state: d.state,
            ejected: self.is_ejected(),
            reason: d.reason.clone(),
        }
    }

    fn record(&self, result: Result<(), String>, check: &HealthCheck, target: SocketAddr) {
        let mut d = self.detail.lock().expect("health lock");
        let before = d.state;
        match result {
            Ok(()) => {
                // A passing check ends a passive ejection early.
                self.ejected_until.store(0, Ordering::Relaxed);
                d.passes += 1;
                d.failures = 0;
                let needed = if d.state == HealthState::Unhealthy {
                    check.healthy_threshold
                } else {
                    1
                };
                if d.passes >= needed {
                    d.state = HealthState::Healthy;
                    d.reason = None;
                }
            }
            Err(reason) => {
                d.failures += 1;
                d.passes = 0;
                if d.failures >= check.unhealthy_threshold {
                    d.state = HealthState::Unhealthy;
                }
                d.reason = Some(reason);
            }
        }
        self.routable
            .store(d.state != HealthState::Unhealthy, Ordering::Relaxed);
        if d.state != before {
            tracing::info!(%target, from = ?before, to = ?d.state, reason = ?d.reason, "target health changed");
        }
    }
}

type Key = (String, SocketAddr);

/// Every running check, keyed by target group id and target.
#[derive(Default)]
pub struct HealthChecks {
    checks: Mutex<HashMap<Key, Check>>,
    /// Targets that left their group, until their deregistration delay ends.
    draining: Mutex<HashMap<Key, tokio::time::Instant>>,
}

/// How one target of a target group is checked, and drained when it leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    pub check: HealthCheck,
    pub version: ProtocolVersion,
    pub deregistration_delay: Duration,
}

struct Check {
    config: CheckConfig,
    health: Arc<TargetHealth>,
    task: JoinHandle<()>,
}

impl Drop for Check {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HealthChecks {
    /// Makes the running checks exactly `wanted`: new targets get a check, removed ones lose
    /// theirs, a changed health check restarts with the state kept. Returns each target's health.
    ///
    /// A target that is no longer wanted starts draining: requests still waiting for its answer
    /// get its target group's deregistration delay to finish, then are cut.
    pub fn reconcile(
        &self,
        wanted: impl IntoIterator<Item = (String, SocketAddr, CheckConfig)>,
    ) -> HashMap<Key, Arc<TargetHealth>> {
        let mut checks = self.checks.lock().expect("checks lock");
        let mut next = HashMap::new();
        for (tg, target, config) in wanted {
            let key = (tg, target);
            if next.contains_key(&key) {
                continue;
            }
            let check = match checks.remove(&key) {
                Some(c) if c.config == config => c,
                previous => {
                    let health = previous
                        .as_ref()
                        .map_or_else(|| Arc::new(TargetHealth::new()), |c| c.health.clone());
                    let task = tokio::spawn(run(target, config.clone(), health.clone()));
                    Check {
                        config,
                        health,
                        task,
                    }
                }
            };
            next.insert(key, check);
        }
        // What is left in `checks` is no longer wanted: it drains, and dropping it aborts its
        // health check.
        let now = tokio::time::Instant::now();
        let mut draining = self.draining.lock().expect("draining lock");
        draining.retain(|key, until| *until > now && !next.contains_key(key));
        for (key, gone) in checks.drain() {
            gone.health.drain(gone.config.deregistration_delay);
            draining.insert(key, now + gone.config.deregistration_delay);
        }
        *checks = next;
        checks
            .iter()
            .map(|(k, c)| (k.clone(), c.health.clone()))
            .collect()
    }

    /// Every checked target's health, by target group and target.
    pub fn reports(&self) -> Vec<(String, SocketAddr, HealthReport)> {
        let checks = self.checks.lock().expect("checks lock");
        let mut all: Vec<_> = checks
            .iter()
            .map(|((tg, target), c)| (tg.clone(), *target, c.health.report()))
            .collect();
        all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        all
    }

    pub fn report(&self, target_group: &str, target: SocketAddr) -> Option<HealthReport> {
        let checks = self.checks.lock().expect("checks lock");
        checks
            .get(&(target_group.to_string(), target))
            .map(|c| c.health.report())
    }

    /// The targets of `target_group` that left it and are still draining, with the time left.
    pub fn draining(&self, target_group: &str) -> Vec<(SocketAddr, Duration)> {
        let now = tokio::time::Instant::now();
        let draining = self.draining.lock().expect("draining lock");
        let mut out: Vec<_> = draining
            .iter()
            .filter(|((tg, _), until)| tg == target_group && **until > now)
            .map(|((_, target), until)| (*target, *until - now))
            .collect();
        out.sort();
        out
    }
}

async fn run(target: SocketAddr, config: CheckConfig, health: Arc<TargetHealth>) {
    let CheckConfig { check, version, .. } = config;
    let tls = check.protocol == pylon_ir::Protocol::Https;
    if !check.enabled {
        let mut d = health.detail.lock().expect("health lock");
        d.state = HealthState::Unavailable;
        d.reason = Some("health checks are disabled for the target group".into());
        return;
    }
    let addr = match check.port {
        HealthCheckPort::TrafficPort => target,
        HealthCheckPort::Port(p) => SocketAddr::new(target.ip(), p),
    };
    let interval = Duration::from_secs(u64::from(check.interval_seconds));
    let timeout = Duration::from_secs(u64::from(check.timeout_seconds));
    loop {
        let result =
            match tokio::time::timeout(timeout, probe(addr, &check.path, version, tls)).await {
                Ok(Ok(status)) if codes_match(&check.success_codes, status) => Ok(()),
                Ok(Ok(status)) => Err(format!(
                    "health check answered {}{status}, expected {}",
                    if version == ProtocolVersion::Grpc {
                        "gRPC status "
                    } else {
                        ""
                    },
                    check.success_codes
                )),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!(
                    "health check timed out after {}s",
                    check.timeout_seconds
                )),
            };
        health.record(result, &check, target);
        tokio::time::sleep(interval).await;
    }
}

/// One check on a fresh connection, as an ALB health checker sends it: `GET <path>` over
/// HTTP/1.1 or h2c, answering the HTTP status; for GRPC target groups a gRPC call to `<path>` with
/// an empty message, answering the gRPC status.
/// Over TLS for HTTPS health checks, the certificate not verified (as an ALB checks).
async fn probe(
    addr: SocketAddr,
    path: &str,
    version: ProtocolVersion,
    tls: bool,
) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr} failed: {e}"))?;
    if !tls {
        return exchange(TokioIo::new(stream), addr, path, version, "http").await;
    }
    static CONFIGS: OnceLock<[Arc<rustls::ClientConfig>; 2]> = OnceLock::new();
    let [h1, h2] = CONFIGS.get_or_init(|| {
        [
            super::tls::client_config(Some(b"http/1.1")),
            super::tls::client_config(Some(b"h2")),
        ]
    });
    let config = if version == ProtocolVersion::Http1 {
        h1
    } else {
        h2
    };
    let stream = super::tls::handshake(config, addr, stream)
        .await
        .map_err(|e| format!("TLS to {addr} failed: {e}"))?;
    exchange(TokioIo::new(stream), addr, path, version, "https").await
}

/// One check's request and answer on a connection made.
async fn exchange<I>(
    io: I,
    addr: SocketAddr,
    path: &str,
    version: ProtocolVersion,
    scheme: &str,
) -> Result<u16, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let failed = |e: &dyn std::fmt::Display| format!("health check to {addr} failed: {e}");
    let grpc = version == ProtocolVersion::Grpc;
    let http1 = version == ProtocolVersion::Http1;
    let mut request =
        http::Request::builder().header(http::header::USER_AGENT, "ELB-HealthChecker/2.0");
    request = if http1 {
        request
            .uri(path)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::CONNECTION, "close")
    } else {
        request.uri(format!("{scheme}://{addr}{path}"))
    };
    if grpc {
        request = request
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers");
    }
    let body = if grpc {
        // A gRPC message frame: not compressed, zero bytes long.
        Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))
    } else {
        Full::new(Bytes::new())
    };
    let request = request
        .body(body)
        .map_err(|e| format!("health check path {path:?} is not a valid request: {e}"))?;
    let response = if http1 {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| failed(&e))?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(|e| failed(&e))?
    } else {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| failed(&e))?;
        tokio::spawn(conn);
        sender.send_request(request).await.map_err(|e| failed(&e))?
    };
    if !grpc {
        return Ok(response.status().as_u16());
    }
    // A trailers-only answer carries the status in its headers; otherwise it ends the body.
    let status_in = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u16>().ok())
    };
    if let Some(code) = status_in(response.headers()) {
        return Ok(code);
    }
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|e| failed(&e))?;
    collected
        .trailers()
        .and_then(status_in)
        .ok_or_else(|| format!("health check to {addr}: the gRPC answer has no grpc-status"))
}

/// ALB matcher syntax: `200`, `200,202`, `200-299`.
pub fn codes_match(codes: &str, status: u16) -> bool {
    codes.split(',').any(|part| match part.split_once('-') {
        Some((lo, hi)) => matches!((lo.trim().parse::<u16>(), hi.trim().parse::<u16>()), (Ok(l), Ok(h)) if (l..=h).contains(&status)),
        None => part.trim().parse::<u16>() == Ok(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> HealthCheck {
        HealthCheck {
            protocol: pylon_ir::Protocol::Http,
            port: HealthCheckPort::TrafficPort,
            path: "/".into(),
            interval_seconds: 5,
            timeout_seconds: 2,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            success_codes: "200".into(),
            enabled: true,
        }
    }

    #[test]
    fn thresholds() {
        let h = TargetHealth::new();
        let (c, t) = (check(), "127.0.0.1:1".parse().unwrap());
        assert!(h.is_routable());
        h.record(Err("x".into()), &c, t);
        assert!(
            h.is_routable(),
            "one failure is below the unhealthy threshold"
        );
        h.record(Err("x".into()), &c, t);
        assert!(!h.is_routable());
        h.record(Ok(()), &c, t);
        h.record(Ok(()), &c, t);
        assert!(
            !h.is_routable(),
            "two passes are below the healthy threshold"
        );
        h.record(Ok(()), &c, t);
        assert!(h.is_routable());
        assert_eq!(h.report().state, HealthState::Healthy);
    }

    #[tokio::test]
    async fn disabled_checks_leave_targets_unavailable_and_in_rotation() {
        // Port 1 refuses connections: a check, if one ran, would fail.
        let target: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let health = Arc::new(TargetHealth::new());
        let config = CheckConfig {
            check: HealthCheck {
                enabled: false,
                interval_seconds: 1,
                unhealthy_threshold: 1,
                ..check()
            },
            version: ProtocolVersion::Http2,
            deregistration_delay: Duration::ZERO,
        };
        tokio::time::timeout(Duration::from_secs(5), run(target, config, health.clone()))
            .await
            .expect("no checking loop runs");
        assert_eq!(health.report().state, HealthState::Unavailable);
        assert!(health.is_routable());
    }

    #[tokio::test]
    async fn targets_that_leave_drain_for_the_deregistration_delay() {
        let checks = HealthChecks::default();
        let config = CheckConfig {
            check: HealthCheck {
                enabled: false,
                ..check()
            },
            version: ProtocolVersion::Http1,
            deregistration_delay: Duration::from_secs(300),
        };
        let (a, b): (SocketAddr, SocketAddr) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        let wanted = |targets: &[SocketAddr]| {
            targets
                .iter()
                .map(|t| ("tg".to_string(), *t, config.clone()))
                .collect::<Vec<_>>()
        };
        checks.reconcile(wanted(&[a, b]));
        assert!(checks.draining("tg").is_empty());
        checks.reconcile(wanted(&[a]));
        let draining = checks.draining("tg");
        assert_eq!(draining.len(), 1);
        assert_eq!(draining[0].0, b);
        assert!(
            draining[0].1 <= Duration::from_secs(300) && draining[0].1 > Duration::from_secs(290)
        );
        assert!(checks.draining("other").is_empty());
        // Back in its group: no longer draining.
        checks.reconcile(wanted(&[a, b]));
        assert!(checks.draining("tg").is_empty());
    }

    #[test]
    fn matchers() {
        assert!(codes_match("200", 200));
        assert!(!codes_match("200", 204));
        assert!(codes_match("200,204", 204));
        assert!(codes_match("200-299", 250));
        assert!(!codes_match("200-299", 301));
    }
}
