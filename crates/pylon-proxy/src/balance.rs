//! Target groups at run time: round robin over the routable targets, failing open when none is.

use crate::health::TargetHealth;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct TargetGroupRuntime {
    pub id: String,
    targets: Vec<(SocketAddr, Arc<TargetHealth>)>,
    next: AtomicUsize,
}

impl TargetGroupRuntime {
    pub fn new(id: String, targets: Vec<(SocketAddr, Arc<TargetHealth>)>) -> Self {
        TargetGroupRuntime {
            id,
            targets,
            next: AtomicUsize::new(0),
        }
    }

    /// The next target in round robin among healthy (or not yet checked) targets. When every
    /// target is unhealthy the group fails open and uses them all, as an ALB does. `None` only
    /// for an empty group.
    pub fn pick(&self) -> Option<SocketAddr> {
        let n = self.targets.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.targets[(start + i) % n])
            .find(|(_, h)| h.is_routable())
            .or_else(|| Some(&self.targets[start % n]))
            .map(|(addr, _)| *addr)
    }
}
