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

/// Picks a target group by weight (weight 0 gets nothing), then a target in it.
pub fn pick_weighted(
    groups: &[(Arc<TargetGroupRuntime>, u32)],
    counter: &AtomicUsize,
) -> Option<Arc<TargetGroupRuntime>> {
    match groups {
        [] => None,
        [(only, _)] => Some(only.clone()),
        _ => {
            let total: u64 = groups.iter().map(|(_, w)| u64::from(*w)).sum();
            if total == 0 {
                return None;
            }
            let mut ticket = counter.fetch_add(1, Ordering::Relaxed) as u64 % total;
            groups.iter().find_map(|(g, w)| {
                if ticket < u64::from(*w) {
                    Some(g.clone())
                } else {
                    ticket -= u64::from(*w);
                    None
                }
            })
        }
    }
}
