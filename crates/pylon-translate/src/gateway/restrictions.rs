//! LoadBalancerConfiguration settings that restrict who may reach a Gateway's load balancer:
//! `sourceRanges` (all of it) and `listenerConfigurations[].mutualAuthentication` in `verify`
//! mode (one port). Pylon does not enforce them yet, so what they protect fails closed
//! (`crate::restriction`). Restricting actions of a ListenerRuleConfiguration are read in
//! `backends`.

use pylon_model::aws::LoadBalancerConfiguration;
use pylon_model::{Kind, ObjectRef, Problem};
use std::collections::BTreeMap;

/// The restrictions of one Gateway's load balancer, each with the problem that reports it.
#[derive(Debug, Default, Clone)]
pub struct Restrictions {
    pub load_balancer: Option<(String, Problem)>,
    pub listeners: BTreeMap<u16, (String, Problem)>,
    /// Settings of `listenerConfigurations` Pylon does not act on.
    pub ignored: Vec<Problem>,
}

impl Restrictions {
    /// The setting that keeps the listener on `port` from being served, if any.
    pub fn for_listener(&self, port: u16) -> Option<&str> {
        self.load_balancer
            .as_ref()
            .or_else(|| self.listeners.get(&port))
            .map(|(setting, _)| setting.as_str())
    }

    /// Every problem to report: each restriction and each ignored setting.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.load_balancer
            .iter()
            .chain(self.listeners.values())
            .map(|(_, p)| p)
            .chain(&self.ignored)
    }
}

/// Reads the restrictions of every LoadBalancerConfiguration layer (class and Gateway): a
/// restriction in any layer applies, since either would restrict an ALB built from them.
pub fn read(layers: &[&LoadBalancerConfiguration]) -> Restrictions {
    let mut out = Restrictions::default();
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
            out.load_balancer = Some((
                setting.clone(),
                restricted(&object, "spec.sourceRanges", &setting, "this load balancer"),
            ));
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
                ("verify", Some(port)) => {
                    let setting = format!("{object} {field}.mutualAuthentication");
                    out.listeners.entry(port).or_insert_with(|| {
                        let scope = format!("the listener on port {port}");
                        let problem = restricted(&object, &format!("{field}.mutualAuthentication"), &setting, &scope);
                        (setting, problem)
                    });
                }
                _ => out.ignored.push(Problem::warning(
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
                out.ignored.push(Problem::warning(
                    Some(object.clone()),
                    Some(format!("{field}.{name}")),
                    format!("{name} is not supported by Pylon yet; ignored"),
                ));
            }
        }
    }
    out
}

fn restricted(object: &ObjectRef, field: &str, setting: &str, scope: &str) -> Problem {
    Problem::error(
        Some(object.clone()),
        Some(field.to_string()),
        crate::restriction::message(setting, scope),
    )
}
