//! Gateway API request mirrors (RequestMirror): a copy of the request, as the target gets it, to
//! another target group, its answer ignored.

use super::step::{Exchange, Flow, Step};
use crate::message::{answer, boxed, full, Body};
use crate::upstream::balance::TargetGroupRuntime;
use crate::upstream::Failure;
use bytes::Bytes;
use http::header;
use http::Request;
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a mirror target may take; its answer is ignored.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bodies up to this size are copied for mirrors; larger or streamed ones are not mirrored.
const MIRROR_BODY_LIMIT: u64 = 1 << 20;

#[derive(Debug)]
pub struct Mirror {
    group: Arc<TargetGroupRuntime>,
    numerator: u64,
    denominator: u64,
    seen: AtomicU64,
}

impl Mirror {
    pub fn new(group: Arc<TargetGroupRuntime>, numerator: u32, denominator: u32) -> Self {
        Mirror {
            group,
            numerator: u64::from(numerator),
            denominator: u64::from(denominator),
            seen: AtomicU64::new(0),
        }
    }

    /// Whether this request is mirrored: `numerator` of every `denominator` requests, spread evenly.
    fn take(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        self.denominator > 0
            && (n % self.denominator) * self.numerator / self.denominator
                != ((n % self.denominator) + 1) * self.numerator / self.denominator
    }
}

impl Step for Mirror {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        if !self.take() {
            return Flow::Next;
        }
        let Some(copy) = body_copy(&mut exchange.request).await else {
            return Flow::Answer(answer::error(400, b"400 Bad Request: unreadable body\n"));
        };
        let Some(copy) = copy else {
            tracing::debug!("request body too large or streamed: not mirrored");
            return Flow::Next;
        };
        let request = &exchange.request;
        let mut builder = Request::builder()
            .method(request.method().clone())
            .uri(request.uri().clone());
        if let Some(h) = builder.headers_mut() {
            *h = request.headers().clone();
        }
        if let Ok(mirrored) = builder.body(full(copy)) {
            let clients = exchange.clients.clone();
            let group = self.group.clone();
            tokio::spawn(async move {
                if let Err(Failure::Failed(target, e)) =
                    clients.send(&group, mirrored, MIRROR_TIMEOUT).await
                {
                    tracing::debug!(%target, error = %e, "mirror target failed");
                }
            });
        }
        Flow::Next
    }
}

/// The request body's bytes for a copy, read into memory and put back, when its length is known
/// and small; `Some(None)` when it is too large or streamed, `None` when it cannot be read.
async fn body_copy(request: &mut Request<Body>) -> Option<Option<Bytes>> {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let streamed = length.is_none() && request.headers().contains_key(header::TRANSFER_ENCODING);
    match length {
        Some(n) if n <= MIRROR_BODY_LIMIT => {
            let body = std::mem::replace(
                request.body_mut(),
                boxed(http_body_util::Empty::<Bytes>::new()),
            );
            let bytes = body.collect().await.ok()?.to_bytes();
            *request.body_mut() = full(bytes.clone());
            Some(Some(bytes))
        }
        None if !streamed => Some(Some(Bytes::new())),
        _ => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_take_their_share() {
        let m = Mirror::new(
            Arc::new(TargetGroupRuntime::new("tg".into(), false, vec![])),
            1,
            4,
        );
        assert_eq!((0..100).filter(|_| m.take()).count(), 25);
    }
}
