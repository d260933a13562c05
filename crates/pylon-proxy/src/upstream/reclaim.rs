//! A request body that survives a failed attempt, so that the next target gets all of it.

use crate::message::{Body, BoxError};
use bytes::Bytes;
use hyper::body::{Body as _, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// A request body a failed attempt can hand back: it leaves its shared slot only when first
/// polled, so a request whose connection was never made still has it for the next target.
pub struct Reclaimable {
    slot: Arc<Mutex<Option<Body>>>,
    end_stream: bool,
    hint: SizeHint,
    /// Set when reading the client's body failed.
    failed: Arc<AtomicBool>,
}

impl Reclaimable {
    pub fn new(body: Body) -> Self {
        Reclaimable {
            end_stream: body.is_end_stream(),
            hint: body.size_hint(),
            slot: Arc::new(Mutex::new(Some(body))),
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether an attempt failed because the client's body could not be read.
    pub fn client_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// A handle for one attempt.
    pub fn share(&self) -> Shared {
        Shared {
            slot: self.slot.clone(),
            taken: None,
            end_stream: self.end_stream,
            hint: self.hint,
            failed: self.failed.clone(),
        }
    }

    /// Whether another attempt can send the whole body: no attempt has started reading it.
    pub fn resendable(&self) -> bool {
        self.slot.lock().map(|s| s.is_some()).unwrap_or(false)
    }
}

pub struct Shared {
    slot: Arc<Mutex<Option<Body>>>,
    taken: Option<Body>,
    end_stream: bool,
    hint: SizeHint,
    failed: Arc<AtomicBool>,
}

impl hyper::body::Body for Shared {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.taken.is_none() {
            let taken = self.slot.lock().ok().and_then(|mut s| s.take());
            self.taken = taken;
        }
        let polled = match self.taken.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        };
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.failed.store(true, Ordering::Relaxed);
        }
        polled
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
