//! When a connection served by hyper (HTTP/2 always; HTTP/1.1 on TLS and after the own path
//! hands off) has gone quiet for too long: no complete request within the header read timeout of
//! its start, or none in flight for the load balancer's idle timeout after one was served. Then
//! the connection is shut down gracefully — over HTTP/2 with GOAWAY — as an ALB closes idle
//! connections. A request whose headers never complete (a preface alone, HEADERS followed by
//! slow CONTINUATION frames) is not in flight, so it cannot hold a connection open either.

use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// The requests on one connection: how many are in flight (from the moment their headers are
/// complete to the end, or drop, of their response body) and how many ever started, so that a
/// request that starts and ends between two looks is still seen.
#[derive(Clone, Default)]
pub struct Activity(watch::Sender<Count>);

#[derive(Clone, Copy, Default)]
pub struct Count {
    in_flight: usize,
    started: u64,
}

/// One request in flight; dropping it ends it.
pub struct InFlight(watch::Sender<Count>);

impl Activity {
    /// Counts a request whose headers arrived.
    pub fn start(&self) -> InFlight {
        self.0.send_modify(|c| {
            c.in_flight += 1;
            c.started += 1;
        });
        InFlight(self.0.clone())
    }

    /// Returns once the connection has been quiet too long: nothing in flight for
    /// `first_request` from now before any request, and for `idle()` after each one ends.
    pub async fn quiet(&self, first_request: Duration, idle: impl Fn() -> Duration) {
        let mut changes = self.0.subscribe();
        let mut limit = first_request;
        loop {
            // The sender lives in `self`: waiting never fails.
            let seen = match changes.wait_for(|c| c.in_flight == 0).await {
                Ok(count) => count.started,
                Err(_) => return,
            };
            let active = changes.wait_for(|c| c.in_flight > 0 || c.started != seen);
            if tokio::time::timeout(limit, active).await.is_err() {
                return;
            }
            limit = idle();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .send_modify(|c| c.in_flight = c.in_flight.saturating_sub(1));
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
