//! Gateway API header modifiers (RequestHeaderModifier, ResponseHeaderModifier).

use super::step::{Exchange, Flow, Step};
use crate::message::answer::Generated;
use crate::message::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Response};
use pylon_ir::HeaderModifier;

#[derive(Debug, Default)]
pub struct Headers {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl Headers {
    pub fn compile(m: &HeaderModifier) -> Self {
        let pair = |h: &pylon_ir::HeaderValue| {
            Some((
                HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                HeaderValue::from_str(&h.value).ok()?,
            ))
        };
        Headers {
            set: m.set.iter().filter_map(pair).collect(),
            add: m.add.iter().filter_map(pair).collect(),
            remove: m
                .remove
                .iter()
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect(),
        }
    }

    /// Set replaces, add appends (to a comma-separated value, as the spec's examples show),
    /// remove deletes.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            let combined = match headers.get(name).and_then(|v| v.to_str().ok()) {
                Some(existing) => HeaderValue::from_str(&format!(
                    "{existing},{}",
                    value.to_str().unwrap_or_default()
                ))
                .ok(),
                None => Some(value.clone()),
            };
            if let Some(v) = combined {
                headers.insert(name.clone(), v);
            }
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

/// Headers changed on the request a target gets.
#[derive(Debug)]
pub struct RequestHeaders(pub Headers);

impl Step for RequestHeaders {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        self.0.apply(exchange.request.headers_mut());
        Flow::Next
    }
}

/// Headers changed on a target's response (Pylon's own answers are left as they are).
#[derive(Debug)]
pub struct ResponseHeaders(pub Headers);

impl Step for ResponseHeaders {
    fn response(&self, _: &mut Exchange<'_>, mut response: Response<Body>) -> Response<Body> {
        if response.extensions().get::<Generated>().is_none() {
            self.0.apply(response.headers_mut());
        }
        response
    }
}
