//! A response body that logs its request once the body is done (or abandoned), counting the
//! bytes it sent: to the access log, to the rule's Lattice access logs, or both.

use super::access_log::{AccessLog, Entry};
use super::lattice_log::LatticeEntry;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A response body that counts what it sends and logs its request when it is done: to the
/// access log, to the rule's Lattice access logs, or both.
pub struct Logged<B> {
    inner: B,
    entry: Option<(Entry, AccessLog)>,
    lattice: Option<Box<LatticeEntry>>,
    bytes: u64,
}

impl<B> Logged<B> {
    pub fn new(
        inner: B,
        entry: Option<(Entry, AccessLog)>,
        lattice: Option<Box<LatticeEntry>>,
    ) -> Self {
        Logged {
            inner,
            entry,
            lattice,
            bytes: 0,
        }
    }
}

impl<B> Drop for Logged<B> {
    fn drop(&mut self) {
        if let Some((mut entry, log)) = self.entry.take() {
            if let Some(started) = entry.started {
                entry.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            }
            entry.bytes = self.bytes;
            if let Ok(mut line) = serde_json::to_vec(&entry) {
                line.push(b'\n');
                log.send(line);
            }
        }
        if let Some(lattice) = self.lattice.take() {
            lattice.finish(self.bytes);
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Logged<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
