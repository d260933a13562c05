//! Responses Pylon makes itself (fixed responses, redirects, errors), marked as such so that
//! later steps can tell them from a target's.

use super::body::{full, Body};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// Marks a response Pylon made itself rather than one a target sent.
#[derive(Clone, Copy)]
pub struct Generated;

/// A response of Pylon's own.
pub fn fixed(status: u16, content_type: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
    response.extensions_mut().insert(Generated);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

/// A plain-text error of Pylon's own, such as `503 Service Unavailable: no targets`.
pub fn error(status: u16, text: &'static [u8]) -> Response<Body> {
    fixed(status, "text/plain", Bytes::from_static(text))
}

/// A 400 for a request Pylon cannot read as the client meant it; the connection closes after
/// it, since the rest of it may not be framed as Pylon read it.
pub fn refuse(body: &'static [u8]) -> Response<Body> {
    let mut response = error(400, body);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A redirect to `location`, or 400 when it is not a header value.
pub fn redirect_to(status: u16, location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut response = fixed(status, "text/plain", Bytes::new());
            response.headers_mut().insert(header::LOCATION, v);
            response
        }
        Err(_) => error(400, b"400 Bad Request\n"),
    }
}
