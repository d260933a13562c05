//! The types every layer shares: bodies and errors, the client of a connection, Pylon's own
//! answers, and the pieces of HTTP/1.1 heads both the own server and the own client read and
//! write. Nothing here knows about listeners, rules or targets.

pub mod answer;
mod body;
pub mod h1_head;
pub mod hop_by_hop;
pub mod pattern;

pub use body::{boxed, full, Body, BoxError, ClientBody};

use http::HeaderValue;
use std::net::SocketAddr;

/// The most header bytes Pylon reads in one request or response head, from clients and from
/// targets alike, over HTTP/1.1 and HTTP/2.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The client of a connection, as its requests need it.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    /// Its address as an `X-Forwarded-For` entry, made once per connection.
    pub forwarded_for: HeaderValue,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            addr,
            forwarded_for: HeaderValue::from_str(&addr.ip().to_string())
                .expect("an IP address is a header value"),
        }
    }
}
