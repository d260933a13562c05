//! Rule conditions compiled for the request path: ALB patterns, Gateway API matches, regexes
//! anchored once.

use crate::message::pattern::Pattern;
use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use pylon_ir::{Condition, MatchKind};
use regex::Regex;
use std::net::IpAddr;

/// What rules look at in a request.
pub struct RequestFacts<'a> {
    /// Lowercased, without port.
    pub host: &'a [u8],
    pub path: &'a [u8],
    pub query: Option<&'a str>,
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub client: IpAddr,
}

#[derive(Debug)]
pub enum CompiledCondition {
    Host(Vec<Pattern>),
    PathPatterns(Vec<Pattern>),
    /// Lowercased header name; case-insensitive value patterns.
    HeaderPatterns(HeaderName, Vec<Pattern>),
    Method(Vec<String>),
    /// Key and value patterns, case-insensitive.
    QueryPatterns(Vec<(Option<Pattern>, Pattern)>),
    SourceIp(Vec<IpNet>),
    PathExact(String),
    /// Without trailing `/` (and empty for `/`, which matches every path).
    PathPrefix(String),
    PathRegex(Regex),
    Header(HeaderName, StringMatch),
    QueryParam(String, StringMatch),
    /// Matches nothing: a condition that could not be compiled (the translator validates first).
    Never,
}

#[derive(Debug)]
pub enum StringMatch {
    Exact(String),
    Regex(Regex),
}

impl StringMatch {
    fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(v) => v == value,
            StringMatch::Regex(r) => r.is_match(value),
        }
    }
}

pub fn compile_condition(condition: &Condition) -> CompiledCondition {
    let patterns = |values: &[String], fold| values.iter().map(|v| Pattern::new(v, fold)).collect();
    let string_match = |kind: &MatchKind, value: &str| match kind {
        MatchKind::RegularExpression => anchored(value).map(StringMatch::Regex),
        _ => Some(StringMatch::Exact(value.to_string())),
    };
    match condition {
        Condition::HostHeader { values } => CompiledCondition::Host(patterns(values, true)),
        Condition::PathPattern { values } => {
            CompiledCondition::PathPatterns(patterns(values, false))
        }
        Condition::HttpHeader {
            http_header_name,
            values,
        } => match HeaderName::from_bytes(http_header_name.as_bytes()) {
            Ok(name) => CompiledCondition::HeaderPatterns(name, patterns(values, true)),
            Err(_) => CompiledCondition::Never,
        },
        Condition::HttpRequestMethod { values } => CompiledCondition::Method(values.clone()),
        Condition::QueryString { values } => CompiledCondition::QueryPatterns(
            values
                .iter()
                .map(|p| {
                    (
                        p.key.as_deref().map(|k| Pattern::new(k, true)),
                        Pattern::new(&p.value, true),
                    )
                })
                .collect(),
        ),
        Condition::SourceIp { values } => CompiledCondition::SourceIp(values.clone()),
        Condition::Path { kind, value } => match kind {
            MatchKind::Exact => CompiledCondition::PathExact(value.clone()),
            MatchKind::PathPrefix => {
                CompiledCondition::PathPrefix(value.trim_end_matches('/').to_string())
            }
            MatchKind::RegularExpression => {
                anchored(value).map_or(CompiledCondition::Never, CompiledCondition::PathRegex)
            }
        },
        Condition::Header { name, kind, value } => {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                string_match(kind, value),
            ) {
                (Ok(name), Some(m)) => CompiledCondition::Header(name, m),
                _ => CompiledCondition::Never,
            }
        }
        Condition::QueryParam { name, kind, value } => match string_match(kind, value) {
            Some(m) => CompiledCondition::QueryParam(name.clone(), m),
            None => CompiledCondition::Never,
        },
    }
}

/// A regular expression that must match the whole text.
fn anchored(pattern: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{pattern})$")).ok()
}

impl CompiledCondition {
    pub fn holds(&self, r: &RequestFacts<'_>) -> bool {
        let any = |patterns: &[Pattern], text: &[u8]| patterns.iter().any(|p| p.matches(text));
        let path = || std::str::from_utf8(r.path).unwrap_or_default();
        match self {
            CompiledCondition::Host(ps) => any(ps, r.host),
            CompiledCondition::PathPatterns(ps) => any(ps, r.path),
            CompiledCondition::HeaderPatterns(name, ps) => r
                .headers
                .get_all(name)
                .iter()
                .any(|v| any(ps, v.as_bytes().to_ascii_lowercase().as_slice())),
            CompiledCondition::Method(methods) => methods.iter().any(|m| m == r.method),
            CompiledCondition::QueryPatterns(pairs) => query_pairs(r.query).any(|(k, v)| {
                let (k, v) = (k.to_ascii_lowercase(), v.to_ascii_lowercase());
                pairs
                    .iter()
                    .any(|(kp, vp)| kp.as_ref().is_none_or(|kp| kp.matches(&k)) && vp.matches(&v))
            }),
            CompiledCondition::SourceIp(nets) => nets.iter().any(|n| n.contains(&r.client)),
            CompiledCondition::PathExact(p) => r.path == p.as_bytes(),
            CompiledCondition::PathPrefix(prefix) => {
                // Whole segments: `/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`.
                r.path.starts_with(prefix.as_bytes())
                    && matches!(r.path.get(prefix.len()), None | Some(b'/'))
            }
            CompiledCondition::PathRegex(re) => re.is_match(path()),
            CompiledCondition::Header(name, m) => r
                .headers
                .get_all(name)
                .iter()
                .next()
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| m.matches(v)),
            CompiledCondition::QueryParam(name, m) => query_pairs(r.query)
                .find(|(k, _)| k.as_slice() == name.as_bytes())
                .is_some_and(|(_, v)| m.matches(&String::from_utf8_lossy(&v))),
            CompiledCondition::Never => false,
        }
    }
}

/// Query parameters, percent-decoded.
fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decoded(k), percent_decoded(v))
        })
}

/// `%XX` escapes decoded; invalid escapes are kept as written.
fn percent_decoded(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_whole_segments() {
        let c = compile_condition(&Condition::Path {
            kind: MatchKind::PathPrefix,
            value: "/foo/".into(),
        });
        let facts = |path: &'static str| RequestFacts {
            host: b"",
            path: path.as_bytes(),
            query: None,
            method: "GET",
            headers: Box::leak(Box::new(HeaderMap::new())),
            client: "127.0.0.1".parse().unwrap(),
        };
        assert!(c.holds(&facts("/foo")));
        assert!(c.holds(&facts("/foo/")));
        assert!(c.holds(&facts("/foo/bar")));
        assert!(!c.holds(&facts("/foobar")));
        let root = compile_condition(&Condition::Path {
            kind: MatchKind::PathPrefix,
            value: "/".into(),
        });
        assert!(root.holds(&facts("/anything")));
        let re = compile_condition(&Condition::Path {
            kind: MatchKind::RegularExpression,
            value: "/v[0-9]+/.*".into(),
        });
        assert!(re.holds(&facts("/v2/x")));
        assert!(!re.holds(&facts("/x/v2/x")));
    }
}
