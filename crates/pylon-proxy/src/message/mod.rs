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
use std::sync::Arc;

/// The most header bytes Pylon reads in one request or response head, from clients and from
/// targets alike, over HTTP/1.1 and HTTP/2.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The client of a connection, as its requests need it.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    /// Its address as an `X-Forwarded-For` entry, made once per connection.
    pub forwarded_for: HeaderValue,
    /// What its TLS handshake settled, on HTTPS listeners.
    pub tls: Option<Arc<TlsFacts>>,
}

/// A TLS connection's server name, version and cipher suite, as access logs show them.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    pub server_name: Option<String>,
    pub version: String,
    pub cipher: String,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Client {
            addr,
            forwarded_for: HeaderValue::from_str(&addr.ip().to_string())
                .expect("an IP address is a header value"),
            tls: None,
        }
    }

    /// A client on a TLS connection.
    pub fn with_tls(mut self, connection: &rustls::ServerConnection) -> Self {
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        self.tls = Some(Arc::new(TlsFacts {
            server_name: connection.server_name().map(str::to_string),
            version,
            cipher: connection
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
        }));
        self
    }
}
