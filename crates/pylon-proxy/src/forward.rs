//! One request through a listener: route it, then answer directly or forward it to a target with
//! the headers an ALB adds, mapping target failures to 502, 503 and 504.

use crate::balance::pick_weighted;
use crate::route::{CompiledAction, CompiledListener, Redirect, RequestFacts};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

pub type Body = BoxBody<Bytes, hyper::Error>;
pub type UpstreamClient = Client<HttpConnector, Incoming>;

/// What a connection's requests share.
pub struct Context {
    pub client: UpstreamClient,
    pub weights: AtomicUsize,
}

/// Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

pub async fn handle(
    mut request: Request<Incoming>,
    listener: Arc<CompiledListener>,
    context: Arc<Context>,
    client_addr: SocketAddr,
) -> Response<Body> {
    let host = request_host(&request);
    let facts = RequestFacts {
        host: host.as_bytes(),
        path: request.uri().path().as_bytes(),
        query: request.uri().query(),
        method: request.method().as_str(),
        headers: request.headers(),
        client: client_addr.ip(),
    };
    let groups = match listener.route(&facts) {
        CompiledAction::Fixed {
            status,
            content_type,
            body,
        } => return fixed(*status, content_type, body.clone()),
        CompiledAction::Redirect(redirect) => {
            return redirect_response(redirect, &request, &host, &listener)
        }
        CompiledAction::Forward(groups) => groups.clone(),
    };
    let Some(group) = pick_weighted(&groups, &context.weights) else {
        // No usable target group at all (every weight 0).
        return fixed(
            503,
            "text/plain",
            Bytes::from_static(b"503 Service Unavailable\n"),
        );
    };
    let Some(target) = group.pick() else {
        return fixed(
            503,
            "text/plain",
            Bytes::from_static(b"503 Service Unavailable: no targets\n"),
        );
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let uri = match Uri::try_from(format!("http://{target}{path_and_query}")) {
        Ok(u) => u,
        Err(_) => return fixed(400, "text/plain", Bytes::from_static(b"400 Bad Request\n")),
    };
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_11;
    strip_hop_by_hop(request.headers_mut());
    add_forwarded(request.headers_mut(), client_addr, &listener);
    match tokio::time::timeout(listener.idle_timeout, context.client.request(request)).await {
        Ok(Ok(mut response)) => {
            strip_hop_by_hop(response.headers_mut());
            response.map(|b| b.boxed())
        }
        Ok(Err(e)) => {
            tracing::warn!(%target, target_group = %group.id, error = %e, "target failed");
            fixed(502, "text/plain", Bytes::from_static(b"502 Bad Gateway\n"))
        }
        Err(_) => {
            tracing::warn!(%target, target_group = %group.id, "target timed out");
            fixed(
                504,
                "text/plain",
                Bytes::from_static(b"504 Gateway Timeout\n"),
            )
        }
    }
}

/// The request's host, lowercased and without port: from `Host`, else from an absolute URI.
fn request_host(request: &Request<Incoming>) -> String {
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

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
}

/// As an ALB: the client address is appended to `X-Forwarded-For`; `X-Forwarded-Proto` and
/// `X-Forwarded-Port` name the listener the request arrived on.
fn add_forwarded(headers: &mut HeaderMap, client: SocketAddr, listener: &CompiledListener) {
    let client_ip = client.ip().to_string();
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => format!("{existing}, {client_ip}"),
        _ => client_ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR, v);
    }
    let proto = match listener.protocol {
        pylon_ir::Protocol::Http => "http",
        pylon_ir::Protocol::Https => "https",
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    headers.insert(X_FORWARDED_PORT, HeaderValue::from(listener.port));
}

pub fn fixed(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// The ALB redirect: `#{protocol}`, `#{host}`, `#{port}`, `#{path}` and `#{query}` in each part are
/// replaced by the request's own; the location always names the port, as an ALB's does.
fn redirect_response(
    redirect: &Redirect,
    request: &Request<Incoming>,
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
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut response = fixed(redirect.status, "text/plain", Bytes::new());
            response.headers_mut().insert(header::LOCATION, v);
            response
        }
        Err(_) => fixed(400, "text/plain", Bytes::from_static(b"400 Bad Request\n")),
    }
}
