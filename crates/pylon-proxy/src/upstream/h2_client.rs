//! Prior-knowledge h2c to targets of HTTP2 and GRPC target groups: one multiplexed connection per
//! target, keyed by the target's address, so that a request's `:authority` can be the client's
//! (RFC 9113 §8.3.1) while the connection goes to the target the balancer picked. A pooled client
//! keyed by the request URI (hyper-util's) cannot do both: its URI names the connection.

use super::attempt::Attempt;
use crate::message::MAX_HEAD_BYTES;
use crate::message::{Body, BoxError};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The h2c connections to targets, shared by every listener.
pub struct H2Pool {
    builder: Builder<TokioExecutor>,
    connections: Mutex<HashMap<SocketAddr, Pooled>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    /// HTTP/2 over TLS (ALPN `h2`) for HTTPS target groups; h2c without.
    tls: Option<Arc<rustls::ClientConfig>>,
}

struct Pooled {
    sender: SendRequest<Body>,
    used: Instant,
}

impl H2Pool {
    pub fn new(
        connect_timeout: Duration,
        idle_timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Self {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            // Targets may send response headers and trailers as large as clients may send
            // request headers (hyper's default advertises 16 KiB).
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        H2Pool {
            builder,
            connections: Mutex::new(HashMap::new()),
            connect_timeout,
            idle_timeout,
            tls,
        }
    }

    /// Sends `request` (its URI holding the scheme, the authority the target should see, and the
    /// path) on the connection to `target`, making one when there is none.
    pub async fn send(
        &self,
        target: SocketAddr,
        request: Request<Body>,
    ) -> Attempt<Response<Incoming>> {
        let (mut sender, fresh) = match self.ready(target) {
            Some(sender) => (sender, false),
            None => match self.connect(target).await {
                Ok(sender) => (sender, true),
                Err(e) => return Attempt::Refused(e),
            },
        };
        if let Err(e) = sender.ready().await {
            self.forget(target);
            return if fresh {
                Attempt::Refused(Box::new(e))
            } else {
                // The pooled connection closed before this request left: nothing was sent.
                Attempt::Unanswered(Box::new(e))
            };
        }
        match sender.send_request(request).await {
            Ok(response) => Attempt::Answered(response),
            // Refused before it was processed (GOAWAY, REFUSED_STREAM) or the connection closed
            // before any answer: the target saw nothing it acted on.
            Err(e) if e.is_canceled() || e.is_closed() => {
                self.forget(target);
                Attempt::Unanswered(Box::new(e))
            }
            Err(e) => Attempt::Failed(Box::new(e)),
        }
    }

    /// A live connection to `target`, if one is pooled.
    fn ready(&self, target: SocketAddr) -> Option<SendRequest<Body>> {
        let mut connections = self.connections.lock().ok()?;
        let pooled = connections.get_mut(&target)?;
        if pooled.sender.is_closed() {
            connections.remove(&target);
            return None;
        }
        pooled.used = Instant::now();
        Some(pooled.sender.clone())
    }

    fn forget(&self, target: SocketAddr) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.remove(&target);
        }
    }

    async fn connect(&self, target: SocketAddr) -> Result<SendRequest<Body>, BoxError> {
        let stream =
            tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(target))
                .await
                .map_err(|_| -> BoxError {
                    format!("connecting to {target} timed out").into()
                })??;
        stream.set_nodelay(true)?;
        let sender = match &self.tls {
            None => {
                let (sender, connection) = self.builder.handshake(TokioIo::new(stream)).await?;
                run(target, connection);
                sender
            }
            Some(config) => {
                let stream = super::tls::handshake(config, target, stream).await?;
                if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(
                        format!("{target} did not agree to HTTP/2 (ALPN h2) over TLS").into(),
                    );
                }
                let (sender, connection) = self.builder.handshake(TokioIo::new(stream)).await?;
                run(target, connection);
                sender
            }
        };
        if let Ok(mut connections) = self.connections.lock() {
            // Connections unused past the idle timeout close once their last stream ends (the
            // connection task ends when no sender is left), so targets that left do not linger.
            let now = Instant::now();
            connections.retain(|_, p| !p.sender.is_closed() && now - p.used < self.idle_timeout);
            connections.insert(
                target,
                Pooled {
                    sender: sender.clone(),
                    used: now,
                },
            );
        }
        Ok(sender)
    }
}

/// Drives a connection to a target until it ends.
fn run(
    target: SocketAddr,
    connection: impl std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(%target, error = %e, "HTTP/2 connection to target ended with an error");
        }
    });
}
