//! Route rules as the AWS Gateway API Controller builds Lattice listener rules: one match per
//! rule; path Exact or PathPrefix (case-sensitive), one method, at most five Exact header
//! matches; no query parameters and no filters. What Lattice cannot express is refused with the
//! controller's reason, and the rule is not served.

use crate::gateway::routes::{RouteView, RuleView};
use pylon_ir::{Condition, MatchKind};
use pylon_model::Kind;

/// The most header matches one Lattice rule takes (`LATTICE_MAX_HEADER_MATCHES`).
pub const MAX_HEADER_MATCHES: usize = 5;
/// The highest rule priority Lattice accepts (`MaxRulePriority`).
pub const MAX_RULE_PRIORITY: u32 = 100;

/// The conditions of one rule, or why Lattice cannot serve it.
pub fn conditions(route: &RouteView, rule: &RuleView) -> Result<Vec<Condition>, String> {
    if let Some(why) = &rule.invalid {
        return Err(why.clone());
    }
    if !rule.filters.is_empty() || rule.backends.iter().any(|b| !b.filters.is_empty()) {
        return Err(
            "LATTICE_UNSUPPORTED_FILTER: VPC Lattice does not support route filters".into(),
        );
    }
    if rule.timeouts.is_some() {
        return Err(
            "LATTICE_UNSUPPORTED_TIMEOUT: VPC Lattice does not support route timeouts".into(),
        );
    }
    let first = match rule.matches.as_slice() {
        [] => None,
        [one] => Some(one),
        _ => {
            return Err("LATTICE_NO_SUPPORT_FOR_MULTIPLE_MATCHES: VPC Lattice takes one match per rule; write one rule per match".into())
        }
    };
    let grpc = route.kind == Kind::GRPCRoute;
    let mut out = Vec::new();
    let mut headers = 0;
    for condition in first.map(|m| m.conditions.as_slice()).unwrap_or_default() {
        match condition {
            Condition::Path { kind, value } => match kind {
                // A gRPC service alone is the prefix `/<service>/`, as the controller writes it.
                MatchKind::PathPrefix if grpc => out.push(Condition::Path {
                    kind: MatchKind::PathPrefix,
                    value: format!("{}/", value.trim_end_matches('/')),
                }),
                MatchKind::Exact | MatchKind::PathPrefix => out.push(condition.clone()),
                MatchKind::RegularExpression if grpc => {
                    return Err("LATTICE_UNSUPPORTED_GRPC_METHOD_MATCH: VPC Lattice matches a gRPC method only by its exact service and method, or a service alone".into())
                }
                MatchKind::RegularExpression => {
                    return Err(format!("LATTICE_UNSUPPORTED_PATH_MATCH_TYPE: VPC Lattice matches paths Exact or PathPrefix, not RegularExpression ({value})"))
                }
            },
            Condition::Header { name, kind, value } => {
                headers += 1;
                if *kind != MatchKind::Exact {
                    return Err(format!("LATTICE_UNSUPPORTED_HEADER_MATCH_TYPE: VPC Lattice matches headers Exact only (header {name})"));
                }
                // Lattice compares header values without regard to case.
                if value.contains(['*', '?']) {
                    out.push(condition.clone());
                } else {
                    out.push(Condition::HttpHeader {
                        http_header_name: name.clone(),
                        values: vec![value.clone()],
                    });
                }
            }
            Condition::HttpRequestMethod { .. } => out.push(condition.clone()),
            Condition::QueryParam { .. } => {
                return Err("LATTICE_UNSUPPORTED_MATCH_TYPE: VPC Lattice does not match query parameters".into())
            }
            other => return Err(format!("LATTICE_UNSUPPORTED_MATCH_TYPE: {other:?}")),
        }
    }
    if headers > MAX_HEADER_MATCHES {
        return Err(format!("LATTICE_EXCEED_MAX_HEADER_MATCHES: VPC Lattice takes at most {MAX_HEADER_MATCHES} header matches per rule, this one has {headers}"));
    }
    if !out.iter().any(|c| matches!(c, Condition::Path { .. })) {
        // A rule without a path matches every path (prefix `/`).
        out.insert(
            0,
            Condition::Path {
                kind: MatchKind::PathPrefix,
                value: "/".into(),
            },
        );
    }
    if grpc {
        // gRPC is always POST.
        out.push(Condition::HttpRequestMethod {
            values: vec!["POST".into()],
        });
    }
    Ok(out)
}

/// Each rule's priority: its index + 1, or `application-networking.k8s.aws/rule-{i}-priority`;
/// rules without one come after the highest given. Errors name the annotation.
pub fn priorities(
    count: usize,
    annotation: impl Fn(usize) -> Option<String>,
) -> Result<Vec<u32>, String> {
    let mut given = Vec::with_capacity(count);
    for i in 0..count {
        let key = format!("application-networking.k8s.aws/rule-{i}-priority");
        given.push(match annotation(i) {
            None => None,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(p) if (1..=MAX_RULE_PRIORITY).contains(&p) => Some(p),
                _ => {
                    return Err(format!(
                        "{key}: {v:?} is not a priority from 1 to {MAX_RULE_PRIORITY}"
                    ))
                }
            },
        });
    }
    let any_given = given.iter().any(Option::is_some);
    let mut next = given.iter().flatten().max().copied().unwrap_or(0);
    let mut out = Vec::with_capacity(count);
    for (i, p) in given.into_iter().enumerate() {
        out.push(match p {
            Some(p) => p,
            None if !any_given => i as u32 + 1,
            None => {
                next += 1;
                next
            }
        });
    }
    if let Some(p) = out.iter().find(|p| **p > MAX_RULE_PRIORITY) {
        return Err(format!(
            "rule priority {p} is over VPC Lattice's highest, {MAX_RULE_PRIORITY}"
        ));
    }
    let mut sorted = out.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "two rules have priority {}: each rule of a route needs its own",
            w[0]
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_the_rule_order_unless_annotated() {
        assert_eq!(priorities(3, |_| None), Ok(vec![1, 2, 3]));
        let given = |i: usize| (i == 1).then(|| "10".to_string());
        assert_eq!(priorities(3, given), Ok(vec![11, 10, 12]));
        assert!(priorities(1, |_| Some("101".into()))
            .unwrap_err()
            .contains("rule-0-priority"));
        assert!(priorities(2, |_| Some("5".into()))
            .unwrap_err()
            .contains("two rules"));
        assert!(priorities(1, |_| Some("x".into())).is_err());
    }
}
