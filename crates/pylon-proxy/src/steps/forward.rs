//! The forward action: a backend picked by weight, then that backend's steps — the rule's and
//! the backend's filters, hop-by-hop fields, the forwarding headers, mirrors — ending with the
//! request sent to its target group.

use super::backend::BackendStep;
use super::forwarded::Forwarded;
use super::headers::{Headers, RequestHeaders, ResponseHeaders};
use super::hop::HopByHop;
use super::mirror::Mirror;
use super::rewrite::UrlRewrite;
use super::send::Send;
use super::step::{inward, outward, Exchange, Flow, ListenerFacts, Step};
use crate::message::answer;
use crate::upstream::balance::TargetGroupRuntime;
use http::header::{self, HeaderValue};
use pylon_ir::{Filter, WeightedTargetGroup};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Target groups by weight, each with its own steps; `unusable_weight` is the share that gets 500.
#[derive(Debug)]
pub struct Forward {
    backends: Vec<Backend>,
    unusable_weight: u32,
    /// Requests seen, for the weighted pick.
    counter: AtomicUsize,
}

#[derive(Debug)]
struct Backend {
    group: Arc<TargetGroupRuntime>,
    weight: u32,
    steps: Box<[BackendStep]>,
    send: Send,
}

impl Forward {
    pub fn compile(
        target_groups: &[WeightedTargetGroup],
        unusable_weight: u32,
        rule_filters: &[Filter],
        backend_timeout: Option<Duration>,
        listener: &ListenerFacts,
        groups: &HashMap<String, Arc<TargetGroupRuntime>>,
    ) -> Self {
        let limit = backend_timeout.map_or(listener.idle_timeout, |t| t.min(listener.idle_timeout));
        let backends = target_groups
            .iter()
            .filter_map(|w| {
                let group = groups.get(&w.id)?;
                let filters = || rule_filters.iter().chain(w.filters.iter());
                let mut steps: Vec<BackendStep> = filters()
                    .filter_map(|f| match f {
                        Filter::RequestHeaderModifier(m) => Some(BackendStep::RequestHeaders(
                            RequestHeaders(Headers::compile(m)),
                        )),
                        Filter::ResponseHeaderModifier(m) => Some(BackendStep::ResponseHeaders(
                            ResponseHeaders(Headers::compile(m)),
                        )),
                        Filter::UrlRewrite { hostname, path } => Some(BackendStep::Rewrite(
                            UrlRewrite::new(hostname.as_deref(), path.as_ref()),
                        )),
                        Filter::Cors { .. } | Filter::RequestMirror { .. } => None,
                    })
                    .collect();
                steps.push(BackendStep::Hop(HopByHop { http2: group.http2 }));
                steps.push(BackendStep::Forwarded(Forwarded::new(listener)));
                // Mirrors copy the request as the target gets it.
                steps.extend(filters().filter_map(|f| match f {
                    Filter::RequestMirror {
                        target_group,
                        numerator,
                        denominator,
                    } => groups.get(target_group).map(|g| {
                        BackendStep::Mirror(Mirror::new(g.clone(), *numerator, *denominator))
                    }),
                    _ => None,
                }));
                Some(Backend {
                    group: group.clone(),
                    weight: w.weight,
                    steps: steps.into(),
                    send: Send {
                        group: group.clone(),
                        limit,
                    },
                })
            })
            .collect();
        Forward {
            backends,
            unusable_weight,
            counter: AtomicUsize::new(0),
        }
    }

    /// Picks a backend by weight (weight 0 gets nothing); `None` for the share of unusable
    /// backends and when every weight is 0.
    fn pick(&self) -> Option<&Backend> {
        if let ([only], 0) = (self.backends.as_slice(), self.unusable_weight) {
            return (only.weight > 0).then_some(only);
        }
        let total: u64 = self
            .backends
            .iter()
            .map(|b| u64::from(b.weight))
            .sum::<u64>()
            + u64::from(self.unusable_weight);
        if total == 0 {
            return None;
        }
        let mut ticket = self.counter.fetch_add(1, Ordering::Relaxed) as u64 % total;
        for backend in &self.backends {
            if ticket < u64::from(backend.weight) {
                return Some(backend);
            }
            ticket -= u64::from(backend.weight);
        }
        None
    }
}

impl Step for Forward {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let Some(backend) = self.pick() else {
            // No usable backend for this share of requests (Gateway API: 500).
            return Flow::Answer(answer::error(500, b"500 Internal Server Error\n"));
        };
        if backend.group.len() == 0 {
            return Flow::Answer(answer::error(503, b"503 Service Unavailable: no targets\n"));
        }
        // An HTTP/2 request names its host in the URI only; targets get it as `Host`.
        let request = &mut exchange.request;
        if !request.headers().contains_key(header::HOST) {
            if let Some(v) = request
                .uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                request.headers_mut().insert(header::HOST, v);
            }
        }
        let mut seen = 0;
        let response = inward(&backend.steps, &backend.send, exchange, &mut seen).await;
        Flow::Answer(outward(
            &backend.steps,
            &backend.send,
            seen,
            exchange,
            response,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::health::TargetHealth;
    use pylon_ir::Protocol;

    #[test]
    fn backends_are_picked_by_weight_and_the_unusable_share_gets_none() {
        let target = || {
            vec![(
                "192.0.2.1:80".parse().unwrap(),
                Arc::new(TargetHealth::new()),
            )]
        };
        let groups: HashMap<String, Arc<TargetGroupRuntime>> = ["a", "b"]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    Arc::new(TargetGroupRuntime::new(n.to_string(), false, target())),
                )
            })
            .collect();
        let weighted = |id: &str, weight| WeightedTargetGroup {
            id: id.into(),
            weight,
            filters: vec![],
        };
        let listener = ListenerFacts {
            protocol: Protocol::Http,
            port: 80,
            idle_timeout: Duration::from_secs(60),
            keyring: Arc::default(),
        };
        let forward = Forward::compile(
            &[weighted("a", 3), weighted("b", 1)],
            1,
            &[],
            None,
            &listener,
            &groups,
        );
        let mut picks = HashMap::new();
        for _ in 0..500 {
            let name = forward.pick().map_or("none", |b| b.group.id.as_str());
            *picks.entry(name).or_insert(0) += 1;
        }
        assert_eq!(
            picks,
            HashMap::from([("a", 300), ("b", 100), ("none", 100)])
        );
        let zero = Forward::compile(&[weighted("a", 0)], 0, &[], None, &listener, &groups);
        assert!(zero.pick().is_none());
    }
}
