//! When a connection served by hyper (HTTP/2 always; HTTP/1.1 on TLS and after the own path
//! hands off) has gone quiet for too long: no complete request within the header read timeout of
//! its start, or none in flight for the load balancer's idle timeout after one was served. Then
//! the connection is shut down gracefully — over HTTP/2 with GOAWAY — as an ALB closes idle
//! connections, and an HTTP/1.1 client that had begun a request head gets 408 first. A request
//! whose headers never complete (a preface alone, HEADERS followed by slow CONTINUATION frames)
//! is not in flight, so it cannot hold a connection open either.

use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{oneshot, watch};

/// What one connection is doing: how many requests are in flight (from the moment their headers
/// are complete to the end, or drop, of their response body), how many ever started (so that a
/// request that starts and ends between two looks is still seen), and how many bytes the client
/// has sent, so that a request head begun and not finished can be told from an idle connection.
#[derive(Clone, Default)]
pub struct Activity(Arc<Shared>);

#[derive(Default)]
struct Shared {
    count: watch::Sender<Count>,
    read: AtomicU64,
    http2: AtomicBool,
}

#[derive(Clone, Copy, Default)]
struct Count {
    in_flight: usize,
    started: u64,
    /// Bytes read when the last request ended.
    read_when_idle: u64,
}

/// One request in flight; dropping it ends it.
pub struct InFlight(Arc<Shared>);

impl Activity {
    /// Counts a request whose headers arrived.
    pub fn start(&self) -> InFlight {
        self.0.count.send_modify(|c| {
            c.in_flight += 1;
            c.started += 1;
        });
        InFlight(self.0.clone())
    }

    /// Returns once the connection has been quiet too long: nothing in flight for
    /// `first_request` from now before any request, and for `idle()` after one was served.
    pub async fn quiet(&self, first_request: Duration, idle: impl Fn() -> Duration) {
        let mut changes = self.0.count.subscribe();
        loop {
            // The sender lives in `self`: waiting never fails.
            let Ok(count) = changes.wait_for(|c| c.in_flight == 0).await.map(|c| *c) else {
                return;
            };
            let limit = if count.started == 0 {
                first_request
            } else {
                idle()
            };
            let active = changes.wait_for(|c| c.in_flight > 0 || c.started != count.started);
            if tokio::time::timeout(limit, active).await.is_err() {
                return;
            }
        }
    }

    /// Whether an HTTP/1.1 client has begun a request head it has not finished: nothing in
    /// flight, and bytes sent since the last request ended.
    pub fn partial_http1_head(&self) -> bool {
        let count = *self.0.count.borrow();
        !self.0.http2.load(Ordering::Relaxed)
            && count.in_flight == 0
            && self.0.read.load(Ordering::Relaxed) > count.read_when_idle
    }

    fn read(&self, bytes: &[u8]) {
        let before = self.0.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if before == 0 && bytes.starts_with(b"PRI ") {
            self.0.http2.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let read = self.0.read.load(Ordering::Relaxed);
        self.0.count.send_modify(|c| {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.read_when_idle = read;
        });
    }
}

/// A client connection as hyper's server reads it: the bytes counted into its [`Activity`], and
/// the stream handed back when hyper lets go of it, so that Pylon can still answer on it (408).
pub struct Watched<S> {
    io: Option<S>,
    activity: Activity,
    back: Option<oneshot::Sender<S>>,
}

impl<S> Watched<S> {
    /// The wrapped stream, and where it comes back once the wrapper is dropped.
    pub fn new(io: S, activity: Activity) -> (Self, oneshot::Receiver<S>) {
        let (back, returned) = oneshot::channel();
        let watched = Watched {
            io: Some(io),
            activity,
            back: Some(back),
        };
        (watched, returned)
    }

    fn io(&mut self) -> Pin<&mut S>
    where
        S: Unpin,
    {
        Pin::new(self.io.as_mut().expect("the stream is taken only on drop"))
    }
}

impl<S> Drop for Watched<S> {
    fn drop(&mut self) {
        if let (Some(io), Some(back)) = (self.io.take(), self.back.take()) {
            let _ = back.send(io);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.io().poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.io().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.io().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}

/// A response body that keeps its request in flight until it ends or is dropped.
pub struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_request_served_before_the_first_look_earns_the_idle_timeout() {
        let activity = Activity::default();
        drop(activity.start());
        let started = Instant::now();
        activity
            .quiet(Duration::from_millis(20), || Duration::from_millis(300))
            .await;
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn bytes_after_the_last_request_are_a_partial_head_unless_http2() {
        let activity = Activity::default();
        assert!(!activity.partial_http1_head());
        activity.read(b"GET / HTTP/1.1\r\n");
        assert!(activity.partial_http1_head());
        let in_flight = activity.start();
        assert!(!activity.partial_http1_head(), "a request is in flight");
        drop(in_flight);
        assert!(
            !activity.partial_http1_head(),
            "nothing read since it ended"
        );
        let http2 = Activity::default();
        http2.read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(!http2.partial_http1_head());
    }
}
