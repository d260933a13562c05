//! gRPC clients read errors from `grpc-status`: Pylon's own error answers to gRPC requests are
//! rewritten as trailers-only gRPC responses.

use crate::forward::full;
use crate::upstream::Body;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response};

/// Marks a response Pylon made itself rather than one a target sent.
#[derive(Clone, Copy)]
pub struct Generated;

pub fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// A gRPC client reads errors from `grpc-status`, not from the HTTP status: Pylon's own error
/// answers to gRPC requests become trailers-only responses, with the code the gRPC spec maps
/// the HTTP status to (`doc/http-grpc-status-mapping.md`).
pub fn grpc_error(response: Response<Body>) -> Response<Body> {
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
