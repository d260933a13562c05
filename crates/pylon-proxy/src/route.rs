//! A listener's rules compiled for the request path: conditions as patterns, actions with their
//! target groups resolved.

use crate::balance::TargetGroupRuntime;
use crate::pattern::Pattern;
use bytes::Bytes;
use pylon_ir::{Action, Condition, Listener, LoadBalancer, Protocol};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One listener, ready to route. Swapped whole on every configuration change.
#[derive(Debug)]
pub struct CompiledListener {
    pub listener_id: String,
    pub protocol: Protocol,
    pub port: u16,
    /// The load balancer's `idle_timeout.timeout_seconds`: how long a target may take.
    pub idle_timeout: Duration,
    rules: Vec<CompiledRule>,
    default_action: CompiledAction,
}

#[derive(Debug)]
struct CompiledRule {
    hosts: Option<Vec<Pattern>>,
    paths: Option<Vec<Pattern>>,
    action: CompiledAction,
}

#[derive(Debug, Clone)]
pub enum CompiledAction {
    Forward(Vec<(Arc<TargetGroupRuntime>, u32)>),
    Fixed {
        status: u16,
        content_type: String,
        body: Bytes,
    },
}

impl CompiledListener {
    pub fn compile(
        lb: &LoadBalancer,
        listener: &Listener,
        groups: &HashMap<String, Arc<TargetGroupRuntime>>,
    ) -> Self {
        let action = |a: &Action| compile_action(a, groups);
        CompiledListener {
            listener_id: listener.id.clone(),
            protocol: listener.protocol,
            port: listener.port,
            idle_timeout: Duration::from_secs(u64::from(lb.attributes.idle_timeout_seconds)),
            rules: listener
                .rules
                .iter()
                .map(|r| {
                    let mut rule = CompiledRule {
                        hosts: None,
                        paths: None,
                        action: action(&r.action),
                    };
                    for c in &r.conditions {
                        match c {
                            Condition::HostHeader { values } => {
                                rule.hosts =
                                    Some(values.iter().map(|v| Pattern::new(v, true)).collect())
                            }
                            Condition::PathPattern { values } => {
                                rule.paths =
                                    Some(values.iter().map(|v| Pattern::new(v, false)).collect())
                            }
                        }
                    }
                    rule
                })
                .collect(),
            default_action: action(&listener.default_action),
        }
    }

    /// The first rule (by priority) whose conditions all hold, else the default action.
    /// `host` must be lowercased and without port.
    pub fn route(&self, host: &[u8], path: &[u8]) -> &CompiledAction {
        let any = |patterns: &Option<Vec<Pattern>>, text: &[u8]| {
            patterns
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| p.matches(text)))
        };
        self.rules
            .iter()
            .find(|r| any(&r.hosts, host) && any(&r.paths, path))
            .map_or(&self.default_action, |r| &r.action)
    }
}

fn compile_action(
    action: &Action,
    groups: &HashMap<String, Arc<TargetGroupRuntime>>,
) -> CompiledAction {
    match action {
        Action::Forward { target_groups } => CompiledAction::Forward(
            target_groups
                .iter()
                .filter_map(|w| groups.get(&w.id).map(|g| (g.clone(), w.weight)))
                .collect(),
        ),
        Action::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => CompiledAction::Fixed {
            status: *status_code,
            content_type: content_type.clone(),
            body: Bytes::from(message_body.clone().unwrap_or_default()),
        },
    }
}
