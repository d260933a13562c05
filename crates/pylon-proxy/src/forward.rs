//! One request through a listener: route it, then answer directly, redirect, or forward it to a
//! target with the headers an ALB adds and the route's filters, mapping target failures to 502,
//! 503 and 504.

use crate::access_log::{AccessLog, Entry, Logged};
use crate::filters::{modified_path, CompiledFilter};
use crate::grpc::{grpc_error, is_grpc, unavailable_when_cut, Generated};
use crate::hop_by_hop::{strip_hop_by_hop, upgrade_protocol};
use crate::listener::ProxyOptions;
use crate::route::{
    Backend, CompiledAction, CompiledListener, Forward, Redirect, RequestFacts, Route,
    RouteRedirect,
};
use crate::upstream::{self, boxed, Body, BoxError, Clients, Failure};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a mirror target may take; its answer is ignored.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bodies up to this size are copied for mirrors; larger or streamed ones are not mirrored.
const MIRROR_BODY_LIMIT: u64 = 1 << 20;

/// What a connection's requests share.
pub struct Context {
    pub clients: Arc<Clients>,
    pub weights: AtomicUsize,
    pub access_log: Option<AccessLog>,
    pub header_read_timeout: Duration,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            clients: Arc::default(),
            weights: AtomicUsize::new(0),
            access_log: None,
            header_read_timeout: ProxyOptions::default().header_read_timeout,
        }
    }
}

/// A request body from a client: hyper's, or none (requests read by `h1_server`).
pub trait ClientBody:
    hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}

impl<B> ClientBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static
{
}

/// The client of a connection, as its requests need it.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    /// Its address as an `X-Forwarded-For` entry, made once per connection.
    forwarded_for: HeaderValue,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            addr,
            forwarded_for: HeaderValue::from_str(&addr.ip().to_string())
                .expect("an IP address is a header value"),
        }
    }
}

/// The target a forwarded response came from, kept for the access log.
#[derive(Clone)]
struct Upstream {
    target_group: String,
    target: SocketAddr,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

pub async fn handle<B: ClientBody>(
    mut request: Request<B>,
    listener: Arc<CompiledListener>,
    context: Arc<Context>,
    client: Client,
) -> Response<Body> {
    let client_addr = client.addr;
    let started = std::time::Instant::now();
    if let Err(refused) = crate::request_head::check(&mut request) {
        listener.metrics.record(400, started.elapsed());
        return refuse(refused.body());
    }
    let host = request_host(&request);
    let entry = context.access_log.as_ref().map(|_| {
        let mut e = Entry::now(started);
        e.client = client_addr;
        e.method = request.method().to_string();
        e.path = request.uri().path().to_string();
        e.host.clone_from(&host);
        e.protocol = match request.version() {
            http::Version::HTTP_2 => "HTTP/2",
            http::Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        };
        e
    });
    let facts = RequestFacts {
        host: host.as_bytes(),
        path: request.uri().path().as_bytes(),
        query: request.uri().query(),
        method: request.method().as_str(),
        headers: request.headers(),
        client: client_addr.ip(),
    };
    let route = listener.route(&facts);
    let grpc = is_grpc(&request);
    let work = respond(request, route, &listener, &context, &client, &host);
    let response = match route.request_timeout {
        // Gateway API `timeouts.request`: the whole exchange, or 504.
        Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            fixed(
                504,
                "text/plain",
                Bytes::from_static(b"504 Gateway Timeout\n"),
            )
        }),
        None => work.await,
    };
    let response = match (grpc, response.extensions().get::<Generated>().is_some()) {
        (true, true) => grpc_error(response),
        (true, false) => unavailable_when_cut(response),
        (false, _) => response,
    };
    listener
        .metrics
        .record(response.status().as_u16(), started.elapsed());
    match (entry, &context.access_log) {
        (Some(mut entry), Some(log)) => {
            entry.status = response.status().as_u16();
            entry.load_balancer.clone_from(&listener.load_balancer_id);
            entry.listener.clone_from(&listener.listener_id);
            entry.rule = route.rule;
            entry.origin = route.origin.to_string();
            if let Some(up) = response.extensions().get::<Upstream>() {
                entry.target_group = Some(up.target_group.clone());
                entry.target = Some(up.target);
            }
            let log = log.clone();
            response.map(|b| Logged::new(b, entry, log).boxed())
        }
        _ => response,
    }
}

async fn respond<B: ClientBody>(
    request: Request<B>,
    route: &Route,
    listener: &CompiledListener,
    context: &Context,
    client: &Client,
    host: &str,
) -> Response<Body> {
    let cors = route.filters.iter().find_map(|f| match f {
        CompiledFilter::Cors(c) => Some(c),
        _ => None,
    });
    let Some(cors) = cors else {
        return act(request, route, listener, context, client, host).await;
    };
    let request_headers = request.headers().clone();
    if crate::filters::Cors::is_preflight(request.method(), &request_headers) {
        // Answered here: a preflight never reaches a target.
        let mut response = fixed(204, "text/plain", Bytes::new());
        response.headers_mut().remove(header::CONTENT_TYPE);
        cors.preflight(&request_headers, response.headers_mut());
        return response;
    }
    let mut response = act(request, route, listener, context, client, host).await;
    cors.response(&request_headers, response.headers_mut());
    response
}

async fn act<B: ClientBody>(
    request: Request<B>,
    route: &Route,
    listener: &CompiledListener,
    context: &Context,
    client: &Client,
    host: &str,
) -> Response<Body> {
    match &route.action {
        CompiledAction::Fixed {
            status,
            content_type,
            body,
        } => fixed(*status, content_type, body.clone()),
        CompiledAction::Redirect(redirect) => alb_redirect(redirect, &request, host, listener),
        CompiledAction::RouteRedirect(redirect) => {
            route_redirect(redirect, &request, host, listener)
        }
        CompiledAction::Forward(forward) => {
            forward_request(request, forward, route, listener, context, client).await
        }
    }
}

async fn forward_request<B: ClientBody>(
    mut request: Request<B>,
    forward: &Forward,
    route: &Route,
    listener: &CompiledListener,
    context: &Context,
    client: &Client,
) -> Response<Body> {
    let Some(backend) = pick(forward, &context.weights) else {
        // No usable backend for this share of requests (Gateway API: 500).
        return fixed(
            500,
            "text/plain",
            Bytes::from_static(b"500 Internal Server Error\n"),
        );
    };
    if backend.group.len() == 0 {
        return fixed(
            503,
            "text/plain",
            Bytes::from_static(b"503 Service Unavailable: no targets\n"),
        );
    }
    // An HTTP/2 request names its host in the URI only; targets get it as `Host`.
    if !request.headers().contains_key(header::HOST) {
        if let Some(v) = request
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            request.headers_mut().insert(header::HOST, v);
        }
    }
    let filters = || route.filters.iter().chain(backend.filters.iter());
    let mut rewritten: Option<String> = None;
    for filter in filters() {
        match filter {
            CompiledFilter::RequestHeaders(h) => h.apply(request.headers_mut()),
            CompiledFilter::UrlRewrite {
                hostname,
                path: rewrite,
            } => {
                if let Some(h) = hostname {
                    request.headers_mut().insert(header::HOST, h.clone());
                }
                if let Some(rewrite) = rewrite {
                    let path = rewritten.as_deref().unwrap_or(request.uri().path());
                    rewritten = Some(modified_path(rewrite, path));
                }
            }
            CompiledFilter::ResponseHeaders(_)
            | CompiledFilter::Mirror(_)
            | CompiledFilter::Cors(_) => {}
        }
    }
    // Targets get the path and query (the client's, or as rewritten); the address is the target's.
    if let Some(path) = rewritten {
        let path_and_query = match request.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let Ok(uri) = Uri::try_from(path_and_query) else {
            return fixed(400, "text/plain", Bytes::from_static(b"400 Bad Request\n"));
        };
        *request.uri_mut() = uri;
    }
    // An HTTP/1.1 upgrade (WebSocket) keeps its `Upgrade` and `Connection: upgrade` headers and,
    // once the target switches protocols, becomes a tunnel.
    let upgrade = upgrade_protocol(&request);
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
    let grpc_te = request.headers().get(header::TE) == Some(&HeaderValue::from_static("trailers"));
    strip_hop_by_hop(request.headers_mut());
    if let Some(protocol) = upgrade {
        request
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        request.headers_mut().insert(header::UPGRADE, protocol);
    }
    if grpc_te && backend.group.http2 {
        // `TE: trailers` is the one TE value HTTP/2 allows; gRPC servers expect it.
        request
            .headers_mut()
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    add_forwarded(request.headers_mut(), client, listener);
    let mirrors: Vec<&crate::filters::Mirror> = filters()
        .filter_map(|f| match f {
            CompiledFilter::Mirror(m) if m.take() => Some(m),
            _ => None,
        })
        .collect();
    let request = if mirrors.is_empty() {
        request.map(boxed)
    } else {
        match mirror(request, &mirrors, context).await {
            Some(r) => r,
            None => {
                return fixed(
                    400,
                    "text/plain",
                    Bytes::from_static(b"400 Bad Request: unreadable body\n"),
                )
            }
        }
    };
    let limit = match route.backend_timeout {
        Some(t) => t.min(listener.idle_timeout),
        None => listener.idle_timeout,
    };
    match context.clients.send(&backend.group, request, limit).await {
        Ok((target, mut response)) => {
            let switched = response.status() == StatusCode::SWITCHING_PROTOCOLS;
            let protocol = response.headers().get(header::UPGRADE).cloned();
            strip_hop_by_hop(response.headers_mut());
            match (client_upgrade, switched, protocol) {
                (Some(client), true, Some(protocol)) => {
                    upstream::tunnel(client, hyper::upgrade::on(&mut response));
                    let headers = response.headers_mut();
                    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                    headers.insert(header::UPGRADE, protocol);
                }
                (_, true, _) => {
                    tracing::warn!(%target, target_group = %backend.group.id, "target switched protocols unasked");
                    return fixed(502, "text/plain", Bytes::from_static(b"502 Bad Gateway\n"));
                }
                _ => {}
            }
            for filter in filters() {
                if let CompiledFilter::ResponseHeaders(h) = filter {
                    h.apply(response.headers_mut());
                }
            }
            if context.access_log.is_some() {
                response.extensions_mut().insert(Upstream {
                    target_group: backend.group.id.clone(),
                    target,
                });
            }
            response
        }
        Err(Failure::NoTarget) => fixed(
            503,
            "text/plain",
            Bytes::from_static(b"503 Service Unavailable: no targets\n"),
        ),
        Err(Failure::InvalidPath) => {
            fixed(400, "text/plain", Bytes::from_static(b"400 Bad Request\n"))
        }
        Err(Failure::Failed(target, e)) => {
            tracing::warn!(%target, target_group = %backend.group.id, error = %e, "target failed");
            fixed(502, "text/plain", Bytes::from_static(b"502 Bad Gateway\n"))
        }
        Err(Failure::ClientBody(e)) => {
            // The client's body was malformed or cut short: a 400 for it, not a target failure,
            // and its connection is not reused (the framing is lost).
            tracing::debug!(error = %e, "request body could not be read");
            refuse(b"400 Bad Request: malformed request body\n")
        }
        Err(Failure::Drained(target)) => {
            tracing::info!(%target, target_group = %backend.group.id, "request cut: the target was deregistered and its delay is over");
            fixed(502, "text/plain", Bytes::from_static(b"502 Bad Gateway\n"))
        }
        Err(Failure::Timeout(target)) => {
            tracing::warn!(%target, target_group = %backend.group.id, "target timed out");
            fixed(
                504,
                "text/plain",
                Bytes::from_static(b"504 Gateway Timeout\n"),
            )
        }
    }
}

/// Picks a backend by weight (weight 0 gets nothing); `None` for the share of unusable backends
/// and when every weight is 0.
fn pick<'f>(forward: &'f Forward, counter: &AtomicUsize) -> Option<&'f Backend> {
    if let ([only], 0) = (forward.backends.as_slice(), forward.unusable_weight) {
        return (only.weight > 0).then_some(only);
    }
    let total: u64 = forward
        .backends
        .iter()
        .map(|b| u64::from(b.weight))
        .sum::<u64>()
        + u64::from(forward.unusable_weight);
    if total == 0 {
        return None;
    }
    let mut ticket = counter.fetch_add(1, Ordering::Relaxed) as u64 % total;
    for backend in &forward.backends {
        if ticket < u64::from(backend.weight) {
            return Some(backend);
        }
        ticket -= u64::from(backend.weight);
    }
    None
}

/// Sends copies of the request to the mirrors (answers ignored) and returns the request to forward.
/// A body is copied only when its length is known and small; `None` if the body cannot be read.
async fn mirror<B: ClientBody>(
    request: Request<B>,
    mirrors: &[&crate::filters::Mirror],
    context: &Context,
) -> Option<Request<Body>> {
    let (parts, body) = request.into_parts();
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streamed = length.is_none() && parts.headers.contains_key(header::TRANSFER_ENCODING);
    let (body, copy): (Body, Option<Bytes>) = match length {
        Some(n) if n <= MIRROR_BODY_LIMIT => {
            let bytes = body.collect().await.ok()?.to_bytes();
            (full(bytes.clone()), Some(bytes))
        }
        None if !streamed => (boxed(body), Some(Bytes::new())),
        _ => (boxed(body), None),
    };
    if let Some(copy) = copy {
        for m in mirrors {
            let mut builder = Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone());
            if let Some(h) = builder.headers_mut() {
                *h = parts.headers.clone();
            }
            if let Ok(req) = builder.body(full(copy.clone())) {
                let (clients, group) = (context.clients.clone(), m.group.clone());
                tokio::spawn(async move {
                    if let Err(Failure::Failed(target, e)) =
                        clients.send(&group, req, MIRROR_TIMEOUT).await
                    {
                        tracing::debug!(%target, error = %e, "mirror target failed");
                    }
                });
            }
        }
    } else {
        tracing::debug!("request body too large or streamed: not mirrored");
    }
    Some(Request::from_parts(parts, body))
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

/// As an ALB: the client address is appended to `X-Forwarded-For`; `X-Forwarded-Proto` and
/// `X-Forwarded-Port` name the listener the request arrived on.
fn add_forwarded(headers: &mut HeaderMap, client: &Client, listener: &CompiledListener) {
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => {
            let ip = client.addr.ip();
            HeaderValue::from_str(&format!("{existing}, {ip}")).ok()
        }
        _ => Some(client.forwarded_for.clone()),
    };
    if let Some(v) = xff {
        headers.insert(X_FORWARDED_FOR, v);
    }
    let proto = match listener.protocol {
        pylon_ir::Protocol::Http => "http",
        pylon_ir::Protocol::Https => "https",
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    headers.insert(X_FORWARDED_PORT, listener.forwarded_port.clone());
}

pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A 400 for a request Pylon cannot read as the client meant it; the connection closes after
/// it, since the rest of it may not be framed as Pylon read it.
fn refuse(body: &'static [u8]) -> Response<Body> {
    let mut response = fixed(400, "text/plain", Bytes::from_static(body));
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

pub fn fixed(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
    response.extensions_mut().insert(Generated);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

fn redirect_to(status: u16, location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut response = fixed(status, "text/plain", Bytes::new());
            response.headers_mut().insert(header::LOCATION, v);
            response
        }
        Err(_) => fixed(400, "text/plain", Bytes::from_static(b"400 Bad Request\n")),
    }
}

/// The ALB redirect: `#{protocol}`, `#{host}`, `#{port}`, `#{path}` and `#{query}` in each part are
/// replaced by the request's own; the location always names the port, as an ALB's does.
fn alb_redirect<B>(
    redirect: &Redirect,
    request: &Request<B>,
    host: &str,
    listener: &CompiledListener,
) -> Response<Body> {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or_default();
    let protocol = listener.protocol.as_str();
    let port = listener.port.to_string();
    let fill = |template: &str| {
        template
            .replace("#{protocol}", protocol)
            .replace("#{host}", host)
            .replace("#{port}", &port)
            .replace("#{path}", path.strip_prefix('/').unwrap_or(path))
            .replace("#{query}", query)
    };
    let scheme = fill(&redirect.protocol).to_ascii_lowercase();
    let mut location = format!(
        "{scheme}://{}:{}{}",
        fill(&redirect.host),
        fill(&redirect.port),
        fill(&redirect.path)
    );
    let query = fill(&redirect.query);
    if !query.is_empty() {
        location.push('?');
        location.push_str(&query);
    }
    redirect_to(redirect.status, &location)
}

/// The Gateway API redirect (HTTPRequestRedirectFilter): without a port, a changed scheme uses its
/// well-known port and an unchanged one the listener's; well-known ports are left out.
fn route_redirect<B>(
    redirect: &RouteRedirect,
    request: &Request<B>,
    host: &str,
    listener: &CompiledListener,
) -> Response<Body> {
    let listener_scheme = match listener.protocol {
        pylon_ir::Protocol::Http => "http",
        pylon_ir::Protocol::Https => "https",
    };
    let scheme = redirect
        .scheme
        .as_deref()
        .unwrap_or(listener_scheme)
        .to_ascii_lowercase();
    let port = redirect
        .port
        .unwrap_or(match (&redirect.scheme, scheme.as_str()) {
            (Some(_), "https") => 443,
            (Some(_), _) => 80,
            (None, _) => listener.port,
        });
    let hostname = redirect.hostname.as_deref().unwrap_or(host);
    let well_known = matches!((scheme.as_str(), port), ("http", 80) | ("https", 443));
    let authority = if well_known {
        hostname.to_string()
    } else {
        format!("{hostname}:{port}")
    };
    let path = match &redirect.path {
        Some(m) => modified_path(m, request.uri().path()),
        None => request.uri().path().to_string(),
    };
    let mut location = format!("{scheme}://{authority}{path}");
    if let Some(q) = request.uri().query() {
        location.push('?');
        location.push_str(q);
    }
    redirect_to(redirect.status, &location)
}
