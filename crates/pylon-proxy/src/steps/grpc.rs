//! The gRPC error mapping. gRPC clients read errors from `grpc-status`: Pylon's own error
//! answers to gRPC requests are rewritten as trailers-only gRPC responses, and a target's
//! response cut short ends with the status a client without Pylon between would have seen.

use super::step::{Exchange, Flow, Step};
use crate::message::answer::Generated;
use crate::message::{full, Body, BoxError};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The first step of every rule: it notes a gRPC request and maps the response it gets back.
#[derive(Debug)]
pub struct GrpcErrors;

/// Noted on a gRPC request.
#[derive(Clone, Copy)]
struct Grpc;

impl Step for GrpcErrors {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        if grpc_content(exchange.request.headers()) {
            exchange.notes.insert(Grpc);
        }
        Flow::Next
    }

    fn response(&self, exchange: &mut Exchange<'_>, response: Response<Body>) -> Response<Body> {
        if exchange.notes.get::<Grpc>().is_none() {
            response
        } else if response.extensions().get::<Generated>().is_some() {
            grpc_error(response)
        } else {
            unavailable_when_cut(response)
        }
    }
}

/// Whether a request or response carries gRPC (`application/grpc`, `application/grpc+proto`…).
fn grpc_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// A gRPC client reads errors from `grpc-status`, not from the HTTP status: Pylon's own error
/// answers to gRPC requests become trailers-only responses, with the code the gRPC spec maps
/// the HTTP status to (`doc/http-grpc-status-mapping.md`).
fn grpc_error(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    if status.is_success() {
        return response;
    }
    let code: u16 = match status.as_u16() {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    };
    let mut out = Response::new(full(Bytes::new()));
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(code));
    let message = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("error")
    );
    if let Ok(v) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", v);
    }
    out
}

/// A target that goes away in the middle of a gRPC response (its connection closed or reset)
/// leaves the call `UNAVAILABLE`, as the client would see it without Pylon between, so its retry
/// policy still applies; passed on as a reset stream it would read `INTERNAL`. The response
/// already began, so the status goes in trailers.
fn unavailable_when_cut(response: Response<Body>) -> Response<Body> {
    if !grpc_content(response.headers()) {
        return response;
    }
    response.map(|body| UnavailableWhenCut { body, ended: false }.boxed())
}

struct UnavailableWhenCut {
    body: Body,
    ended: bool,
}

impl hyper::body::Body for UnavailableWhenCut {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                tracing::debug!(error = %e, "target's gRPC response cut short");
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", HeaderValue::from_static("14"));
                trailers.insert(
                    "grpc-message",
                    HeaderValue::from_static("upstream connection lost"),
                );
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            polled => polled,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
