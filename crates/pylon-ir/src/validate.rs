//! Invariants every IR must hold before a realizer sees it.

use crate::{Action, Ir, LoadBalancer};
use std::collections::BTreeSet;
use thiserror::Error;

/// A broken IR invariant. These are bugs in the translator, never user input errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IrError {
    /// Two load balancers share an id.
    #[error("duplicate load balancer id {0}")]
    DuplicateLoadBalancer(String),
    /// Two load balancers claim the same address.
    #[error("load balancers {0} and {1} share the address {2}")]
    SharedAddress(String, String, String),
    /// A load balancer has two listeners on one port.
    #[error("load balancer {0} has two listeners on port {1}")]
    DuplicatePort(String, u16),
    /// Rule priorities on a listener are not 1..N in order.
    #[error("listener {0}: rule priorities are not 1..N in order")]
    Priorities(String),
    /// An action forwards to a target group the load balancer does not have.
    #[error("listener {0} forwards to unknown target group {1}")]
    UnknownTargetGroup(String, String),
    /// A target group's key differs from its id.
    #[error("target group stored under {0} has id {1}")]
    TargetGroupKey(String, String),
}

impl Ir {
    /// Checks every invariant and returns all violations.
    pub fn validate(&self) -> Result<(), Vec<IrError>> {
        let mut errors = Vec::new();
        let mut ids = BTreeSet::new();
        let mut addresses = std::collections::BTreeMap::new();
        // Service networks are checked as the data plane serves them.
        let served = self.served();
        for lb in served.iter().map(|lb| &**lb) {
            if !ids.insert(lb.id.as_str()) {
                errors.push(IrError::DuplicateLoadBalancer(lb.id.clone()));
            }
            for addr in lb.addresses() {
                if let Some(other) = addresses.insert(addr, lb.id.as_str()) {
                    errors.push(IrError::SharedAddress(
                        other.to_string(),
                        lb.id.clone(),
                        addr.to_string(),
                    ));
                }
            }
            validate_load_balancer(lb, &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests;

fn validate_load_balancer(lb: &LoadBalancer, errors: &mut Vec<IrError>) {
    for (key, tg) in &lb.target_groups {
        if key != &tg.id {
            errors.push(IrError::TargetGroupKey(key.clone(), tg.id.clone()));
        }
    }
    let mut ports = BTreeSet::new();
    for listener in &lb.listeners {
        if !ports.insert(listener.port) {
            errors.push(IrError::DuplicatePort(lb.id.clone(), listener.port));
        }
        if !listener
            .rules
            .iter()
            .enumerate()
            .all(|(i, r)| r.priority as usize == i + 1)
        {
            errors.push(IrError::Priorities(listener.id.clone()));
        }
        let actions = listener
            .rules
            .iter()
            .map(|r| &r.action)
            .chain(std::iter::once(&listener.default_action));
        for action in actions {
            if let Action::Forward { target_groups, .. } = action {
                for tg in target_groups {
                    if !lb.target_groups.contains_key(&tg.id) {
                        errors.push(IrError::UnknownTargetGroup(
                            listener.id.clone(),
                            tg.id.clone(),
                        ));
                    }
                }
            }
        }
    }
}
