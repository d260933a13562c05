//! What every request's head must satisfy before it is routed, on every server path (Pylon's
//! own HTTP/1.1 path, hyper's HTTP/1.1 and HTTP/2): the checks of RFC 9112 §3.2 and §6.3 that
//! nginx and HAProxy make too, so that a target never sees a request whose host or length Pylon
//! read differently from it.

use http::header::{self, HeaderValue};
use http::{Request, Uri, Version};

/// Why a request head is refused with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// More than one `Host` field (RFC 9112 §3.2).
    SeveralHosts,
    /// An HTTP/1.1 request without `Host` (RFC 9112 §3.2).
    NoHost,
    /// A `Content-Length` that is not one non-negative number below 2^63.
    BadContentLength,
}

impl Refused {
    pub fn body(self) -> &'static [u8] {
        match self {
            Refused::SeveralHosts => b"400 Bad Request: more than one Host field\n",
            Refused::NoHost => b"400 Bad Request: an HTTP/1.1 request needs a Host field\n",
            Refused::BadContentLength => b"400 Bad Request: invalid Content-Length\n",
        }
    }
}

/// Checks and normalises a request head in place:
/// - an absolute-form target (`GET http://host/path HTTP/1.1`) is routed on its authority, which
///   replaces `Host` (RFC 9112 §3.2.2), and forwarded in origin form;
/// - `Content-Length` with leading zeros (or repeated, all equal) becomes one canonical value.
pub fn check<B>(request: &mut Request<B>) -> Result<(), Refused> {
    let http1 = matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(Refused::SeveralHosts);
    }
    if http1 {
        if let Some(authority) = request.uri().authority() {
            let host = HeaderValue::from_str(authority.as_str()).map_err(|_| Refused::NoHost)?;
            let origin = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            request.headers_mut().insert(header::HOST, host);
            *request.uri_mut() = Uri::try_from(origin).map_err(|_| Refused::NoHost)?;
        } else if hosts == 0 && request.version() == Version::HTTP_11 {
            return Err(Refused::NoHost);
        }
    }
    normalize_content_length(request)
}

fn normalize_content_length<B>(request: &mut Request<B>) -> Result<(), Refused> {
    let mut length: Option<u64> = None;
    let mut canonical = true;
    for value in request.headers().get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            let parsed = parse_length(part).ok_or(Refused::BadContentLength)?;
            if length.is_some_and(|l| l != parsed) {
                return Err(Refused::BadContentLength);
            }
            canonical &= length.is_none() && (part == b"0" || part.first() != Some(&b'0'));
            length = Some(parsed);
        }
    }
    if let (Some(length), false) = (length, canonical) {
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(())
}

/// A decimal length below 2^63 (what a signed 64-bit length can hold, as nginx and HAProxy
/// accept), digits only.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let significant = std::str::from_utf8(digits).ok()?.trim_start_matches('0');
    let value: u64 = match significant {
        "" => 0,
        // A number beyond u64 fails to parse: refused too.
        digits => digits.parse().ok()?,
    };
    (value <= i64::MAX as u64).then_some(value)
}

#[cfg(test)]
mod tests;
