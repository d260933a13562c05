//! CORS (HTTPCORSFilter): preflights answered here, never reaching a target; allowed origins
//! responses get the policy's headers.

use super::step::{Exchange, Flow, Step};
use crate::message::answer;
use crate::message::pattern::Pattern;
use crate::message::Body;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::Response;
use pylon_ir::Filter;

/// A CORS policy (HTTPCORSFilter).
#[derive(Debug)]
pub struct Cors {
    origins: Vec<Pattern>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    credentials: bool,
    max_age: u32,
}

impl Cors {
    pub fn compile(filter: &Filter) -> Option<Self> {
        let Filter::Cors {
            allow_origins,
            allow_methods,
            allow_headers,
            expose_headers,
            allow_credentials,
            max_age_seconds,
        } = filter
        else {
            return None;
        };
        Some(Cors {
            origins: allow_origins
                .iter()
                .map(|o| Pattern::new(o, true))
                .collect(),
            methods: allow_methods.clone(),
            headers: allow_headers.clone(),
            expose: expose_headers.clone(),
            credentials: *allow_credentials,
            max_age: *max_age_seconds,
        })
    }

    /// The request's origin, if it is allowed.
    fn allowed_origin<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(http::header::ORIGIN)?;
        let text = origin.to_str().ok()?.to_ascii_lowercase();
        self.origins
            .iter()
            .any(|p| p.matches(text.as_bytes()))
            .then_some(origin)
    }

    /// Whether the request is a preflight: OPTIONS with Origin and Access-Control-Request-Method.
    fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(http::header::ORIGIN)
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers of a preflight answer; none when the origin is not allowed. A `*` method or
    /// header list echoes what the request asks for.
    fn preflight(&self, request: &HeaderMap, response: &mut HeaderMap) {
        use http::header::*;
        let Some(origin) = self.allowed_origin(request) else {
            return;
        };
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        let allowed = |list: &[String], asked: HeaderName| -> Option<HeaderValue> {
            if list.is_empty() {
                None
            } else if list.iter().any(|m| m == "*") {
                request.get(asked).cloned()
            } else {
                HeaderValue::from_str(&list.join(", ")).ok()
            }
        };
        if let Some(v) = allowed(&self.methods, ACCESS_CONTROL_REQUEST_METHOD) {
            response.insert(ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Some(v) = allowed(&self.headers, ACCESS_CONTROL_REQUEST_HEADERS) {
            response.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        self.common(response);
        response.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(self.max_age));
    }

    fn common(&self, response: &mut HeaderMap) {
        use http::header::*;
        if self.credentials {
            response.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if !self.expose.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.expose.join(", ")) {
                response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
    }
}

/// The allowed origin of a request that is not a preflight, noted for its response.
#[derive(Clone)]
struct AllowedOrigin(HeaderValue);

impl Step for Cors {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let request = &exchange.request;
        if Cors::is_preflight(request.method(), request.headers()) {
            let mut response = answer::fixed(204, "text/plain", Bytes::new());
            response.headers_mut().remove(header::CONTENT_TYPE);
            self.preflight(request.headers(), response.headers_mut());
            return Flow::Answer(response);
        }
        if let Some(origin) = self.allowed_origin(request.headers()) {
            let origin = AllowedOrigin(origin.clone());
            exchange.notes.insert(origin);
        }
        Flow::Next
    }

    /// Headers added to an actual (non-preflight) response for an allowed origin.
    fn response(
        &self,
        exchange: &mut Exchange<'_>,
        mut response: Response<Body>,
    ) -> Response<Body> {
        if let Some(AllowedOrigin(origin)) = exchange.notes.remove::<AllowedOrigin>() {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            self.common(headers);
        }
        response
    }
}
