//! Ingress paths → ALB rule conditions, and the order the ALB controller gives them
//! (`model_build_listener_rules.go`).

use pylon_ir::Condition;
use pylon_model::k8s_openapi::api::networking::v1::HTTPIngressPath;

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

/// The conditions of one rule: host-header first, then path-pattern, as the controller orders
/// them. A rule with neither matches every path (`/*`).
pub fn conditions(host: Option<&str>, patterns: Option<Vec<String>>) -> Vec<Condition> {
    let mut conditions = Vec::new();
    if let Some(host) = host.filter(|h| !h.is_empty()) {
        conditions.push(Condition::HostHeader {
            values: vec![host.to_string()],
        });
    }
    if let Some(values) = patterns {
        conditions.push(Condition::PathPattern { values });
    }
    if conditions.is_empty() {
        conditions.push(Condition::PathPattern {
            values: vec!["/*".to_string()],
        });
    }
    conditions
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

    #[test]
    fn hosts() {
        assert!(check_host("example.com").is_ok());
        assert!(check_host("*.example.com").is_ok());
        assert!(check_host("a.*.example.com").is_err());
        assert!(check_host("example.com:80").is_err());
    }
}
