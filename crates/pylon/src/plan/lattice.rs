//! A VPC Lattice service network as the Lattice console shows it: the network, its services with
//! their DNS names, each service's listeners and rules, its target groups and their targets.

use super::{listener, target_group};
use pylon_ir::lattice::{AwsCredential, LatticeTargetGroup, Service, ServiceNetwork};
use std::fmt::Write;

pub fn service_network(out: &mut String, sn: &ServiceNetwork) {
    let mut gateways: Vec<String> = sn.gateways.iter().map(ToString::to_string).collect();
    if gateways.is_empty() {
        gateways.push("no Gateway here: not associated with this cluster's VPC".into());
    }
    let _ = writeln!(
        out,
        "Service network {}  {}  ({})",
        sn.name,
        sn.id,
        gateways.join(", ")
    );
    let address = sn
        .address
        .map_or("(no address)".to_string(), |a| a.to_string());
    let _ = writeln!(out, "  arn {}", sn.arn);
    if !sn.remote_gateways.is_empty() {
        let remote: Vec<String> = sn
            .remote_gateways
            .iter()
            .map(|g| format!("{} in cluster {}", g.object, g.cluster))
            .collect();
        let _ = writeln!(out, "  spans other clusters: {}", remote.join(", "));
    }
    match sn.associated {
        true => {
            let _ = writeln!(
                out,
                "  data-plane address {address}, associated VPC {}",
                sn.source_vpc
            );
        }
        false => {
            let _ = writeln!(
                out,
                "  not associated with VPC {} (VpcAssociationPolicy): not served here",
                sn.source_vpc
            );
        }
    }
    auth(out, "  ", sn.auth_policy.as_deref());
    for log in &sn.access_logs {
        let _ = writeln!(out, "  access log of every service to {log}");
    }
    if sn.services.is_empty() {
        let _ = writeln!(out, "  (no services)");
    }
    for service in &sn.services {
        self::service(out, service);
    }
    out.push('\n');
}

/// Services in no network, and ServiceExports' target groups.
pub fn standalone(out: &mut String, services: &[Service], exported: &[LatticeTargetGroup]) {
    if !services.is_empty() {
        let _ = writeln!(out, "Standalone Lattice services (in no service network)");
        for s in services {
            service(out, s);
        }
        out.push('\n');
    }
    if !exported.is_empty() {
        let _ = writeln!(out, "Exported target groups (ServiceExport)");
        for tg in exported {
            lattice_target_group(out, "  ", tg);
        }
        out.push('\n');
    }
}

fn service(out: &mut String, service: &Service) {
    let place = match &service.cluster {
        Some(cluster) => format!("{} in cluster {cluster}", service.origin),
        None => service.origin.to_string(),
    };
    let _ = writeln!(out, "  Service {}  {}  ({place})", service.name, service.id);
    let _ = writeln!(out, "    arn {}", service.arn);
    let _ = writeln!(out, "    DNS name {}", service.dns_name);
    if let Some(domain) = &service.custom_domain {
        let _ = writeln!(out, "    custom domain {domain}");
    }
    let _ = writeln!(out, "    idle timeout {}s", service.idle_timeout_seconds);
    auth(out, "    ", service.auth_policy.as_deref());
    for log in &service.access_logs {
        let _ = writeln!(out, "    access log to {log}");
    }
    let groups = |id: &str| service.target_groups.get(id).map(|tg| &tg.group);
    for l in &service.listeners {
        listener(out, "    ", l, &groups);
    }
    for tg in service.target_groups.values() {
        lattice_target_group(out, "    ", tg);
    }
}

fn lattice_target_group(out: &mut String, indent: &str, tg: &LatticeTargetGroup) {
    target_group(out, indent, &tg.group);
    let _ = writeln!(out, "{indent}  arn {}", tg.arn);
    if let Some(cluster) = &tg.cluster {
        let _ = writeln!(out, "{indent}  targets in cluster {cluster}");
    }
}

/// The auth type, and the policy when it is `AWS_IAM`.
fn auth(out: &mut String, indent: &str, policy: Option<&str>) {
    match policy {
        None => {
            let _ = writeln!(out, "{indent}auth type NONE");
        }
        Some(policy) => {
            let _ = writeln!(out, "{indent}auth type AWS_IAM (IAMAuthPolicy)");
            let compact = serde_json::from_str::<serde_json::Value>(policy)
                .map_or_else(|_| policy.to_string(), |v| v.to_string());
            let _ = writeln!(out, "{indent}  policy {compact}");
        }
    }
}

/// The access keys signed requests are checked against: the Secret and the principal only.
pub fn credentials(out: &mut String, credentials: &[AwsCredential]) {
    if credentials.is_empty() {
        return;
    }
    let _ = writeln!(out, "Callers' access keys (for signed Lattice requests)");
    for c in credentials {
        let mut line = format!("  {} signs as {}", c.secret, c.principal);
        if let Some(org) = &c.org_id {
            line.push_str(&format!(", organization {org}"));
        }
        if !c.tags.is_empty() {
            let tags: Vec<String> = c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push_str(&format!(", tags {}", tags.join(" ")));
        }
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
}
