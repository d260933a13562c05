//! A listener's rules compiled for the request path: conditions as patterns, actions with their
//! target groups resolved.

use crate::balance::TargetGroupRuntime;
use crate::pattern::Pattern;
use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use pylon_ir::{Action, Condition, Listener, LoadBalancer, Protocol};
use std::collections::HashMap;
use std::net::IpAddr;
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
    conditions: Vec<CompiledCondition>,
    action: CompiledAction,
}

#[derive(Debug)]
enum CompiledCondition {
    Host(Vec<Pattern>),
    Path(Vec<Pattern>),
    /// Lowercased header name; case-insensitive value patterns.
    Header(HeaderName, Vec<Pattern>),
    Method(Vec<String>),
    /// Key and value patterns, case-insensitive.
    Query(Vec<(Option<Pattern>, Pattern)>),
    SourceIp(Vec<IpNet>),
}

/// What rules look at in a request.
pub struct RequestFacts<'a> {
    /// Lowercased, without port.
    pub host: &'a [u8],
    pub path: &'a [u8],
    pub query: Option<&'a str>,
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub client: IpAddr,
}

#[derive(Debug, Clone)]
pub enum CompiledAction {
    Forward(Vec<(Arc<TargetGroupRuntime>, u32)>),
    Fixed {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    Redirect(Arc<Redirect>),
}

/// An ALB redirect's parts, each possibly holding `#{...}` keywords.
#[derive(Debug)]
pub struct Redirect {
    pub protocol: String,
    pub port: String,
    pub host: String,
    pub path: String,
    pub query: String,
    pub status: u16,
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
                .map(|r| CompiledRule {
                    conditions: r.conditions.iter().map(compile_condition).collect(),
                    action: action(&r.action),
                })
                .collect(),
            default_action: action(&listener.default_action),
        }
    }

    /// The first rule (by priority) whose conditions all hold, else the default action.
    pub fn route(&self, request: &RequestFacts<'_>) -> &CompiledAction {
        self.rules
            .iter()
            .find(|r| r.conditions.iter().all(|c| c.holds(request)))
            .map_or(&self.default_action, |r| &r.action)
    }
}

fn compile_condition(condition: &Condition) -> CompiledCondition {
    let patterns = |values: &[String], fold| values.iter().map(|v| Pattern::new(v, fold)).collect();
    match condition {
        Condition::HostHeader { values } => CompiledCondition::Host(patterns(values, true)),
        Condition::PathPattern { values } => CompiledCondition::Path(patterns(values, false)),
        Condition::HttpHeader {
            http_header_name,
            values,
        } => match HeaderName::from_bytes(http_header_name.as_bytes()) {
            Ok(name) => CompiledCondition::Header(name, patterns(values, true)),
            // The translator validates names; an invalid one can match nothing.
            Err(_) => CompiledCondition::Method(vec![]),
        },
        Condition::HttpRequestMethod { values } => CompiledCondition::Method(values.clone()),
        Condition::QueryString { values } => CompiledCondition::Query(
            values
                .iter()
                .map(|p| {
                    (
                        p.key.as_deref().map(|k| Pattern::new(k, true)),
                        Pattern::new(&p.value, true),
                    )
                })
                .collect(),
        ),
        Condition::SourceIp { values } => CompiledCondition::SourceIp(values.clone()),
    }
}

impl CompiledCondition {
    fn holds(&self, r: &RequestFacts<'_>) -> bool {
        let any = |patterns: &[Pattern], text: &[u8]| patterns.iter().any(|p| p.matches(text));
        match self {
            CompiledCondition::Host(ps) => any(ps, r.host),
            CompiledCondition::Path(ps) => any(ps, r.path),
            CompiledCondition::Header(name, ps) => r
                .headers
                .get_all(name)
                .iter()
                .any(|v| any(ps, v.as_bytes().to_ascii_lowercase().as_slice())),
            CompiledCondition::Method(methods) => methods.iter().any(|m| m == r.method),
            CompiledCondition::Query(pairs) => {
                let query = r.query.unwrap_or_default();
                query.split('&').filter(|kv| !kv.is_empty()).any(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    let (k, v) = (percent_decoded_lowercase(k), percent_decoded_lowercase(v));
                    pairs.iter().any(|(kp, vp)| {
                        kp.as_ref().is_none_or(|kp| kp.matches(&k)) && vp.matches(&v)
                    })
                })
            }
            CompiledCondition::SourceIp(nets) => nets.iter().any(|n| n.contains(&r.client)),
        }
    }
}

/// `%XX` escapes decoded, ASCII lowercased; invalid escapes are kept as written.
fn percent_decoded_lowercase(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out.make_ascii_lowercase();
    out
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
        Action::Redirect {
            protocol,
            port,
            host,
            path,
            query,
            status_code,
        } => CompiledAction::Redirect(Arc::new(Redirect {
            protocol: protocol.clone(),
            port: port.clone(),
            host: host.clone(),
            path: path.clone(),
            query: query.clone(),
            status: *status_code,
        })),
    }
}
