//! Gateway API filters at run time: header modifiers, URL rewrites, request mirrors.

use crate::balance::TargetGroupRuntime;
use crate::pattern::Pattern;
use http::{HeaderMap, HeaderName, HeaderValue};
use pylon_ir::{Filter, HeaderModifier, PathModifier};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub enum CompiledFilter {
    RequestHeaders(Headers),
    ResponseHeaders(Headers),
    UrlRewrite {
        hostname: Option<HeaderValue>,
        path: Option<PathModifier>,
    },
    Mirror(Mirror),
    Cors(Cors),
}

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
    pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(http::header::ORIGIN)
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers of a preflight answer; none when the origin is not allowed. A `*` method or
    /// header list echoes what the request asks for.
    pub fn preflight(&self, request: &HeaderMap, response: &mut HeaderMap) {
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

    /// Headers added to an actual (non-preflight) response for an allowed origin.
    pub fn response(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if let Some(origin) = self.allowed_origin(request) {
            response.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            self.common(response);
        }
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

#[derive(Debug)]
pub struct Mirror {
    pub group: Arc<TargetGroupRuntime>,
    numerator: u64,
    denominator: u64,
    seen: AtomicU64,
}

impl Mirror {
    /// Whether this request is mirrored: `numerator` of every `denominator` requests, spread evenly.
    pub fn take(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        self.denominator > 0
            && (n % self.denominator) * self.numerator / self.denominator
                != ((n % self.denominator) + 1) * self.numerator / self.denominator
    }
}

#[derive(Debug, Default)]
pub struct Headers {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl Headers {
    fn compile(m: &HeaderModifier) -> Self {
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

impl CompiledFilter {
    pub fn compile(
        filter: &Filter,
        groups: &HashMap<String, Arc<TargetGroupRuntime>>,
    ) -> Option<Self> {
        Some(match filter {
            Filter::RequestHeaderModifier(m) => CompiledFilter::RequestHeaders(Headers::compile(m)),
            Filter::ResponseHeaderModifier(m) => {
                CompiledFilter::ResponseHeaders(Headers::compile(m))
            }
            Filter::UrlRewrite { hostname, path } => CompiledFilter::UrlRewrite {
                hostname: hostname
                    .as_deref()
                    .and_then(|h| HeaderValue::from_str(h).ok()),
                path: path.clone(),
            },
            Filter::Cors {
                allow_origins,
                allow_methods,
                allow_headers,
                expose_headers,
                allow_credentials,
                max_age_seconds,
            } => CompiledFilter::Cors(Cors {
                origins: allow_origins
                    .iter()
                    .map(|o| Pattern::new(o, true))
                    .collect(),
                methods: allow_methods.clone(),
                headers: allow_headers.clone(),
                expose: expose_headers.clone(),
                credentials: *allow_credentials,
                max_age: *max_age_seconds,
            }),
            Filter::RequestMirror {
                target_group,
                numerator,
                denominator,
            } => CompiledFilter::Mirror(Mirror {
                group: groups.get(target_group)?.clone(),
                numerator: u64::from(*numerator),
                denominator: u64::from(*denominator),
                seen: AtomicU64::new(0),
            }),
        })
    }
}

/// Applies a path modifier: the whole path, or the matched prefix replaced (keeping exactly one
/// `/` between the replacement and the rest).
pub fn modified_path(modifier: &PathModifier, path: &str) -> String {
    match modifier {
        PathModifier::ReplaceFullPath { path } => path.clone(),
        PathModifier::ReplacePrefixMatch {
            matched,
            replacement,
        } => {
            let matched = matched.trim_end_matches('/');
            let rest = path.strip_prefix(matched).unwrap_or(path);
            let replacement = replacement.trim_end_matches('/');
            let joined = match (replacement.is_empty(), rest.is_empty()) {
                (true, true) => "/".to_string(),
                (true, false) => rest.to_string(),
                (false, _) => format!("{replacement}{rest}"),
            };
            if joined.starts_with('/') {
                joined
            } else {
                format!("/{joined}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(matched: &str, replacement: &str, path: &str) -> String {
        modified_path(
            &PathModifier::ReplacePrefixMatch {
                matched: matched.into(),
                replacement: replacement.into(),
            },
            path,
        )
    }

    #[test]
    fn prefix_rewrites_follow_the_spec_table() {
        // The table in the HTTPPathModifier documentation.
        assert_eq!(prefix("/foo", "/xyz", "/foo/bar"), "/xyz/bar");
        assert_eq!(prefix("/foo", "/xyz/", "/foo/bar"), "/xyz/bar");
        assert_eq!(prefix("/foo/", "/xyz", "/foo/bar"), "/xyz/bar");
        assert_eq!(prefix("/foo/", "/xyz/", "/foo/bar"), "/xyz/bar");
        assert_eq!(prefix("/foo", "/xyz", "/foo"), "/xyz");
        assert_eq!(prefix("/foo", "/xyz", "/foo/"), "/xyz/");
        assert_eq!(prefix("/foo", "/", "/foo/bar"), "/bar");
        assert_eq!(prefix("/foo", "/", "/foo"), "/");
        assert_eq!(prefix("/foo", "/", "/foo/"), "/");
        assert_eq!(prefix("/", "/foo", "/bar"), "/foo/bar");
    }

    #[test]
    fn mirrors_take_their_share() {
        let m = Mirror {
            group: Arc::new(TargetGroupRuntime::new("tg".into(), false, vec![])),
            numerator: 1,
            denominator: 4,
            seen: AtomicU64::new(0),
        };
        assert_eq!((0..100).filter(|_| m.take()).count(), 25);
    }
}
