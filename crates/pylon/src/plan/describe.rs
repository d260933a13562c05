//! One-line descriptions of conditions, filters and actions, as the console writes them.

use pylon_ir::{Action, Condition, Filter, HeaderModifier, MatchKind, PathModifier, TargetGroup};

/// Finds a target group by id, for its name.
pub type Groups<'a> = dyn Fn(&str) -> Option<&'a TargetGroup> + 'a;

pub fn condition(c: &Condition) -> String {
    let list = |values: &[String]| values.join(" or ");
    match c {
        Condition::HostHeader { values } => format!("host is {}", list(values)),
        Condition::PathPattern { values } => format!("path is {}", list(values)),
        Condition::HttpHeader {
            http_header_name,
            values,
        } => format!("header {http_header_name} is {}", list(values)),
        Condition::HttpRequestMethod { values } => format!("method is {}", list(values)),
        Condition::QueryString { values } => {
            let pairs: Vec<String> = values
                .iter()
                .map(|p| match &p.key {
                    Some(k) => format!("{k}={}", p.value),
                    None => p.value.clone(),
                })
                .collect();
            format!("query has {}", list(&pairs))
        }
        Condition::SourceIp { values } => {
            let nets: Vec<String> = values.iter().map(ToString::to_string).collect();
            format!("source ip in {}", list(&nets))
        }
        Condition::Path { kind, value } => format!("path {} {value}", match_kind(*kind)),
        Condition::Header { name, kind, value } => {
            format!("header {name} {} {value}", match_kind(*kind))
        }
        Condition::QueryParam { name, kind, value } => {
            format!("query {name} {} {value}", match_kind(*kind))
        }
    }
}

fn match_kind(kind: MatchKind) -> &'static str {
    match kind {
        MatchKind::Exact => "is",
        MatchKind::PathPrefix => "starts with",
        MatchKind::RegularExpression => "matches",
    }
}

pub fn filter(f: &Filter, groups: &Groups<'_>) -> String {
    let headers = |m: &HeaderModifier| {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(m.set.iter().map(|h| format!("set {}: {}", h.name, h.value)));
        parts.extend(m.add.iter().map(|h| format!("add {}: {}", h.name, h.value)));
        parts.extend(m.remove.iter().map(|h| format!("remove {h}")));
        parts.join(", ")
    };
    match f {
        Filter::RequestHeaderModifier(m) => format!("request headers: {}", headers(m)),
        Filter::ResponseHeaderModifier(m) => format!("response headers: {}", headers(m)),
        Filter::UrlRewrite { hostname, path } => {
            let mut parts = Vec::new();
            if let Some(h) = hostname {
                parts.push(format!("host {h}"));
            }
            if let Some(p) = path {
                parts.push(path_modifier(p));
            }
            format!("rewrite {}", parts.join(", "))
        }
        Filter::Cors {
            allow_origins,
            allow_methods,
            allow_credentials,
            ..
        } => format!(
            "CORS for {} (methods {}{})",
            allow_origins.join(" "),
            allow_methods.join(" "),
            if *allow_credentials {
                ", credentials"
            } else {
                ""
            }
        ),
        Filter::RequestMirror {
            target_group,
            numerator,
            denominator,
        } => {
            let name = groups(target_group).map_or(target_group.as_str(), |tg| tg.name.as_str());
            format!("mirror {numerator}/{denominator} to {name}")
        }
    }
}

fn path_modifier(p: &PathModifier) -> String {
    match p {
        PathModifier::ReplaceFullPath { path } => format!("path {path}"),
        PathModifier::ReplacePrefixMatch {
            matched,
            replacement,
        } => format!("path prefix {matched} -> {replacement}"),
    }
}

pub fn action(groups: &Groups<'_>, a: &Action) -> String {
    match a {
        Action::Forward {
            target_groups,
            unusable_weight,
        } => {
            let weighted = target_groups.len() > 1 || *unusable_weight > 0;
            let mut names: Vec<String> = target_groups
                .iter()
                .map(|w| {
                    let name = groups(&w.id).map_or(w.id.as_str(), |tg| tg.name.as_str());
                    let mut text = if weighted {
                        format!("{name} (weight {})", w.weight)
                    } else {
                        name.to_string()
                    };
                    for f in &w.filters {
                        text.push_str(&format!(" [{}]", filter(f, groups)));
                    }
                    text
                })
                .collect();
            if *unusable_weight > 0 {
                names.push(format!(
                    "500 for unresolved backends (weight {unusable_weight})"
                ));
            }
            if names.is_empty() {
                return "return 500 (no backends)".to_string();
            }
            format!("forward to {}", names.join(", "))
        }
        Action::RouteRedirect {
            scheme,
            hostname,
            port,
            path,
            status_code,
        } => {
            let mut parts = Vec::new();
            if let Some(s) = scheme {
                parts.push(format!("scheme {s}"));
            }
            if let Some(h) = hostname {
                parts.push(format!("host {h}"));
            }
            if let Some(p) = port {
                parts.push(format!("port {p}"));
            }
            if let Some(p) = path {
                parts.push(path_modifier(p));
            }
            format!("redirect {status_code} ({})", parts.join(", "))
        }
        Action::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => match message_body {
            Some(body) => format!("return fixed response {status_code} ({content_type}: {body:?})"),
            None => format!("return fixed response {status_code}"),
        },
        Action::Redirect {
            protocol,
            port,
            host,
            path,
            query,
            status_code,
        } => format!("redirect {status_code} to {protocol}://{host}:{port}{path}?{query}"),
    }
}
