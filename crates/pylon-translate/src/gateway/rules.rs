//! A route's rules on one listener: one load balancer rule per (match, hostname), with the
//! precedence key that orders it among every rule of the port.

use super::backends::{self, Backends, RefError};
use super::precedence;
use super::routes::RouteView;
use super::status::reason;
use super::{single_prefix, Flavor};
use pylon_ir::{Action, Condition, MatchKind, Rule, RuleOrigin, WeightedTargetGroup};

/// A route's rules on one listener, one IR rule per (match, hostname), with their precedence keys.
pub fn candidates(
    route: &RouteView,
    hostnames: &[Option<String>],
    backends: &mut Backends<'_>,
) -> Vec<(precedence::Key, Rule)> {
    let mut out = Vec::new();
    for (ri, rule) in route.rules.iter().enumerate() {
        if rule.invalid.is_some() {
            continue;
        }
        for (mi, m) in rule.matches.iter().enumerate() {
            let prefix = single_prefix(rule).or_else(|| m.prefix.clone());
            let Ok(filters) = backends::filters(&rule.filters, prefix.as_deref(), backends) else {
                continue;
            };
            let action = match (&filters.not_served, filters.redirect.clone()) {
                (Some(setting), _) => crate::restriction::not_served(setting),
                (None, Some(redirect)) => redirect,
                (None, None) => {
                    let mut target_groups = Vec::new();
                    let mut unusable_weight = 0;
                    for b in &rule.backends {
                        match backends.resolve(
                            b.group.as_deref(),
                            b.kind.as_deref(),
                            &b.name,
                            b.namespace.as_deref(),
                            b.port,
                        ) {
                            Ok(id) => {
                                let own =
                                    backends::filters(&b.filters, prefix.as_deref(), backends)
                                        .map(|f| f.filters)
                                        .unwrap_or_default();
                                target_groups.push(WeightedTargetGroup {
                                    id,
                                    weight: b.weight,
                                    filters: own,
                                });
                            }
                            Err(_) => unusable_weight += b.weight,
                        }
                    }
                    Action::Forward {
                        target_groups,
                        unusable_weight,
                    }
                }
            };
            for host in hostnames {
                let mut conditions: Vec<Condition> = host
                    .iter()
                    .map(|h| Condition::HostHeader {
                        values: vec![h.clone()],
                    })
                    .collect();
                conditions.extend(m.conditions.iter().map(|c| as_sent(backends.flavor, c)));
                conditions.extend(filters.conditions.iter().cloned());
                let key = precedence::Key {
                    hostname: host.clone(),
                    rank: m.rank,
                    created: route.created.clone(),
                    route: (
                        route.object.namespace.clone().unwrap_or_default(),
                        route.object.name.clone(),
                    ),
                    rule: ri,
                    matched: mi,
                };
                out.push((
                    key,
                    Rule {
                        priority: 0,
                        origin: RuleOrigin {
                            object: route.object.clone(),
                            field: format!("spec.rules[{ri}].matches[{mi}]"),
                        },
                        conditions,
                        filters: match filters.not_served {
                            Some(_) => vec![],
                            None => filters.filters.clone(),
                        },
                        timeouts: rule.timeouts.clone(),
                        action: action.clone(),
                        access_log: None,
                        auth: None,
                    },
                ));
            }
        }
    }
    out
}

/// A match as the class's load balancer takes it. The ALB controller sends an `Exact` header
/// value to the ALB as an `http-header` condition: split on unescaped commas into values any of
/// which may match (`\,` is a comma), compared without regard to case, `*` and `?` wildcards.
/// An `Exact` path is sent verbatim as a `path-pattern`, so its `*` and `?` are ALB wildcards.
fn as_sent(flavor: Flavor, condition: &Condition) -> Condition {
    match (flavor, condition) {
        (
            Flavor::Alb,
            Condition::Path {
                kind: MatchKind::Exact,
                value,
            },
        ) => Condition::PathPattern {
            values: vec![value.clone()],
        },
        (
            Flavor::Alb,
            Condition::Header {
                name,
                kind: MatchKind::Exact,
                value,
            },
        ) => Condition::HttpHeader {
            http_header_name: name.clone(),
            values: split_values(value),
        },
        _ => condition.clone(),
    }
}

/// Why the ALB controller refuses a route's matches: a `PathPrefix` with ALB wildcards in it,
/// which the ALB could not express as a prefix.
pub fn alb_match_error(route: &RouteView) -> Option<RefError> {
    route.rules.iter().enumerate().find_map(|(ri, rule)| {
        rule.matches.iter().enumerate().find_map(|(mi, m)| {
            m.conditions.iter().find_map(|c| match c {
                Condition::Path {
                    kind: MatchKind::PathPrefix,
                    value,
                } if value.contains(['*', '?']) => Some(RefError {
                    reason: reason::UNSUPPORTED_VALUE,
                    message: format!(
                        "spec.rules[{ri}].matches[{mi}].path: prefix path shouldn't contain wildcards: {value}"
                    ),
                }),
                _ => None,
            })
        })
    })
}

/// `a,b\,c` → `a`, `b,c`: the controller's split of header match values.
fn split_values(value: &str) -> Vec<String> {
    let mut values = vec![String::new()];
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                values.last_mut().expect("one value").push(',');
            }
            ',' => values.push(String::new()),
            c => values.last_mut().expect("one value").push(c),
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::split_values;

    #[test]
    fn header_values_split_on_unescaped_commas() {
        assert_eq!(split_values("a"), vec!["a"]);
        assert_eq!(split_values("a,b"), vec!["a", "b"]);
        assert_eq!(split_values("a\\,b,c"), vec!["a,b", "c"]);
        assert_eq!(split_values("a\\b"), vec!["a\\b"]);
        assert_eq!(split_values(""), vec![""]);
    }
}
