//! The canonical request and the string to sign, rebuilt from what arrived.
//!
//! Written here rather than taken from `aws-sigv4`: that crate is a signer, which chooses the
//! headers it signs and keeps its canonical request private. A verifier must rebuild exactly
//! the request the client signed, with the headers the client listed, so the canonical form is
//! built here and `aws-sigv4` supplies the keys and the HMAC.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// SigV4's `UriEncode`: everything but the unreserved characters `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/` (for paths).
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The request line and headers a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    /// The path as it arrived, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The URI's authority, which stands for `host` when the request has no such header
    /// (HTTP/2's `:authority`).
    pub authority: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
}

impl<'a> Signed<'a> {
    /// What of `request` a signature covers.
    pub fn of<B>(request: &'a http::Request<B>) -> Self {
        let uri = request.uri();
        Signed {
            method: request.method().as_str(),
            path: uri.path(),
            query: uri.query(),
            authority: uri.authority().map(|a| a.as_str()),
            headers: request.headers(),
        }
    }
}

/// The canonical paths a client may have signed. Services other than S3 sign the normalized
/// path encoded once more (botocore, the AWS SDKs: `%` becomes `%25`); some clients (curl)
/// sign the path as sent. Both are tried, the SDKs' form first.
pub fn paths(path: &str) -> Vec<Cow<'_, str>> {
    let path = if path.is_empty() { "/" } else { path };
    let normalized = normalize(path);
    let double = Cow::Owned(utf8_percent_encode(&normalized, PATH).to_string());
    if double == path {
        vec![double]
    } else {
        vec![double, Cow::Borrowed(path)]
    }
}

/// RFC 3986 dot-segment removal, keeping a trailing slash.
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut normalized = format!("/{}", out.join("/"));
    if (path.ends_with("/.") || path.ends_with("/..")) && !normalized.ends_with('/') {
        normalized.push('/');
    }
    normalized
}

/// The query with every name and value decoded and encoded again strictly, sorted by name and
/// then value.
pub fn query(query: Option<&str>) -> String {
    let encode = |s: &str| {
        let decoded = percent_decode_str(s).decode_utf8_lossy();
        utf8_percent_encode(&decoded, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(k), encode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value\n` for each signed header: values trimmed, runs of spaces made one, repeated
/// headers joined by `,`. `None` when a signed header is not in the request.
pub fn headers(signed: &[&str], headers: &http::HeaderMap) -> Option<String> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        if values.is_empty() {
            return None;
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    Some(out)
}

/// The canonical request: method, path, query, headers, signed header names, payload hash.
pub fn request(
    method: &str,
    path: &str,
    query: &str,
    headers: &str,
    signed: &str,
    payload: &str,
) -> String {
    format!("{method}\n{path}\n{query}\n{headers}\n{signed}\n{payload}")
}

/// `<algorithm>\n<date-time>\n<scope>\n<hex SHA-256 of the canonical request>`.
pub fn string_to_sign(algorithm: &str, date_time: &str, scope: &str, request: &str) -> String {
    let hash = hex::encode(Sha256::digest(request.as_bytes()));
    format!("{algorithm}\n{date_time}\n{scope}\n{hash}")
}
