//! Target groups at run time: round robin over the routable targets, failing open when none is.

use crate::health::TargetHealth;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct TargetGroupRuntime {
    pub id: String,
    /// Targets speak HTTP/2 without TLS (h2c, prior knowledge): HTTP2 and GRPC target groups.
    pub http2: bool,
    targets: Vec<(SocketAddr, Arc<TargetHealth>)>,
    next: AtomicUsize,
}

impl TargetGroupRuntime {
    pub fn new(id: String, http2: bool, targets: Vec<(SocketAddr, Arc<TargetHealth>)>) -> Self {
        TargetGroupRuntime {
            id,
            http2,
            targets,
            next: AtomicUsize::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// The next target in round robin among healthy (or not yet checked) targets that are not in
    /// `tried`. When every such target is unhealthy the group fails open and uses them all, as an
    /// ALB does. `None` only when no untried target is left.
    pub fn pick_excluding(&self, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let n = self.targets.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let untried = |(addr, _): &&(SocketAddr, Arc<TargetHealth>)| !tried.contains(addr);
        let candidates = || {
            (0..n)
                .map(|i| &self.targets[(start + i) % n])
                .filter(untried)
        };
        candidates()
            .find(|(_, h)| h.is_routable())
            .or_else(|| candidates().next())
            .map(|(addr, _)| *addr)
    }

    /// Takes a target that refused a connection out of rotation for a while (passive ejection).
    pub fn eject(&self, target: SocketAddr) {
        if let Some((_, health)) = self.targets.iter().find(|(a, _)| *a == target) {
            health.eject(target);
        }
    }
}
