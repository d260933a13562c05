//! Gateway API URL rewrites (URLRewrite): the hostname a target gets and the path, replaced whole
//! or by its matched prefix.

use super::step::{Exchange, Flow, Step};
use crate::message::answer;
use http::header::{self, HeaderValue};
use http::Uri;
use pylon_ir::PathModifier;

#[derive(Debug)]
pub struct UrlRewrite {
    hostname: Option<HeaderValue>,
    path: Option<PathModifier>,
}

impl UrlRewrite {
    pub fn new(hostname: Option<&str>, path: Option<&PathModifier>) -> Self {
        UrlRewrite {
            hostname: hostname.and_then(|h| HeaderValue::from_str(h).ok()),
            path: path.cloned(),
        }
    }
}

impl Step for UrlRewrite {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let request = &mut exchange.request;
        if let Some(h) = &self.hostname {
            request.headers_mut().insert(header::HOST, h.clone());
        }
        // Targets get the path (as rewritten) and the client's query.
        if let Some(rewrite) = &self.path {
            let path = modified_path(rewrite, request.uri().path());
            let path_and_query = match request.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            let Ok(uri) = Uri::try_from(path_and_query) else {
                return Flow::Answer(answer::error(400, b"400 Bad Request\n"));
            };
            *request.uri_mut() = uri;
        }
        Flow::Next
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
}
