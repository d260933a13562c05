//! `pylon plan`: the IR as a tree, the way the AWS console shows an Application Load Balancer.

mod describe;
mod lattice;

use describe::{action, condition, filter, Groups};
use pylon_ir::{HealthCheckPort, Listener, LoadBalancer, ProtocolVersion, TargetGroup};
use pylon_model::Problem;
use pylon_translate::Translation;
use std::fmt::Write;

pub fn render(translation: &Translation) -> String {
    let mut out = String::new();
    let ir = &translation.ir;
    if ir.load_balancers.is_empty()
        && ir.service_networks.is_empty()
        && ir.standalone_services.is_empty()
    {
        out.push_str("No load balancers.\n");
    }
    for lb in &ir.load_balancers {
        load_balancer(&mut out, lb);
    }
    for sn in &ir.service_networks {
        lattice::service_network(&mut out, sn);
    }
    lattice::standalone(
        &mut out,
        &ir.standalone_services,
        &ir.exported_target_groups,
    );
    lattice::credentials(&mut out, &ir.credentials);
    problems(&mut out, &translation.problems);
    out
}

fn load_balancer(out: &mut String, lb: &LoadBalancer) {
    let mut address = lb
        .address
        .map_or("(no address)".to_string(), |a| a.to_string());
    if !lb.ip_address_type.is_ipv4() {
        let v6 = lb
            .address_v6
            .map_or("(no IPv6 address)".to_string(), |a| a.to_string());
        address = format!("{address} and {v6} (dualstack)");
    }
    let _ = writeln!(out, "Load balancer {}  ({})", lb.name, lb.origin);
    if !lb.members.is_empty() {
        let members: Vec<String> = lb.members.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  IngressGroup members in order: {}",
            members.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  scheme {}, address {address}, idle timeout {}s",
        lb.scheme.as_str(),
        lb.attributes.idle_timeout_seconds
    );
    let groups = |id: &str| lb.target_group(id);
    for l in &lb.listeners {
        listener(out, "  ", l, &groups);
    }
    for tg in lb.target_groups.values() {
        target_group(out, "  ", tg);
    }
    out.push('\n');
}

/// A listener and its rules in order, then its default action, indented by `indent`.
fn listener(out: &mut String, indent: &str, listener: &Listener, groups: &Groups<'_>) {
    let _ = writeln!(
        out,
        "{indent}Listener {}:{}",
        listener.protocol.as_str(),
        listener.port
    );
    for rule in &listener.rules {
        let conditions: Vec<String> = rule.conditions.iter().map(condition).collect();
        let mut action = action(groups, &rule.action);
        for f in rule.filters.iter().rev() {
            action = format!("{}, then {action}", filter(f, groups));
        }
        if let Some(t) = &rule.timeouts {
            if let Some(ms) = t.request_ms {
                action.push_str(&format!(" (request timeout {ms} ms)"));
            }
            if let Some(ms) = t.backend_request_ms {
                action.push_str(&format!(" (backend timeout {ms} ms)"));
            }
        }
        let conditions = match conditions.is_empty() {
            true => "(any request)".to_string(),
            false => conditions.join(" AND "),
        };
        let _ = writeln!(
            out,
            "{indent}  {:>7}  IF {conditions}\n{indent}           THEN {action}\n{indent}           from {}, {}",
            rule.priority,
            rule.origin.object,
            rule.origin.field
        );
    }
    let _ = writeln!(
        out,
        "{indent}  default  THEN {}",
        action(groups, &listener.default_action)
    );
}

fn target_group(out: &mut String, indent: &str, tg: &TargetGroup) {
    let hc = &tg.health_check;
    let hc_port = match hc.port {
        HealthCheckPort::TrafficPort => "traffic-port".to_string(),
        HealthCheckPort::Port(p) => p.to_string(),
    };
    let _ = writeln!(
        out,
        "{indent}Target group {}  ({} port {})",
        tg.name, tg.service, tg.service_port
    );
    let _ = writeln!(
        out,
        "{indent}  target type {}, protocol {}, port {}{}",
        tg.target_type.as_str(),
        tg.protocol.as_str(),
        tg.port,
        match tg.protocol_version {
            ProtocolVersion::Http1 => "",
            ProtocolVersion::Http2 => ", version HTTP2",
            ProtocolVersion::Grpc => ", version GRPC",
        }
    );
    if !hc.enabled {
        let _ = writeln!(out, "{indent}  health check off");
    } else {
        let _ = writeln!(
        out,
        "{indent}  health check {} {hc_port} {}, every {}s, timeout {}s, healthy {}, unhealthy {}, codes {}",
        hc.protocol.as_str(),
        hc.path,
        hc.interval_seconds,
        hc.timeout_seconds,
        hc.healthy_threshold,
        hc.unhealthy_threshold,
        hc.success_codes
    );
    }
    if tg.targets.is_empty() {
        let _ = writeln!(out, "{indent}  (no targets)");
    }
    for t in &tg.targets {
        let addr = std::net::SocketAddr::new(t.ip, t.port);
        match &t.name {
            Some(name) => {
                let _ = writeln!(out, "{indent}  target {addr}  {name}");
            }
            None => {
                let _ = writeln!(out, "{indent}  target {addr}");
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
