//! Ingress paths → ALB rule conditions, and the order the ALB controller gives them
//! (`model_build_listener_rules.go`).

use super::actions::ExtraConditions;
use pylon_ir::{Action, Condition, Protocol};
use pylon_model::k8s_openapi::api::networking::v1::HTTPIngressPath;
use std::collections::BTreeSet;

/// Orders one Ingress rule's paths as the controller does: every `Exact` path in manifest order,
/// then `Prefix` paths by descending path length (stable), then `ImplementationSpecific` or unset
/// ones in manifest order. Returns manifest indexes.
pub fn sorted_path_indexes(paths: &[HTTPIngressPath]) -> Vec<usize> {
    let class = |p: &HTTPIngressPath| match p.path_type.as_str() {
        "Exact" => 0,
        "Prefix" => 1,
        _ => 2,
    };
    let mut indexes: Vec<usize> = (0..paths.len()).collect();
    indexes.sort_by(|&a, &b| {
        let (pa, pb) = (&paths[a], &paths[b]);
        class(pa).cmp(&class(pb)).then_with(|| {
            if class(pa) == 1 {
                let len = |p: &HTTPIngressPath| p.path.as_deref().unwrap_or_default().len();
                len(pb).cmp(&len(pa))
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    indexes
}

/// The path-pattern values for one Ingress path, or `None` when the path is empty.
///
/// - `Prefix /` → `/*`; `Prefix /foo` or `/foo/` → `/foo`, `/foo/*` (whole segments: `/foobar`
///   does not match);
/// - `Exact /foo` → `/foo`;
/// - `ImplementationSpecific` (or unset) → the path as an ALB pattern (`*` and `?` wildcards).
pub fn path_patterns(path: Option<&str>, path_type: &str) -> Result<Option<Vec<String>>, String> {
    let path = path.unwrap_or_default();
    let has_wildcards = path.contains(['*', '?']);
    match path_type {
        "Exact" | "Prefix" if !path.is_empty() && !path.starts_with('/') => {
            Err(format!("{path_type} path {path:?} must start with /"))
        }
        "Exact" if has_wildcards => Err(format!(
            "exact path shouldn't contain wildcards: {path} (use pathType ImplementationSpecific for ALB wildcards)"
        )),
        "Prefix" if has_wildcards => Err(format!(
            "prefix path shouldn't contain wildcards: {path} (use pathType ImplementationSpecific for ALB wildcards)"
        )),
        _ if path.is_empty() => Ok(None),
        "Exact" | "ImplementationSpecific" | "" => Ok(Some(vec![path.to_string()])),
        "Prefix" => {
            let trimmed = path.trim_end_matches('/');
            if trimmed.is_empty() {
                Ok(Some(vec!["/*".to_string()]))
            } else {
                Ok(Some(vec![trimmed.to_string(), format!("{trimmed}/*")]))
            }
        }
        other => Err(format!(
            "unknown pathType {other}: must be Exact, Prefix or ImplementationSpecific"
        )),
    }
}

/// Checks an Ingress host: a DNS name, or a wildcard `*.` followed by a DNS name.
pub fn check_host(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "host {host:?} must be a DNS name such as example.com, or a wildcard such as *.example.com (no port, no IP address)"
        ))
    }
}

/// The conditions of one rule, ordered as the controller orders them: conditions from the
/// `conditions.<service>` annotation first, then host-header (the rule's host and annotation hosts),
/// then path-pattern (the path and annotation paths). A rule with none matches every path (`/*`).
pub fn conditions(
    host: Option<&str>,
    patterns: Option<Vec<String>>,
    extra: ExtraConditions,
) -> Vec<Condition> {
    let mut conditions = extra.others;
    let hosts: Vec<String> = host
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .into_iter()
        .chain(extra.hosts)
        .collect();
    if !hosts.is_empty() {
        conditions.push(Condition::HostHeader { values: hosts });
    }
    let paths: Vec<String> = patterns.into_iter().flatten().chain(extra.paths).collect();
    if !paths.is_empty() {
        conditions.push(Condition::PathPattern { values: paths });
    }
    if conditions.is_empty() {
        conditions.push(Condition::PathPattern {
            values: vec!["/*".to_string()],
        });
    }
    conditions
}

/// A rule before it gets its priority: the field it came from, its conditions and its action.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRule {
    /// The Ingress it comes from (IngressGroups mix several on a listener).
    pub origin: pylon_model::ObjectRef,
    pub field: String,
    pub conditions: Vec<Condition>,
    pub action: Action,
}

/// The controller's rule optimizer (`rule_optimizer.go`), per listener: a redirect rule that would
/// redirect to this very listener is dropped (it would loop), and so is every rule after a
/// redirect rule whose conditions cover it (it could never be reached).
pub fn optimize(port: u16, protocol: Protocol, rules: &[PendingRule]) -> Vec<PendingRule> {
    let mut kept: Vec<PendingRule> = Vec::new();
    for rule in rules {
        if redirects_to_itself(port, protocol, rule) {
            continue;
        }
        let shadowed = kept.iter().any(|earlier| {
            matches!(earlier.action, Action::Redirect { .. })
                && covers(&earlier.conditions, &rule.conditions)
        });
        if !shadowed {
            kept.push(rule.clone());
        }
    }
    kept
}

fn hosts_and_paths(conditions: &[Condition]) -> (BTreeSet<&str>, BTreeSet<&str>, bool) {
    let (mut hosts, mut paths, mut other) = (BTreeSet::new(), BTreeSet::new(), false);
    for c in conditions {
        match c {
            Condition::HostHeader { values } => hosts.extend(values.iter().map(String::as_str)),
            Condition::PathPattern { values } => paths.extend(values.iter().map(String::as_str)),
            _ => other = true,
        }
    }
    (hosts, paths, other)
}

fn redirects_to_itself(port: u16, protocol: Protocol, rule: &PendingRule) -> bool {
    let Action::Redirect {
        protocol: to_protocol,
        port: to_port,
        host,
        path,
        query,
        ..
    } = &rule.action
    else {
        return false;
    };
    let (hosts, paths, _) = hosts_and_paths(&rule.conditions);
    (host == "#{host}" || hosts.contains(host.as_str()))
        && (path == "/#{path}" || paths.contains(path.as_str()))
        && (to_port == "#{port}" || *to_port == port.to_string())
        && (to_protocol == "#{protocol}" || to_protocol == protocol.as_str())
        && query == "#{query}"
}

/// Whether every request `narrower` matches is matched by `wider` too (host and path only).
fn covers(wider: &[Condition], narrower: &[Condition]) -> bool {
    let (wide_hosts, wide_paths, wide_other) = hosts_and_paths(wider);
    if wide_other {
        return false;
    }
    let (hosts, paths, _) = hosts_and_paths(narrower);
    let hosts_covered =
        wide_hosts.is_empty() || (!hosts.is_empty() && wide_hosts.is_superset(&hosts));
    let paths_covered = wide_paths.is_empty()
        || wide_paths.contains("/*")
        || (!paths.is_empty() && wide_paths.is_superset(&paths));
    hosts_covered && paths_covered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, t: &str) -> HTTPIngressPath {
        HTTPIngressPath {
            path: Some(p.to_string()),
            path_type: t.to_string(),
            backend: Default::default(),
        }
    }

    #[test]
    fn exact_then_longest_prefix_then_implementation_specific() {
        let paths = [
            path("/a/*", "ImplementationSpecific"),
            path("/x", "Prefix"),
            path("/longer", "Prefix"),
            path("/e", "Exact"),
            path("/b", "ImplementationSpecific"),
            path("/y", "Prefix"),
        ];
        assert_eq!(sorted_path_indexes(&paths), [3, 2, 1, 5, 0, 4]);
    }

    #[test]
    fn prefix_patterns_cover_whole_segments() {
        let p = |s| path_patterns(Some(s), "Prefix").unwrap().unwrap();
        assert_eq!(p("/"), ["/*"]);
        assert_eq!(p("/foo"), ["/foo", "/foo/*"]);
        assert_eq!(p("/foo/"), ["/foo", "/foo/*"]);
    }

    #[test]
    fn wildcards_only_in_implementation_specific() {
        assert!(path_patterns(Some("/a/*"), "Prefix").is_err());
        assert!(path_patterns(Some("/a?"), "Exact").is_err());
        assert_eq!(
            path_patterns(Some("/a/*"), "ImplementationSpecific")
                .unwrap()
                .unwrap(),
            ["/a/*"]
        );
        assert!(path_patterns(Some("/a"), "Regex").is_err());
    }

    fn rule(conditions: Vec<Condition>, action: Action) -> PendingRule {
        PendingRule {
            origin: pylon_model::ObjectRef::namespaced(pylon_model::Kind::Ingress, "ns", "ing"),
            field: String::new(),
            conditions,
            action,
        }
    }

    fn https_redirect() -> Action {
        Action::Redirect {
            protocol: "HTTPS".into(),
            port: "443".into(),
            host: "#{host}".into(),
            path: "/#{path}".into(),
            query: "#{query}".into(),
            status_code: 301,
        }
    }

    #[test]
    fn the_optimizer_drops_looping_and_shadowed_rules() {
        let all = vec![Condition::PathPattern {
            values: vec!["/*".into()],
        }];
        let api = vec![Condition::PathPattern {
            values: vec!["/api".into()],
        }];
        let rules = [
            rule(all.clone(), https_redirect()),
            rule(api, Action::fixed(200, None)),
        ];
        // On HTTP:80 the redirect stays and shadows the rule after it.
        assert_eq!(optimize(80, Protocol::Http, &rules), [rules[0].clone()]);
        // On HTTPS:443 the redirect would loop: it goes, and the other rule is reachable.
        assert_eq!(optimize(443, Protocol::Https, &rules), [rules[1].clone()]);
    }

    #[test]
    fn hosts() {
        assert!(check_host("example.com").is_ok());
        assert!(check_host("*.example.com").is_ok());
        assert!(check_host("a.*.example.com").is_err());
        assert!(check_host("example.com:80").is_err());
    }
}
