//! A listener's rules compiled for the request path: the first rule (by priority) whose
//! conditions all hold gives the request its steps; the listener's default action otherwise.
//! Pure: tables built from the configuration, looked up without sockets.

mod condition;
#[cfg(test)]
mod tests;

pub use condition::RequestFacts;

use crate::observe::metrics::ListenerMetrics;
use crate::steps::{ListenerFacts, Pipeline, Timeouts};
use crate::upstream::balance::TargetGroupRuntime;
use condition::{compile_condition, CompiledCondition};
use pylon_ir::{Listener, LoadBalancer};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One listener, ready to route. Swapped whole on every configuration change.
#[derive(Debug)]
pub struct CompiledListener {
    pub load_balancer_id: String,
    pub listener_id: String,
    /// The load balancer's `idle_timeout.timeout_seconds`: how long a connection may wait with
    /// no request in flight, and how long a target may take.
    pub idle_timeout: Duration,
    /// Request counters, shared by every configuration of this listener.
    pub metrics: Arc<ListenerMetrics>,
    rules: Vec<CompiledRule>,
    default_route: Route,
}

#[derive(Debug)]
struct CompiledRule {
    conditions: Vec<CompiledCondition>,
    route: Route,
}

/// What happens to a request that matched: its rule's steps.
#[derive(Debug)]
pub struct Route {
    /// The rule's priority (0 for the listener's default action) and where it came from.
    pub rule: u32,
    pub origin: Arc<str>,
    pub pipeline: Pipeline,
    /// Lattice access logs of the rule.
    pub access_log: Option<Arc<pylon_ir::lattice::RuleLog>>,
}

impl CompiledListener {
    pub fn compile(
        lb: &LoadBalancer,
        listener: &Listener,
        groups: &HashMap<String, Arc<TargetGroupRuntime>>,
        keyring: &Arc<pylon_iam::Keyring>,
    ) -> Self {
        let facts = ListenerFacts {
            protocol: listener.protocol,
            port: listener.port,
            idle_timeout: Duration::from_secs(u64::from(lb.attributes.idle_timeout_seconds)),
            keyring: keyring.clone(),
        };
        CompiledListener {
            load_balancer_id: lb.id.clone(),
            listener_id: listener.id.clone(),
            idle_timeout: facts.idle_timeout,
            metrics: Arc::default(),
            rules: listener
                .rules
                .iter()
                .map(|r| CompiledRule {
                    conditions: r.conditions.iter().map(compile_condition).collect(),
                    route: Route {
                        rule: r.priority,
                        origin: format!("{} {}", r.origin.object, r.origin.field).into(),
                        pipeline: Pipeline::compile(
                            &r.filters,
                            &r.action,
                            Timeouts::of(&r.timeouts),
                            r.auth.as_ref(),
                            &facts,
                            groups,
                        ),
                        access_log: r.access_log.clone().map(Arc::new),
                    },
                })
                .collect(),
            default_route: Route {
                rule: 0,
                origin: "default action".into(),
                pipeline: Pipeline::compile(
                    &[],
                    &listener.default_action,
                    Timeouts::default(),
                    None,
                    &facts,
                    groups,
                ),
                access_log: None,
            },
        }
    }

    /// The first rule (by priority) whose conditions all hold, else the default action.
    pub fn route(&self, request: &RequestFacts<'_>) -> &Route {
        self.rules
            .iter()
            .find(|r| r.conditions.iter().all(|c| c.holds(request)))
            .map_or(&self.default_route, |r| &r.route)
    }
}
