//! LoadBalancerConfiguration settings that restrict who may reach a Gateway's load balancer:
//! `sourceRanges` (all of it) and `listenerConfigurations[].mutualAuthentication` in `verify`
//! mode (one port). Pylon does not enforce them yet, so what they protect fails closed
//! (`crate::restriction`). Restricting actions of a ListenerRuleConfiguration are read in
//! `backends`.

use crate::restriction::Restrictions;
use pylon_model::aws::LoadBalancerConfiguration;
use pylon_model::{Kind, ObjectRef, Problem};

/// Reads the restrictions of every LoadBalancerConfiguration layer (class and Gateway): a
/// restriction in any layer applies, since either would restrict an ALB built from them. The
/// problems report each restriction and each `listenerConfigurations` setting Pylon ignores.
pub fn read(layers: &[&LoadBalancerConfiguration]) -> (Restrictions, Vec<Problem>) {
    let mut out = Restrictions::default();
    let mut problems = Vec::new();
    for config in layers {
        let object = ObjectRef::namespaced(
            Kind::LoadBalancerConfiguration,
            config.metadata.namespace.as_deref().unwrap_or_default(),
            config.metadata.name.as_deref().unwrap_or_default(),
        );
        let ranges = config.spec.source_ranges.iter().flatten();
        // 0.0.0.0/0 and ::/0 let everyone in: no restriction. Anything else (an invalid range
        // too) restricts.
        let restricting = ranges.clone().any(|r| {
            r.parse::<ipnet::IpNet>()
                .map_or(true, |n| n.prefix_len() != 0)
        });
        if restricting && out.load_balancer.is_none() {
            let setting = format!("{object} spec.sourceRanges");
            problems.push(restricted(
                &object,
                "spec.sourceRanges",
                &setting,
                "this load balancer",
            ));
            out.load_balancer = Some(setting);
        }
        for (i, l) in config
            .spec
            .listener_configurations
            .iter()
            .flatten()
            .enumerate()
        {
            let field = format!("spec.listenerConfigurations[{i}]");
            let mode = l
                .mutual_authentication
                .as_ref()
                .and_then(|m| m.get("mode"))
                .and_then(|m| m.as_str())
                .unwrap_or("off");
            let port = l
                .protocol_port
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok());
            match (mode, port) {
                ("off", _) => {}
                ("verify", Some(port)) if !out.listeners.contains_key(&port) => {
                    let setting = format!("{object} {field}.mutualAuthentication");
                    let scope = format!("the listener on port {port}");
                    let at = format!("{field}.mutualAuthentication");
                    problems.push(restricted(&object, &at, &setting, &scope));
                    out.listeners.insert(port, setting);
                }
                ("verify", Some(_)) => {}
                // Verify on a port Pylon cannot read: it could be any listener, so none is served.
                ("verify", None) if out.load_balancer.is_none() => {
                    let setting = format!("{object} {field}.mutualAuthentication");
                    let at = format!("{field}.protocolPort");
                    let scope = format!("this load balancer ({:?} names no port)", l.protocol_port);
                    problems.push(restricted(&object, &at, &setting, &scope));
                    out.load_balancer = Some(setting);
                }
                ("verify", None) => {}
                _ => problems.push(Problem::warning(
                    Some(object.clone()),
                    Some(format!("{field}.mutualAuthentication")),
                    format!("mode {mode:?} on {}: Pylon does not pass client certificates to targets yet; ignored", l.protocol_port),
                )),
            }
            let others = [
                ("defaultCertificate", l.default_certificate.is_some()),
                ("certificates", l.certificates.is_some()),
                ("sslPolicy", l.ssl_policy.is_some()),
                ("alpnPolicy", l.alpn_policy.is_some()),
                ("targetGroupStickiness", l.target_group_stickiness.is_some()),
                ("listenerAttributes", l.listener_attributes.is_some()),
                ("quicEnabled", l.quic_enabled.is_some()),
            ];
            for (name, _) in others.iter().filter(|(_, set)| *set) {
                problems.push(Problem::warning(
                    Some(object.clone()),
                    Some(format!("{field}.{name}")),
                    format!("{name} is not supported by Pylon yet; ignored"),
                ));
            }
        }
    }
    (out, problems)
}

fn restricted(object: &ObjectRef, field: &str, setting: &str, scope: &str) -> Problem {
    Problem::error(
        Some(object.clone()),
        Some(field.to_string()),
        crate::restriction::message(setting, scope),
    )
}
