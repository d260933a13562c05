//! Target health: active HTTP checks with a target group's settings, and the state they keep.
//!
//! Health is keyed by (target group, target) and survives configuration swaps, so a reload does
//! not reset what the checks learned. A new target starts `initial` and receives traffic; it turns
//! `healthy` on its first passing check and `unhealthy` after `unhealthy_threshold` failures in a
//! row; an unhealthy target comes back after `healthy_threshold` passes in a row.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use pylon_ir::{HealthCheck, HealthCheckPort};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Initial,
    Healthy,
    Unhealthy,
}

/// What the checks know about one target.
#[derive(Debug)]
pub struct TargetHealth {
    routable: AtomicBool,
    detail: Mutex<Detail>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TargetHealth {
    fn new() -> Self {
        TargetHealth {
            routable: AtomicBool::new(true),
            detail: Mutex::new(Detail {
                state: HealthState::Initial,
                passes: 0,
                failures: 0,
                reason: None,
            }),
        }
    }

    /// Whether the balancer may pick this target (initial or healthy).
    pub fn is_routable(&self) -> bool {
        self.routable.load(Ordering::Relaxed)
    }

    pub fn report(&self) -> HealthReport {
        let d = self.detail.lock().expect("health lock");
        HealthReport {
            state: d.state,
            reason: d.reason.clone(),
        }
    }

    fn record(&self, result: Result<(), String>, check: &HealthCheck, target: SocketAddr) {
        let mut d = self.detail.lock().expect("health lock");
        let before = d.state;
        match result {
            Ok(()) => {
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
}

struct Check {
    config: HealthCheck,
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
    pub fn reconcile(
        &self,
        wanted: impl IntoIterator<Item = (String, SocketAddr, HealthCheck)>,
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
        // What is left in `checks` is no longer wanted; dropping it aborts the tasks.
        *checks = next;
        checks
            .iter()
            .map(|(k, c)| (k.clone(), c.health.clone()))
            .collect()
    }

    pub fn report(&self, target_group: &str, target: SocketAddr) -> Option<HealthReport> {
        let checks = self.checks.lock().expect("checks lock");
        checks
            .get(&(target_group.to_string(), target))
            .map(|c| c.health.report())
    }
}

async fn run(target: SocketAddr, check: HealthCheck, health: Arc<TargetHealth>) {
    let addr = match check.port {
        HealthCheckPort::TrafficPort => target,
        HealthCheckPort::Port(p) => SocketAddr::new(target.ip(), p),
    };
    let interval = Duration::from_secs(u64::from(check.interval_seconds));
    let timeout = Duration::from_secs(u64::from(check.timeout_seconds));
    loop {
        let result = match tokio::time::timeout(timeout, probe(addr, &check.path)).await {
            Ok(Ok(status)) if codes_match(&check.success_codes, status) => Ok(()),
            Ok(Ok(status)) => Err(format!(
                "health check answered {status}, expected {}",
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

/// One `GET <path>` on a fresh connection, as an ALB health checker sends it.
async fn probe(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr} failed: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("health check to {addr} failed: {e}"))?;
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::USER_AGENT, "ELB-HealthChecker/2.0")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("health check path {path:?} is not a valid request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("health check to {addr} failed: {e}"))?;
    Ok(response.status().as_u16())
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

    #[test]
    fn matchers() {
        assert!(codes_match("200", 200));
        assert!(!codes_match("200", 204));
        assert!(codes_match("200,204", 204));
        assert!(codes_match("200-299", 250));
        assert!(!codes_match("200-299", 301));
    }
}
