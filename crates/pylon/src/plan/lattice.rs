//! A VPC Lattice service network as the Lattice console shows it: the network, its services with
//! their DNS names, each service's listeners and rules, its target groups and their targets.

use super::{listener, target_group};
use pylon_ir::lattice::{LatticeTargetGroup, Service, ServiceNetwork};
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
    let _ = writeln!(
        out,
        "  auth type {}",
        if sn.auth_policy.is_some() {
            "AWS_IAM (IAMAuthPolicy)"
        } else {
            "NONE"
        }
    );
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
            target_group(out, "  ", &tg.group);
            let _ = writeln!(out, "    arn {}", tg.arn);
        }
        out.push('\n');
    }
}

fn service(out: &mut String, service: &Service) {
    let _ = writeln!(
        out,
        "  Service {}  {}  ({})",
        service.name, service.id, service.origin
    );
    let _ = writeln!(out, "    arn {}", service.arn);
    let _ = writeln!(out, "    DNS name {}", service.dns_name);
    if let Some(domain) = &service.custom_domain {
        let _ = writeln!(out, "    custom domain {domain}");
    }
    let _ = writeln!(out, "    idle timeout {}s", service.idle_timeout_seconds);
    let _ = writeln!(
        out,
        "    auth type {}",
        if service.auth_policy.is_some() {
            "AWS_IAM (IAMAuthPolicy)"
        } else {
            "NONE"
        }
    );
    for log in &service.access_logs {
        let _ = writeln!(out, "    access log to {log}");
    }
    let groups = |id: &str| service.target_groups.get(id).map(|tg| &tg.group);
    for l in &service.listeners {
        listener(out, "    ", l, &groups);
    }
    for tg in service.target_groups.values() {
        target_group(out, "    ", &tg.group);
        let _ = writeln!(out, "      arn {}", tg.arn);
    }
}
