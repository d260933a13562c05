//! Sending a request to a target group: the client its protocol needs (HTTP/1.1, or prior-knowledge
//! h2c for HTTP2 and GRPC target groups; both over TLS for HTTPS target groups), another target when a connection cannot be made (the
//! request had not left, so nothing is sent twice) or when an idempotent request's connection
//! closed before any answer, passive ejection of targets that refuse connections, and HTTP/1.1
//! upgrades (WebSocket and the like) tunnelled both ways.

mod attempt;
pub mod balance;
mod h1_client;
mod h2_client;
pub mod health;
mod reclaim;
mod tls;
mod tunnel;

pub use h1_client::decode_response;
pub use tunnel::tunnel;

use crate::message::{boxed, Body, BoxError};
use attempt::Attempt;
use balance::{Picked, TargetGroupRuntime};
use h1_client::{Pool, RequestHead};
use h2_client::H2Pool;
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reclaim::Reclaimable;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

type UpstreamClient = Client<HttpConnector, Body>;
type TlsUpstreamClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// How long a target may take to accept a connection (the ALB's target connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a connection to a target buffers while reading (hyper grows its buffer up to
/// 400 KiB by default, per connection, on large responses).
const UPSTREAM_READ_BUFFER: usize = 64 * 1024;
/// How long a connection to a target is kept unused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per target: a burst opens more, and the surplus closes when it ends.
const IDLE_PER_TARGET: usize = 128;
/// How many targets one request may try when connections are refused.
const CONNECT_ATTEMPTS: usize = 3;

/// The clients every listener shares: one per protocol targets speak, and the connections of the
/// HTTP/1.1 path for requests without a body.
pub struct Clients {
    http1: UpstreamClient,
    http2: H2Pool,
    pool: Arc<Pool>,
    /// HTTPS target groups: HTTP/1.1 and HTTP/2 over TLS.
    https1: TlsUpstreamClient,
    https2: H2Pool,
}

impl Default for Clients {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let builder = || {
            let mut b = Client::builder(TokioExecutor::new());
            b.pool_idle_timeout(IDLE_TIMEOUT)
                .pool_max_idle_per_host(IDLE_PER_TARGET)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .http1_max_buf_size(UPSTREAM_READ_BUFFER);
            b
        };
        let mut tls_connector = connector.clone();
        tls_connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls::client_config(None)).clone())
            .https_only()
            .enable_http1()
            .wrap_connector(tls_connector);
        Clients {
            http1: builder().build(connector),
            http2: H2Pool::new(CONNECT_TIMEOUT, IDLE_TIMEOUT, None),
            pool: Arc::new(Pool::new(IDLE_TIMEOUT, IDLE_PER_TARGET)),
            https1: builder().build(https),
            https2: H2Pool::new(
                CONNECT_TIMEOUT,
                IDLE_TIMEOUT,
                Some(tls::client_config(Some(b"h2"))),
            ),
        }
    }
}

/// Why no response came back from a target.
pub enum Failure {
    /// The target group has no targets.
    NoTarget,
    /// The target did not answer within the limit.
    Timeout(SocketAddr),
    /// The rewritten path and query do not form a URI.
    InvalidPath,
    /// The target left its group and the request outlived its deregistration delay.
    Drained(SocketAddr),
    /// The connection failed or broke (after retrying other targets where that was safe).
    Failed(SocketAddr, BoxError),
    /// The client's request body could not be read (malformed chunked framing, a client that
    /// went away): the client's fault, not the target's.
    ClientBody(BoxError),
}

impl Clients {
    /// Sends `request` (its URI holding only path and query) to a target of `group`. A target
    /// that refuses the connection is ejected for a while and the request goes to another one, as
    /// does an idempotent request whose connection closed unanswered; up to three targets are
    /// tried, and `limit` bounds each attempt.
    pub async fn send(
        &self,
        group: &TargetGroupRuntime,
        request: Request<Body>,
        limit: Duration,
    ) -> Result<(SocketAddr, Response<Body>), Failure> {
        let upgrade = request.headers().contains_key(http::header::UPGRADE);
        // Upgrades are HTTP/1.1 whatever the group speaks.
        let http2 = group.http2 && !upgrade;
        let (mut parts, body) = request.into_parts();
        // hyper's HTTP/1.1 client sends a GET, HEAD or CONNECT body of unknown length (chunked
        // from an HTTP/1.1 client, DATA without content-length from an HTTP/2 one) as no body
        // at all unless `Transfer-Encoding` says otherwise: say it, so no body is dropped.
        let unknown_length = !body.is_end_stream()
            && body.size_hint().exact().is_none()
            && !parts.headers.contains_key(http::header::CONTENT_LENGTH);
        if !http2 && !upgrade && unknown_length {
            parts.headers.insert(
                http::header::TRANSFER_ENCODING,
                http::HeaderValue::from_static("chunked"),
            );
        }
        let idempotent = parts.method.is_idempotent();
        let attempts = group.len().clamp(1, CONNECT_ATTEMPTS);
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        // Without a body, to an HTTP/1.1 target: encoded once, sent on the pool's connections.
        let plain = !group.http2
            && !group.tls
            && !upgrade
            && body.is_end_stream()
            && parts.method != http::Method::CONNECT;
        let head =
            plain.then(|| RequestHead::new(&parts.method, path_and_query.as_str(), &parts.headers));
        // An empty body is made again for each attempt; another is kept to be handed back.
        let body = if body.is_end_stream() {
            None
        } else {
            Some(Reclaimable::new(body))
        };
        let mut parts = Some(parts);
        let mut tried = [SocketAddr::from(([0, 0, 0, 0], 0)); CONNECT_ATTEMPTS];
        let mut attempt_count = 0;
        loop {
            let Some(picked) = group.pick_excluding(&tried[..attempt_count]) else {
                return Err(Failure::NoTarget);
            };
            let target = picked.addr;
            tried[attempt_count] = target;
            attempt_count += 1;
            let last = attempt_count >= attempts;
            let attempted = match &head {
                Some(head) => {
                    let exchange = h1_client::exchange(
                        &self.pool,
                        target,
                        picked.authority.as_str(),
                        head,
                        CONNECT_TIMEOUT,
                    );
                    bounded(exchange, limit, &picked)
                        .await?
                        .map(|r| r.map(boxed))
                }
                None => {
                    // Headers are copied only while another attempt may need them.
                    let attempt = if last {
                        parts.take().expect("parts kept for the last attempt")
                    } else {
                        let p = parts.as_ref().expect("parts kept until the last attempt");
                        let mut copy = Request::new(()).into_parts().0;
                        copy.method = p.method.clone();
                        copy.headers = p.headers.clone();
                        copy
                    };
                    let request = hyper_request(
                        attempt,
                        http2,
                        group.tls,
                        picked.authority.clone(),
                        path_and_query.clone(),
                        body.as_ref(),
                    )?;
                    let exchange = async {
                        if http2 {
                            let pool = if group.tls { &self.https2 } else { &self.http2 };
                            return pool.send(target, request).await.map(|r| r.map(boxed));
                        }
                        let answer = if group.tls {
                            self.https1.request(request).await
                        } else {
                            self.http1.request(request).await
                        };
                        match answer {
                            Ok(response) => Attempt::Answered(response.map(boxed)),
                            Err(e) if e.is_connect() => Attempt::Refused(Box::new(e)),
                            Err(e) if closed_unanswered(&e) => Attempt::Unanswered(Box::new(e)),
                            Err(e) => Attempt::Failed(Box::new(e)),
                        }
                    };
                    bounded(exchange, limit, &picked).await?
                }
            };
            let resendable = body.as_ref().is_none_or(Reclaimable::resendable);
            // A refused connection never reached the target; an idempotent request whose
            // connection closed before any answer is safe to send again.
            let e = match attempted {
                Attempt::Answered(response) => return Ok((target, response)),
                Attempt::Refused(e) => {
                    group.eject(target);
                    e
                }
                Attempt::Unanswered(e) if idempotent => e,
                Attempt::Unanswered(e) | Attempt::Failed(e)
                    if body.as_ref().is_some_and(Reclaimable::client_failed) =>
                {
                    return Err(Failure::ClientBody(e))
                }
                Attempt::Unanswered(e) | Attempt::Failed(e) => {
                    return Err(Failure::Failed(target, e))
                }
            };
            if last || !resendable {
                return Err(Failure::Failed(target, e));
            }
            tracing::debug!(%target, target_group = %group.id, error = %e, "target failed before answering; trying another target");
        }
    }
}

/// One attempt's request for hyper's clients, the body shared between attempts. To an HTTP/1.1
/// target the URI names the target (hyper's client connects to it; the client's `Host` goes
/// as it is); to an HTTP/2 target the client's host becomes `:authority`, as RFC 9113 §8.3.1
/// has an intermediary do, and `Host` is not sent beside it.
fn hyper_request(
    mut parts: http::request::Parts,
    http2: bool,
    tls: bool,
    target: http::uri::Authority,
    path_and_query: PathAndQuery,
    body: Option<&Reclaimable>,
) -> Result<Request<Body>, Failure> {
    let authority = if http2 {
        parts.version = http::Version::HTTP_2;
        parts
            .headers
            .remove(http::header::HOST)
            .and_then(|host| http::uri::Authority::try_from(host.as_bytes()).ok())
            .unwrap_or(target)
    } else {
        parts.version = http::Version::HTTP_11;
        target
    };
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(if tls { Scheme::HTTPS } else { Scheme::HTTP });
    uri.authority = Some(authority);
    uri.path_and_query = Some(path_and_query);
    parts.uri = Uri::from_parts(uri).map_err(|_| Failure::InvalidPath)?;
    let body = match body {
        Some(body) => body.share().boxed(),
        None => http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    };
    Ok(Request::from_parts(parts, body))
}

/// Runs one attempt within `limit`, cut short when the target's deregistration delay is over.
async fn bounded<T>(
    attempt: impl std::future::Future<Output = Attempt<T>>,
    limit: Duration,
    picked: &Picked<'_>,
) -> Result<Attempt<T>, Failure> {
    tokio::select! {
        answered = tokio::time::timeout(limit, attempt) => {
            answered.map_err(|_| Failure::Timeout(picked.addr))
        }
        // The target left its group and its deregistration delay is over.
        () = picked.health.drained() => Err(Failure::Drained(picked.addr)),
    }
}

/// Whether the connection closed before any part of an answer arrived (the target went away).
fn closed_unanswered(e: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_incomplete_message)
}
