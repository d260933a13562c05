//! Sending a request to a target group: the client its protocol needs (HTTP/1.1, or prior-knowledge
//! h2c for HTTP2 and GRPC target groups), another target when a connection cannot be made (the
//! request had not left, so nothing is sent twice) or when an idempotent request's connection
//! closed before any answer, passive ejection of targets that refuse connections, and HTTP/1.1
//! upgrades (WebSocket and the like) tunnelled both ways.

use crate::balance::TargetGroupRuntime;
use bytes::Bytes;
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

pub type Body = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;
type UpstreamClient = Client<HttpConnector, Body>;

/// How long a target may take to accept a connection (the ALB's target connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a connection to a target buffers while reading (hyper grows its buffer up to
/// 400 KiB by default, per connection, on large responses).
const UPSTREAM_READ_BUFFER: usize = 64 * 1024;
/// Idle connections kept per target: a burst opens more, and the surplus closes when it ends.
const IDLE_PER_TARGET: usize = 128;
/// How many targets one request may try when connections are refused.
const CONNECT_ATTEMPTS: usize = 3;

/// The clients every listener shares: one per protocol targets speak.
pub struct Clients {
    http1: UpstreamClient,
    http2: UpstreamClient,
}

impl Default for Clients {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = |http2: bool| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(IDLE_PER_TARGET)
                .pool_timer(TokioTimer::new())
                .timer(TokioTimer::new())
                .http1_max_buf_size(UPSTREAM_READ_BUFFER)
                .http2_only(http2)
                .build(connector.clone())
        };
        Clients {
            http1: client(false),
            http2: client(true),
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
    Failed(SocketAddr, hyper_util::client::legacy::Error),
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
    ) -> Result<(SocketAddr, Response<Incoming>), Failure> {
        let upgrade = request.headers().contains_key(http::header::UPGRADE);
        let (client, version) = if group.http2 && !upgrade {
            (&self.http2, http::Version::HTTP_2)
        } else {
            (&self.http1, http::Version::HTTP_11)
        };
        let (parts, body) = request.into_parts();
        let idempotent = parts.method.is_idempotent();
        let attempts = group.len().clamp(1, CONNECT_ATTEMPTS);
        let path_and_query = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
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
            let (target, authority) = (picked.addr, picked.authority);
            tried[attempt_count] = target;
            attempt_count += 1;
            let last = attempt_count >= attempts;
            // Headers are copied only while another attempt may need them.
            let mut attempt = if last {
                parts.take().expect("parts kept for the last attempt")
            } else {
                let p = parts.as_ref().expect("parts kept until the last attempt");
                let mut copy = Request::new(()).into_parts().0;
                copy.method = p.method.clone();
                copy.headers = p.headers.clone();
                copy
            };
            attempt.version = version;
            let mut uri = http::uri::Parts::default();
            uri.scheme = Some(Scheme::HTTP);
            uri.authority = Some(authority);
            uri.path_and_query = Some(path_and_query.clone());
            attempt.uri = Uri::from_parts(uri).map_err(|_| Failure::InvalidPath)?;
            let attempt_body = match &body {
                Some(body) => body.share().boxed(),
                None => http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed(),
            };
            let request = Request::from_parts(attempt, attempt_body);
            let answered = tokio::select! {
                answered = tokio::time::timeout(limit, client.request(request)) => answered,
                // The target left its group and its deregistration delay is over.
                () = picked.health.drained() => return Err(Failure::Drained(target)),
            };
            match answered {
                Ok(Ok(response)) => return Ok((target, response)),
                Ok(Err(e)) => {
                    // A refused connection never reached the target; an idempotent request
                    // whose connection closed before any answer is safe to send again.
                    let refused = e.is_connect();
                    if refused {
                        group.eject(target);
                    }
                    let again = refused || (idempotent && closed_unanswered(&e));
                    let resendable = body.as_ref().is_none_or(Reclaimable::resendable);
                    if last || !again || !resendable {
                        return Err(Failure::Failed(target, e));
                    }
                    tracing::debug!(%target, target_group = %group.id, error = %e, "target failed before answering; trying another target");
                }
                Err(_) => return Err(Failure::Timeout(target)),
            }
        }
    }
}

/// Whether the connection closed before any part of an answer arrived (the target went away).
fn closed_unanswered(e: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_incomplete_message)
}

/// Tunnels an upgraded connection (WebSocket and the like) between the client and the target once
/// both sides have switched protocols.
pub fn tunnel(client: hyper::upgrade::OnUpgrade, target: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (client, target) = match tokio::try_join!(client, target) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let (mut client, mut target) = (TokioIo::new(client), TokioIo::new(target));
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut target).await {
            tracing::debug!(error = %e, "upgraded connection ended with an error");
        }
    });
}

/// A request body a failed attempt can hand back: it leaves its shared slot only when first
/// polled, so a request whose connection was never made still has it for the next target.
struct Reclaimable {
    slot: Arc<Mutex<Option<Body>>>,
    end_stream: bool,
    hint: SizeHint,
}

impl Reclaimable {
    fn new(body: Body) -> Self {
        Reclaimable {
            end_stream: body.is_end_stream(),
            hint: body.size_hint(),
            slot: Arc::new(Mutex::new(Some(body))),
        }
    }

    /// A handle for one attempt.
    fn share(&self) -> Shared {
        Shared {
            slot: self.slot.clone(),
            taken: None,
            end_stream: self.end_stream,
            hint: self.hint,
        }
    }

    /// Whether another attempt can send the whole body: no attempt has started reading it.
    fn resendable(&self) -> bool {
        self.slot.lock().map(|s| s.is_some()).unwrap_or(false)
    }
}

struct Shared {
    slot: Arc<Mutex<Option<Body>>>,
    taken: Option<Body>,
    end_stream: bool,
    hint: SizeHint,
}

impl hyper::body::Body for Shared {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.taken.is_none() {
            let taken = self.slot.lock().ok().and_then(|mut s| s.take());
            self.taken = taken;
        }
        match self.taken.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.taken {
            Some(body) => body.is_end_stream(),
            None => self.end_stream,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.taken {
            Some(body) => body.size_hint(),
            None => self.hint,
        }
    }
}
