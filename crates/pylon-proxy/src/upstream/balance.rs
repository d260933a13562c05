//! Target groups at run time: round robin over the routable targets, failing open when none is.

use super::health::TargetHealth;
use http::uri::Authority;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct TargetGroupRuntime {
    pub id: String,
    /// Targets speak HTTP/2 without TLS (h2c, prior knowledge): HTTP2 and GRPC target groups.
    pub http2: bool,
    /// Targets are reached over TLS (HTTPS target groups).
    pub tls: bool,
    targets: Vec<Target>,
    next: AtomicUsize,
}

/// A target chosen for one attempt.
pub struct Picked<'g> {
    pub addr: SocketAddr,
    pub authority: Authority,
    pub health: &'g TargetHealth,
}

#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    /// `ip:port`, ready for request URIs.
    authority: Authority,
    health: Arc<TargetHealth>,
}

impl TargetGroupRuntime {
    pub fn new(id: String, http2: bool, targets: Vec<(SocketAddr, Arc<TargetHealth>)>) -> Self {
        let targets = targets
            .into_iter()
            .map(|(addr, health)| Target {
                addr,
                authority: Authority::try_from(addr.to_string().as_str())
                    .expect("a socket address is an authority"),
                health,
            })
            .collect();
        TargetGroupRuntime {
            id,
            http2,
            tls: false,
            targets,
            next: AtomicUsize::new(0),
        }
    }

    /// The same group, its targets reached over TLS or not.
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// The next target in round robin among healthy (or not yet checked) targets that are not in
    /// `tried`. When every such target is unhealthy the group fails open and uses them all, as an
    /// ALB does. `None` only when no untried target is left.
    pub fn pick_excluding(&self, tried: &[SocketAddr]) -> Option<Picked<'_>> {
        let n = self.targets.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let untried = |t: &&Target| !tried.contains(&t.addr);
        let candidates = || {
            (0..n)
                .map(|i| &self.targets[(start + i) % n])
                .filter(untried)
        };
        candidates()
            .find(|t| t.health.is_routable())
            .or_else(|| candidates().next())
            .map(|t| Picked {
                addr: t.addr,
                authority: t.authority.clone(),
                health: &t.health,
            })
    }

    /// Takes a target that refused a connection out of rotation for a while (passive ejection).
    pub fn eject(&self, target: SocketAddr) {
        if let Some(t) = self.targets.iter().find(|t| t.addr == target) {
            t.health.eject(target);
        }
    }
}
