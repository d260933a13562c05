//! HTTPRoutes and GRPCRoutes, normalised into one view: matches as IR conditions with their
//! precedence rank, filters and backends in the HTTPRoute shapes (GRPCRoute's are the same JSON).

use super::precedence::MatchRank;
use gateway_api::apis::standard::grpcroutes::{
    GrpcRoute, GrpcRouteRulesMatches, GrpcRouteRulesMatchesHeadersType,
    GrpcRouteRulesMatchesMethodType,
};
use gateway_api::apis::standard::httproutes::{
    HttpRoute, HttpRouteParentRefs, HttpRouteRulesBackendRefs, HttpRouteRulesFilters,
    HttpRouteRulesMatches, HttpRouteRulesMatchesHeadersType, HttpRouteRulesMatchesPathType,
    HttpRouteRulesMatchesQueryParamsType,
};
use pylon_ir::{Condition, MatchKind, Timeouts};
use pylon_model::{Kind, ObjectRef};
use pylon_model::{Object, Snapshot};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Route views kept between translations, keyed by the shared object each came from (held, so
/// its address cannot be reused): a route that did not change is not read again.
#[derive(Default)]
pub struct Memo {
    views: HashMap<usize, (Arc<Object>, Arc<RouteView>)>,
}

impl Memo {
    /// The views of every HTTPRoute, then every GRPCRoute, in the snapshot's order.
    pub fn views(&mut self, snapshot: &Snapshot) -> Vec<Arc<RouteView>> {
        let mut kept = HashMap::with_capacity(self.views.len());
        let mut out = Vec::new();
        let objects = snapshot
            .shared(Kind::HTTPRoute)
            .chain(snapshot.shared(Kind::GRPCRoute));
        for object in objects {
            let key = Arc::as_ptr(object) as usize;
            let view = match self.views.remove(&key) {
                Some((_, view)) => view,
                None => match &**object {
                    Object::HTTPRoute(r) => Arc::new(from_http(r)),
                    Object::GRPCRoute(r) => Arc::new(from_grpc(r)),
                    _ => continue,
                },
            };
            kept.insert(key, (object.clone(), view.clone()));
            out.push(view);
        }
        self.views = kept;
        out
    }
}

pub struct RouteView {
    pub kind: Kind,
    pub object: ObjectRef,
    pub generation: i64,
    pub created: Option<String>,
    pub hostnames: Vec<String>,
    /// Each parentRef as written (for status) and typed.
    pub parent_refs: Vec<(Arc<serde_json::Value>, HttpRouteParentRefs)>,
    pub rules: Vec<RuleView>,
}

pub struct RuleView {
    pub matches: Vec<MatchView>,
    pub filters: Vec<HttpRouteRulesFilters>,
    pub backends: Vec<BackendView>,
    pub timeouts: Option<Timeouts>,
    /// Why this rule cannot be served as written (an invalid match or timeout).
    pub invalid: Option<String>,
}

pub struct BackendView {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub port: Option<i32>,
    pub weight: u32,
    pub filters: Vec<HttpRouteRulesFilters>,
}

pub struct MatchView {
    pub conditions: Vec<Condition>,
    pub rank: MatchRank,
    /// The PathPrefix value, for ReplacePrefixMatch.
    pub prefix: Option<String>,
}

/// Re-reads a value as another type with the same JSON shape.
pub(super) fn reshape<A: Serialize, B: DeserializeOwned>(a: &A) -> Option<B> {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
}

/// A route's name, generation and creation time (for precedence).
fn identity(
    kind: Kind,
    m: &pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (ObjectRef, i64, Option<String>) {
    let object = ObjectRef::namespaced(
        kind,
        m.namespace.as_deref().unwrap_or("default"),
        m.name.as_deref().unwrap_or_default(),
    );
    let created = m
        .creation_timestamp
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    (object, m.generation.unwrap_or(0), created)
}

pub fn from_http(route: &HttpRoute) -> RouteView {
    let (object, generation, created) = identity(Kind::HTTPRoute, &route.metadata);
    // The CRD default: one rule matching every path.
    let rules = route
        .spec
        .rules
        .clone()
        .unwrap_or_else(|| vec![Default::default()]);
    RouteView {
        kind: Kind::HTTPRoute,
        object,
        generation,
        created,
        hostnames: route.spec.hostnames.clone().unwrap_or_default(),
        parent_refs: route
            .spec
            .parent_refs
            .iter()
            .flatten()
            .map(|p| {
                (
                    Arc::new(serde_json::to_value(p).unwrap_or_default()),
                    p.clone(),
                )
            })
            .collect(),
        rules: rules
            .iter()
            .map(|rule| {
                let (timeouts, timeout_error) = timeouts(
                    rule.timeouts
                        .as_ref()
                        .map(|t| (t.request.as_deref(), t.backend_request.as_deref())),
                );
                let mut invalid = timeout_error;
                let matches = match_views(rule.matches.as_deref(), http_match, &mut invalid);
                RuleView {
                    matches,
                    filters: rule.filters.clone().unwrap_or_default(),
                    backends: rule
                        .backend_refs
                        .iter()
                        .flatten()
                        .map(http_backend)
                        .collect(),
                    timeouts,
                    invalid,
                }
            })
            .collect(),
    }
}

fn http_backend(b: &HttpRouteRulesBackendRefs) -> BackendView {
    BackendView {
        group: b.group.clone(),
        kind: b.kind.clone(),
        name: b.name.clone(),
        namespace: b.namespace.clone(),
        port: b.port,
        weight: b.weight.map_or(1, |w| w.max(0) as u32),
        filters: b.filters.iter().flatten().filter_map(reshape).collect(),
    }
}

pub fn from_grpc(route: &GrpcRoute) -> RouteView {
    let (object, generation, created) = identity(Kind::GRPCRoute, &route.metadata);
    let rules = route
        .spec
        .rules
        .clone()
        .unwrap_or_else(|| vec![Default::default()]);
    RouteView {
        kind: Kind::GRPCRoute,
        object,
        generation,
        created,
        hostnames: route.spec.hostnames.clone().unwrap_or_default(),
        parent_refs: route
            .spec
            .parent_refs
            .iter()
            .flatten()
            .filter_map(|p| Some((Arc::new(serde_json::to_value(p).ok()?), reshape(p)?)))
            .collect(),
        rules: rules
            .iter()
            .map(|rule| {
                let mut invalid = None;
                let matches = match_views(rule.matches.as_deref(), grpc_match, &mut invalid);
                RuleView {
                    matches,
                    filters: rule.filters.iter().flatten().filter_map(reshape).collect(),
                    backends: rule
                        .backend_refs
                        .iter()
                        .flatten()
                        .filter_map(reshape::<_, HttpRouteRulesBackendRefs>)
                        .map(|b| http_backend(&b))
                        .collect(),
                    timeouts: None,
                    invalid,
                }
            })
            .collect(),
    }
}

/// A rule's matches (none: the CRD default, one match of everything); a match that cannot be
/// served is left out and its reason kept in `invalid`.
fn match_views<M: Default>(
    matches: Option<&[M]>,
    view: fn(&M) -> Result<MatchView, String>,
    invalid: &mut Option<String>,
) -> Vec<MatchView> {
    let results: Vec<Result<MatchView, String>> = match matches {
        None | Some([]) => vec![view(&M::default())],
        Some(list) => list.iter().map(view).collect(),
    };
    results
        .into_iter()
        .filter_map(|m| m.map_err(|e| *invalid = Some(e)).ok())
        .collect()
}

fn regex_ok(pattern: &str, what: &str) -> Result<(), String> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("{what} {pattern:?} is not a valid regular expression: {e}"))
}

/// An HTTPRouteMatch: path (default PathPrefix `/`), method, headers and query parameters. For
/// repeated header (case-insensitive) or query parameter names only the first counts.
fn http_match(m: &HttpRouteRulesMatches) -> Result<MatchView, String> {
    let mut conditions = Vec::new();
    let path = m.path.clone().unwrap_or_default();
    let kind = match path
        .r#type
        .unwrap_or(HttpRouteRulesMatchesPathType::PathPrefix)
    {
        HttpRouteRulesMatchesPathType::Exact => MatchKind::Exact,
        HttpRouteRulesMatchesPathType::PathPrefix => MatchKind::PathPrefix,
        HttpRouteRulesMatchesPathType::RegularExpression => MatchKind::RegularExpression,
    };
    let value = path.value.unwrap_or_else(|| "/".to_string());
    match kind {
        MatchKind::RegularExpression => regex_ok(&value, "path")?,
        _ if !value.starts_with('/') => return Err(format!("path {value:?} must start with /")),
        _ => {}
    }
    let prefix = (kind == MatchKind::PathPrefix).then(|| value.clone());
    let path_rank = MatchRank::path(kind, value.len());
    conditions.push(Condition::Path { kind, value });
    if let Some(method) = &m.method {
        let name = serde_json::to_value(method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        conditions.push(Condition::HttpRequestMethod { values: vec![name] });
    }
    let headers = named_matches(
        m.headers.iter().flatten().map(|h| {
            let regex = h.r#type == Some(HttpRouteRulesMatchesHeadersType::RegularExpression);
            (h.name.as_str(), regex, h.value.as_str())
        }),
        true,
        |name, kind, value| Condition::Header { name, kind, value },
        &mut conditions,
    )?;
    let query = named_matches(
        m.query_params.iter().flatten().map(|q| {
            let regex = q.r#type == Some(HttpRouteRulesMatchesQueryParamsType::RegularExpression);
            (q.name.as_str(), regex, q.value.as_str())
        }),
        false,
        |name, kind, value| Condition::QueryParam { name, kind, value },
        &mut conditions,
    )?;
    Ok(MatchView {
        rank: MatchRank {
            method: m.method.is_some(),
            headers,
            query,
            ..path_rank
        },
        conditions,
        prefix,
    })
}

/// A GRPCRouteMatch: the method becomes a path (`/<service>/<method>`), headers stay headers.
fn grpc_match(m: &GrpcRouteRulesMatches) -> Result<MatchView, String> {
    let mut conditions = Vec::new();
    let mut rank = MatchRank::default();
    if let Some(method) = &m.method {
        let (service, name) = (method.service.as_deref(), method.method.as_deref());
        let regex = method.r#type == Some(GrpcRouteRulesMatchesMethodType::RegularExpression);
        let escaped = |s: &str| {
            if regex {
                s.to_string()
            } else {
                regex::escape(s)
            }
        };
        let condition = match (regex, service, name) {
            (_, None, None) => None,
            (false, Some(s), Some(n)) => Some(Condition::Path {
                kind: MatchKind::Exact,
                value: format!("/{s}/{n}"),
            }),
            (false, Some(s), None) => Some(Condition::Path {
                kind: MatchKind::PathPrefix,
                value: format!("/{s}"),
            }),
            (_, s, n) => {
                let pattern = format!(
                    "/{}/{}",
                    s.map_or("[^/]+".to_string(), escaped),
                    n.map_or("[^/]+".to_string(), escaped)
                );
                regex_ok(&pattern, "gRPC method")?;
                Some(Condition::Path {
                    kind: MatchKind::RegularExpression,
                    value: pattern,
                })
            }
        };
        if let Some(Condition::Path { kind, .. }) = &condition {
            rank = MatchRank::path(
                *kind,
                service.map_or(0, str::len) + name.map_or(0, str::len),
            );
        }
        conditions.extend(condition);
    }
    rank.headers = named_matches(
        m.headers.iter().flatten().map(|h| {
            let regex = h.r#type == Some(GrpcRouteRulesMatchesHeadersType::RegularExpression);
            (h.name.as_str(), regex, h.value.as_str())
        }),
        true,
        |name, kind, value| Condition::Header { name, kind, value },
        &mut conditions,
    )?;
    Ok(MatchView {
        conditions,
        rank,
        prefix: None,
    })
}

/// Header or query parameter matches as conditions; only the first entry of a name counts (names
/// compared case-insensitively when `fold_case`). Returns how many there are.
fn named_matches<'a>(
    items: impl Iterator<Item = (&'a str, bool, &'a str)>,
    fold_case: bool,
    condition: impl Fn(String, MatchKind, String) -> Condition,
    out: &mut Vec<Condition>,
) -> Result<usize, String> {
    let mut seen = BTreeSet::new();
    for (name, regex, value) in items {
        let key = if fold_case {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        if !seen.insert(key) {
            continue;
        }
        let kind = if regex {
            regex_ok(value, &format!("the value of {name}"))?;
            MatchKind::RegularExpression
        } else {
            MatchKind::Exact
        };
        out.push(condition(name.to_string(), kind, value.to_string()));
    }
    Ok(seen.len())
}

/// Gateway API durations (`1h`, `10s`, `500ms`, `1m30s`) in milliseconds; `0s` disables.
pub fn duration_ms(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return None;
        };
        total += n * unit;
        rest = &rest[len..];
    }
    Some(total)
}

fn timeouts(t: Option<(Option<&str>, Option<&str>)>) -> (Option<Timeouts>, Option<String>) {
    let Some((request, backend)) = t else {
        return (None, None);
    };
    let parse = |v: Option<&str>, what: &str| match v {
        None => Ok(None),
        Some(text) => duration_ms(text).map(Some).ok_or_else(|| {
            format!("timeouts.{what} {text:?} is not a duration such as 10s or 500ms")
        }),
    };
    match (parse(request, "request"), parse(backend, "backendRequest")) {
        (Ok(request_ms), Ok(backend_request_ms)) => {
            if let (Some(r), Some(b)) = (request_ms, backend_request_ms) {
                if r > 0 && b > r {
                    return (None, Some(format!("timeouts.backendRequest ({b} ms) must not be longer than timeouts.request ({r} ms)")));
                }
            }
            (
                Some(Timeouts {
                    request_ms,
                    backend_request_ms,
                }),
                None,
            )
        }
        (Err(e), _) | (_, Err(e)) => (None, Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("10s"), Some(10_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("1m30s"), Some(90_000));
        assert_eq!(duration_ms("1h"), Some(3_600_000));
        assert_eq!(duration_ms("0s"), Some(0));
        assert_eq!(duration_ms("10"), None);
        assert_eq!(duration_ms("1.5s"), None);
    }
}
