//! `pylon plan`: the IR as a tree, the way the AWS console shows an Application Load Balancer.

use pylon_ir::{
    Action, Condition, Filter, HeaderModifier, HealthCheckPort, LoadBalancer, MatchKind,
    PathModifier, TargetGroup,
};
use pylon_model::Problem;
use pylon_translate::Translation;
use std::fmt::Write;

pub fn render(translation: &Translation) -> String {
    let mut out = String::new();
    if translation.ir.load_balancers.is_empty() {
        out.push_str("No load balancers.\n");
    }
    for lb in &translation.ir.load_balancers {
        load_balancer(&mut out, lb);
    }
    problems(&mut out, &translation.problems);
    out
}

fn load_balancer(out: &mut String, lb: &LoadBalancer) {
    let address = lb
        .address
        .map_or("(no address)".to_string(), |a| a.to_string());
    let _ = writeln!(out, "Load balancer {}  ({})", lb.name, lb.origin);
    let _ = writeln!(
        out,
        "  scheme {}, address {address}, idle timeout {}s",
        lb.scheme.as_str(),
        lb.attributes.idle_timeout_seconds
    );
    for listener in &lb.listeners {
        let _ = writeln!(
            out,
            "  Listener {}:{}",
            listener.protocol.as_str(),
            listener.port
        );
        for rule in &listener.rules {
            let conditions: Vec<String> = rule.conditions.iter().map(condition).collect();
            let mut action = action(lb, &rule.action);
            for f in rule.filters.iter().rev() {
                action = format!("{}, then {action}", filter(f, lb));
            }
            if let Some(t) = &rule.timeouts {
                if let Some(ms) = t.request_ms {
                    action.push_str(&format!(" (request timeout {ms} ms)"));
                }
                if let Some(ms) = t.backend_request_ms {
                    action.push_str(&format!(" (backend timeout {ms} ms)"));
                }
            }
            let _ = writeln!(
                out,
                "    {:>7}  IF {}\n             THEN {}\n             from {}, {}",
                rule.priority,
                conditions.join(" AND "),
                action,
                rule.origin.object,
                rule.origin.field
            );
        }
        let _ = writeln!(
            out,
            "    default  THEN {}",
            action(lb, &listener.default_action)
        );
    }
    for tg in lb.target_groups.values() {
        target_group(out, tg);
    }
    out.push('\n');
}

fn condition(c: &Condition) -> String {
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

fn filter(f: &Filter, lb: &LoadBalancer) -> String {
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
            let name = lb
                .target_group(target_group)
                .map_or(target_group.as_str(), |tg| tg.name.as_str());
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

fn action(lb: &LoadBalancer, a: &Action) -> String {
    match a {
        Action::Forward {
            target_groups,
            unusable_weight,
        } => {
            let weighted = target_groups.len() > 1 || *unusable_weight > 0;
            let mut names: Vec<String> = target_groups
                .iter()
                .map(|w| {
                    let name = lb
                        .target_group(&w.id)
                        .map_or(w.id.as_str(), |tg| tg.name.as_str());
                    let mut text = if weighted {
                        format!("{name} (weight {})", w.weight)
                    } else {
                        name.to_string()
                    };
                    for f in &w.filters {
                        text.push_str(&format!(" [{}]", filter(f, lb)));
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

fn target_group(out: &mut String, tg: &TargetGroup) {
    let hc = &tg.health_check;
    let hc_port = match hc.port {
        HealthCheckPort::TrafficPort => "traffic-port".to_string(),
        HealthCheckPort::Port(p) => p.to_string(),
    };
    let _ = writeln!(
        out,
        "  Target group {}  ({} port {})",
        tg.name, tg.service, tg.service_port
    );
    let _ = writeln!(
        out,
        "    target type {}, protocol {}, port {}",
        tg.target_type.as_str(),
        tg.protocol.as_str(),
        tg.port
    );
    let _ = writeln!(
        out,
        "    health check {} {hc_port} {}, every {}s, timeout {}s, healthy {}, unhealthy {}, codes {}",
        hc.protocol.as_str(),
        hc.path,
        hc.interval_seconds,
        hc.timeout_seconds,
        hc.healthy_threshold,
        hc.unhealthy_threshold,
        hc.success_codes
    );
    if tg.targets.is_empty() {
        let _ = writeln!(out, "    (no targets)");
    }
    for t in &tg.targets {
        let addr = std::net::SocketAddr::new(t.ip, t.port);
        match &t.name {
            Some(name) => {
                let _ = writeln!(out, "    target {addr}  {name}");
            }
            None => {
                let _ = writeln!(out, "    target {addr}");
            }
        }
    }
}

fn problems(out: &mut String, problems: &[Problem]) {
    if problems.is_empty() {
        return;
    }
    let _ = writeln!(out, "Problems:");
    for p in problems {
        let _ = writeln!(out, "  {p}");
    }
}
