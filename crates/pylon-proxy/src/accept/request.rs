//! One request from a listener's connection: its head checked, routed, sent through its rule's
//! steps, and observed on the way out (the listener's counters, the access log).

use super::request_head;
use crate::message::answer;
use crate::message::{boxed, Body, Client, ClientBody};
use crate::observe::access_log::{AccessLog, Entry};
use crate::observe::lattice_log::{Destinations, LatticeEntry};
use crate::observe::logged::Logged;
use crate::route::{CompiledListener, RequestFacts};
use crate::steps::Exchange;
use crate::upstream::Clients;
use http::header;
use http::{Request, Response};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client may take to send a request head, unless configured otherwise.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection's requests share.
pub struct Context {
    pub clients: Arc<Clients>,
    pub access_log: Option<AccessLog>,
    pub header_read_timeout: Duration,
    /// The Lattice access logs' files.
    pub lattice_logs: Destinations,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            clients: Arc::default(),
            access_log: None,
            header_read_timeout: HEADER_READ_TIMEOUT,
            lattice_logs: Destinations::default(),
        }
    }
}

pub async fn handle<B: ClientBody>(
    mut request: Request<B>,
    listener: Arc<CompiledListener>,
    context: Arc<Context>,
    client: Client,
) -> Response<Body> {
    let started = Instant::now();
    if let Err(refused) = request_head::check(&mut request) {
        listener.metrics.record(400, started.elapsed());
        return answer::refuse(refused.body());
    }
    let host = request_host(&request);
    let entry = context
        .access_log
        .as_ref()
        .map(|_| Entry::begin(started, client.addr, &request, &host));
    let facts = RequestFacts {
        host: host.as_bytes(),
        path: request.uri().path().as_bytes(),
        query: request.uri().query(),
        method: request.method().as_str(),
        headers: request.headers(),
        client: client.addr.ip(),
    };
    let route = listener.route(&facts);
    // Boxed: the entry lives across the awaits below, and this future is moved on hyper's paths.
    let lattice = route.access_log.as_ref().and_then(|rule| {
        LatticeEntry::begin(
            rule,
            &context.lattice_logs,
            started,
            &client,
            &request,
            &host,
        )
        .map(Box::new)
    });
    let mut exchange = Exchange::new(request.map(boxed), &client, &host, &context.clients);
    let response = route.pipeline.run(&mut exchange).await;
    let status = response.status().as_u16();
    listener.metrics.record(status, started.elapsed());
    let entry = match (entry, &context.access_log) {
        (Some(mut entry), Some(log)) => {
            entry.status = status;
            entry.load_balancer.clone_from(&listener.load_balancer_id);
            entry.listener.clone_from(&listener.listener_id);
            entry.rule = route.rule;
            entry.origin = route.origin.to_string();
            if let Some((target_group, target)) = exchange.upstream {
                entry.target_group = Some(target_group.to_string());
                entry.target = Some(target);
            }
            Some((entry, log.clone()))
        }
        _ => None,
    };
    let lattice = lattice.map(|mut l| {
        l.status = status;
        l.target = exchange.upstream.map(|(tg, t)| (tg.to_string(), t));
        l.caller = exchange
            .notes
            .remove::<crate::observe::lattice_log::Caller>()
            .unwrap_or_default();
        l.headers_after = started.elapsed();
        l
    });
    match (entry, lattice) {
        (None, None) => response,
        (entry, lattice) => response.map(|b| Logged::new(b, entry, lattice).boxed()),
    }
}

/// The request's host, lowercased and without port: from `Host`, else from an absolute URI.
fn request_host<B>(request: &Request<B>) -> String {
    let raw = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or_default();
    let without_port = match raw.rfind(':') {
        // `[::1]:80` or `example.com:80`, but not a bare IPv6 address.
        Some(i)
            if !raw[i..].contains(']')
                && (raw.starts_with('[') || raw.matches(':').count() == 1) =>
        {
            &raw[..i]
        }
        _ => raw,
    };
    without_port.to_ascii_lowercase()
}
