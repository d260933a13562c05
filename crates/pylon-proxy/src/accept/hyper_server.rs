//! A client connection on hyper's server — HTTP/2 always, HTTP/1.1 on TLS listeners and after
//! the own HTTP/1.1 path hands a connection off: the service that forwards each request, the
//! server's limits, and the close of connections that stay quiet too long.

use super::h1_server::REQUEST_TIMEOUT;
use super::idle::{Activity, Tracked, Watched};
use super::request::{self, Context};
use crate::message::{Client, MAX_HEAD_BYTES};
use crate::route::CompiledListener;
use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// Serves `stream` until it closes, the listener stops or it stays quiet too long.
pub async fn serve<S>(
    stream: S,
    client: Client,
    config: Arc<ArcSwap<CompiledListener>>,
    context: Arc<Context>,
    mut stopped: watch::Receiver<()>,
    http2_only: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = context.header_read_timeout;
    let peer = client.addr;
    let activity = Activity::default();
    let quiet = {
        let (activity, config) = (activity.clone(), config.clone());
        async move {
            let idle = || config.load().idle_timeout;
            activity.quiet(header_read_timeout, idle).await
        }
    };
    tokio::pin!(quiet);
    let (stream, returned) = Watched::new(stream, activity.clone());
    let watched = activity.clone();
    let service = service_fn(move |request| {
        // Each request routes on the configuration current when it arrives, and keeps it.
        let listener = config.load_full();
        let context = context.clone();
        let client = client.clone();
        let in_flight = activity.start();
        async move {
            let response = request::handle(request, listener, context, client).await;
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, in_flight)))
        }
    });
    // HTTP/1.1, or HTTP/2 when the client starts with its preface (prior-knowledge h2c on
    // plaintext listeners, ALPN `h2` on TLS ones). HTTP/1.1 connections may be upgraded. The
    // header read timeout is Pylon's (below), not hyper's, which closes without a 408.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    // The two kinds of connection are different types with the same way of ending; the block
    // says whether a request head timed out, once the connection has let go of the stream.
    macro_rules! drive {
        ($connection:expr) => {{
            let connection = $connection;
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    false
                }
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                    false
                }
                // Quiet too long. An HTTP/1.1 request head begun and not finished gets 408, as
                // an ALB sends; otherwise the connection closes gracefully: GOAWAY over HTTP/2.
                // Nothing is in flight, so the close is not waited on for long.
                () = &mut quiet => {
                    tracing::debug!(%peer, "closing a quiet connection");
                    if watched.partial_http1_head() {
                        true
                    } else {
                        connection.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(header_read_timeout, connection).await;
                        false
                    }
                }
            }
        }};
    }
    let timed_out = if http2_only {
        // HTTP/2 only: an invalid preface ends the connection at the HTTP/2 level (h2spec 3.5),
        // never with an HTTP/1.1 400.
        let builder = builder.http2_only();
        drive!(builder.serve_connection(TokioIo::new(stream), service))
    } else {
        drive!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service))
    };
    if timed_out {
        if let Ok(mut stream) = returned.await {
            let _ = stream.write_all(REQUEST_TIMEOUT).await;
            let _ = stream.shutdown().await;
        }
    }
}
