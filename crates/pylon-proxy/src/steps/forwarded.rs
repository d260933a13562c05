//! The headers an ALB adds for its targets: the client address appended to `X-Forwarded-For`;
//! `X-Forwarded-Proto` and `X-Forwarded-Port` naming the listener the request arrived on.

use super::step::{Exchange, Flow, ListenerFacts, Step};
use http::header::{HeaderName, HeaderValue};
use pylon_ir::Protocol;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

#[derive(Debug)]
pub struct Forwarded {
    proto: HeaderValue,
    port: HeaderValue,
}

impl Forwarded {
    pub fn new(listener: &ListenerFacts) -> Self {
        Forwarded {
            proto: HeaderValue::from_static(match listener.protocol {
                Protocol::Http => "http",
                Protocol::Https => "https",
            }),
            port: HeaderValue::from(listener.port),
        }
    }
}

impl Step for Forwarded {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let client = exchange.client;
        let headers = exchange.request.headers_mut();
        let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(existing) if !existing.trim().is_empty() => {
                let ip = client.addr.ip();
                HeaderValue::from_str(&format!("{existing}, {ip}")).ok()
            }
            _ => Some(client.forwarded_for.clone()),
        };
        if let Some(v) = xff {
            headers.insert(X_FORWARDED_FOR, v);
        }
        headers.insert(X_FORWARDED_PROTO, self.proto.clone());
        headers.insert(X_FORWARDED_PORT, self.port.clone());
        Flow::Next
    }
}
