//! The order of rules on a listener, across every route attached to it, as the Gateway API
//! specifies it (HTTPRouteRule "matches" and HTTPRouteSpec "hostnames"; GRPCRouteRule likewise):
//! the more specific hostname first; then Exact paths, then the longest PathPrefix, then regular
//! expressions; a method match; more header matches; more query parameter matches; then the
//! oldest route, then `namespace/name`, then rule and match order.

use pylon_ir::MatchKind;
use std::cmp::Ordering;

/// How specific one match is, for ordering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchRank {
    /// 3 Exact, 2 PathPrefix, 1 RegularExpression, 0 no path.
    pub path_class: u8,
    pub path_len: usize,
    pub method: bool,
    pub headers: usize,
    pub query: usize,
}

impl MatchRank {
    pub fn path(kind: MatchKind, len: usize) -> Self {
        let path_class = match kind {
            MatchKind::Exact => 3,
            MatchKind::PathPrefix => 2,
            MatchKind::RegularExpression => 1,
        };
        MatchRank {
            path_class,
            path_len: len,
            ..Default::default()
        }
    }
}

/// Everything that orders one candidate rule.
#[derive(Debug, Clone)]
pub struct Key {
    pub hostname: Option<String>,
    pub rank: MatchRank,
    pub created: Option<String>,
    pub route: (String, String),
    pub rule: usize,
    pub matched: usize,
}

fn hostname_order(a: &Option<String>, b: &Option<String>) -> Ordering {
    // Exact names first, then wildcards, then rules without a hostname; longer first within each.
    let class = |h: &Option<String>| match h {
        Some(h) if !h.starts_with('*') => 0,
        Some(_) => 1,
        None => 2,
    };
    let len = |h: &Option<String>| h.as_ref().map_or(0, String::len);
    class(a).cmp(&class(b)).then_with(|| len(b).cmp(&len(a)))
}

pub fn compare(a: &Key, b: &Key) -> Ordering {
    hostname_order(&a.hostname, &b.hostname)
        .then_with(|| b.rank.path_class.cmp(&a.rank.path_class))
        .then_with(|| b.rank.path_len.cmp(&a.rank.path_len))
        .then_with(|| b.rank.method.cmp(&a.rank.method))
        .then_with(|| b.rank.headers.cmp(&a.rank.headers))
        .then_with(|| b.rank.query.cmp(&a.rank.query))
        .then_with(|| match (&a.created, &b.created) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => Ordering::Equal,
        })
        .then_with(|| a.route.cmp(&b.route))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.matched.cmp(&b.matched))
}
