//! Hop-by-hop fields (RFC 9110 §7.6.1): which fields describe one connection and are never
//! forwarded, what `Connection` may add to them, and the one upgrade a route may carry.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Request;

/// Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 10] = [
    header::CONNECTION,
    header::UPGRADE,
    HeaderName::from_static("http2-settings"),
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The protocol an HTTP/1.1 request asks to switch to (`Connection: upgrade` with `Upgrade`),
/// when it is one a route may carry: WebSocket. Any other upgrade (`h2c` above all, whose
/// requests would reach the target inside a tunnel, past every rule) is dropped with the other
/// hop-by-hop fields and the request served as plain HTTP/1.1.
pub fn upgrade_protocol<B>(request: &Request<B>) -> Option<HeaderValue> {
    if request.version() != http::Version::HTTP_11 {
        return None;
    }
    let protocol = request.headers().get(header::UPGRADE)?;
    let websocket = protocol
        .to_str()
        .is_ok_and(|p| p.trim().eq_ignore_ascii_case("websocket"));
    (websocket && has_connection_option(request.headers(), "upgrade")).then(|| protocol.clone())
}

/// Whether the `Connection` fields name `option` (`close`, `upgrade`, ...), in any case.
pub fn has_connection_option(headers: &HeaderMap, option: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(option))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "upgrade"
            | "http2-settings"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
    )
}

pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none or only `Connection`: one pass over the names finds out.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // `Connection` may name other fields as hop-by-hop, but never the ones the request was
    // routed and framed on: the target must see the Host and length Pylon read.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .filter(|n| n != header::HOST && n != header::CONTENT_LENGTH)
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
}
