//! One IngressGroup → one load balancer, as the controller's model builder makes it: the
//! group-wide settings (scheme, IP address type, name, attributes, `ssl-redirect`) taken from
//! whichever members set them and refused when two disagree; a listener per port of the members'
//! `listen-ports` (a port's protocol agreed by every member naming it); on each listener the rules
//! of the members that name its port, member after member in the group's order.

use super::annotations::{self, Annotations, LoadBalancerSettings};
use super::group::{self, Group, GroupId};
use super::member::Build;
use super::rules::{self, PendingRule};
use super::{restrictions, tls};
use crate::restriction::Restrictions;
use crate::{names, Options};
use pylon_ir::{
    Action, Listener, LoadBalancer, LoadBalancerAttributes, Protocol, Rule, RuleOrigin,
    ServerCertificate,
};
use pylon_model::{ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// What one member brings to its group.
struct Part<'a> {
    origin: &'a ObjectRef,
    own: Annotations<'a>,
    settings: LoadBalancerSettings,
    certificate_arn: Option<String>,
    restricted: Restrictions,
    rules: Vec<PendingRule>,
    default_action: Option<Action>,
    certificates: Vec<ServerCertificate>,
}

impl Part<'_> {
    fn declares(&self, port: u16) -> bool {
        self.settings.listen_ports.iter().any(|(_, p)| *p == port)
    }

    /// The raw value of an annotation this member sets itself.
    fn explicit(&self, key: &str) -> Option<&str> {
        self.own.get(key).map(|f| f.value)
    }
}

/// The group's load balancer; `None` when the group has errors (each member that has them is
/// told, and every member of an explicit group is told the group is not built).
pub fn translate(
    group: &Group<'_>,
    snapshot: &Snapshot,
    options: &Options,
    problems: &mut Vec<Problem>,
) -> Option<LoadBalancer> {
    let lb_id = match &group.id {
        GroupId::Explicit(name) => format!("ingress-group/{name}"),
        GroupId::Implicit(ns, name) => format!("ingress/{ns}/{name}"),
    };
    let group_text = group.id.text();
    let mut failed = false;
    let mut parts = Vec::new();
    for m in &group.members {
        let annotations_of = m.ingress.metadata.annotations.as_ref();
        let own = Annotations::new(vec![(&m.origin, annotations_of)]);
        annotations::unsupported(&m.origin, annotations_of, false, problems);
        let spec = m.ingress.spec.clone().unwrap_or_default();
        let certificate_arn = own.get("certificate-arn").map(|f| f.key);
        let prefer_tls =
            spec.tls.as_ref().is_some_and(|t| !t.is_empty()) || certificate_arn.is_some();
        // Every problem of a member is reported in one pass: an invalid annotation does not stop
        // the rules from being checked, it only keeps the load balancer from being built.
        let (settings, mut errors) =
            annotations::load_balancer(&own, &options.alb, prefer_tls, problems);
        let ports: Vec<u16> = settings.listen_ports.iter().map(|(_, p)| *p).collect();
        let restricted = restrictions::load_balancer(&own, &ports, problems, &mut errors);
        failed |= !errors.is_empty();
        problems.extend(errors);
        parts.push(Part {
            origin: &m.origin,
            own,
            settings,
            certificate_arn,
            restricted,
            rules: vec![],
            default_action: None,
            certificates: vec![],
        });
    }
    let merged = merge(&parts, options);
    let merged = match merged {
        Ok(merged) => Some(merged),
        Err((message, key)) => {
            for p in &parts {
                // The members that set the annotation at fault are told where.
                let field = key
                    .filter(|k| p.explicit(k).is_some())
                    .map(|k| annotations::field(&format!("{}{k}", annotations::PREFIX)));
                problems.push(Problem::error(
                    Some(p.origin.clone()),
                    field,
                    group::group_message(&group.id, &message),
                ));
            }
            failed = true;
            None
        }
    };
    let dualstack = merged
        .as_ref()
        .is_some_and(|m| !m.ip_address_type.is_ipv4());
    let mut target_groups = BTreeMap::new();
    for (m, part) in group.members.iter().zip(parts.iter_mut()) {
        let namespace = m.origin.namespace.clone().unwrap_or_default();
        let mut build = Build {
            ing: m.ingress,
            origin: &m.origin,
            namespace: &namespace,
            lb_id: &lb_id,
            group: &group_text,
            explicit: group.id.is_explicit(),
            snapshot,
            options,
            problems,
            failed: false,
            dualstack,
            target_groups: &mut target_groups,
            settings: BTreeMap::new(),
            used: BTreeSet::new(),
            restricted: BTreeSet::new(),
        };
        let spec = m.ingress.spec.clone().unwrap_or_default();
        part.default_action = spec
            .default_backend
            .as_ref()
            .map(|backend| build.backend(backend, "spec.defaultBackend").0);
        part.rules = build.rules(&spec);
        build.warn_unused_backend_annotations();
        failed |= build.failed;
        if part
            .settings
            .listen_ports
            .iter()
            .any(|(protocol, _)| *protocol == Protocol::Https)
        {
            part.certificates = tls::certificates(&spec, snapshot, &m.origin, problems);
        }
    }
    let merged = merged?;
    let mut listeners = Vec::new();
    for (&port, &protocol) in &merged.ports {
        match listener(&parts, &merged, &lb_id, port, protocol, problems) {
            Ok(listener) => listeners.push(listener),
            Err(message) => {
                for p in parts.iter().filter(|p| p.declares(port)) {
                    problems.push(Problem::error(
                        Some(p.origin.clone()),
                        None,
                        group::group_message(&group.id, &message),
                    ));
                }
                failed = true;
            }
        }
    }
    if failed {
        if let GroupId::Explicit(name) = &group.id {
            for p in &parts {
                problems.push(Problem::error(
                    Some(p.origin.clone()),
                    None,
                    format!("IngressGroup {name} is not built: it has errors, in this Ingress or another member (every member is named in problems)"),
                ));
            }
        }
        return None;
    }
    let lb_name = merged.name.clone().unwrap_or_else(|| match &group.id {
        GroupId::Explicit(name) => {
            names::generated_for_group(name, &[&options.cluster_name, name, merged.scheme.as_str()])
        }
        GroupId::Implicit(ns, name) => names::generated(
            ns,
            name,
            &[&options.cluster_name, &group_text, merged.scheme.as_str()],
        ),
    });
    Some(LoadBalancer {
        id: lb_id,
        name: lb_name,
        origin: parts[0].origin.clone(),
        members: match group.id {
            GroupId::Explicit(_) => parts.iter().map(|p| p.origin.clone()).collect(),
            GroupId::Implicit(..) => vec![],
        },
        scheme: merged.scheme,
        address: None,
        ip_address_type: merged.ip_address_type,
        address_v6: None,
        attributes: LoadBalancerAttributes {
            idle_timeout_seconds: merged.idle_timeout_seconds,
        },
        listeners,
        target_groups,
    })
}

/// The group's settings, merged over its members.
struct Merged {
    scheme: pylon_ir::Scheme,
    ip_address_type: pylon_ir::IpAddressType,
    name: Option<String>,
    idle_timeout_seconds: u32,
    ssl_redirect: Option<u16>,
    ports: BTreeMap<u16, Protocol>,
}

/// The group-wide settings, or the controller's reason why the members disagree (and the
/// annotation at fault).
fn merge(parts: &[Part<'_>], options: &Options) -> Result<Merged, (String, Option<&'static str>)> {
    let ports = merge_ports(parts).map_err(|m| (m, Some("listen-ports")))?;
    let (scheme, ip_address_type, name, ssl_redirect, idle_timeout_seconds) =
        merge_settings(parts, options).map_err(|(m, k)| (m, Some(k)))?;
    if let Some(port) = ssl_redirect {
        let at_fault = |m: String| (m, Some("ssl-redirect"));
        match ports.get(&port) {
            Some(Protocol::Https) => {}
            Some(_) => return Err(at_fault(format!("listener protocol non-SSL for SSLRedirect port: {port}"))),
            None => return Err(at_fault(format!(
                "listener does not exist for SSLRedirect port: {port} (add {{\"HTTPS\": {port}}} to listen-ports)"
            ))),
        }
    }
    Ok(Merged {
        scheme,
        ip_address_type,
        name,
        idle_timeout_seconds,
        ssl_redirect,
        ports,
    })
}

type Settings = (
    pylon_ir::Scheme,
    pylon_ir::IpAddressType,
    Option<String>,
    Option<u16>,
    u32,
);

/// Scheme, IP address type, name, `ssl-redirect` port and idle timeout, or why members disagree.
fn merge_settings(
    parts: &[Part<'_>],
    options: &Options,
) -> Result<Settings, (String, &'static str)> {
    // A setting only some members give: theirs must agree, and it holds for the group.
    let agreed =
        |key: &'static str, what: &str| -> Result<Option<&Part<'_>>, (String, &'static str)> {
            let values: BTreeSet<&str> = parts.iter().filter_map(|p| p.explicit(key)).collect();
            if values.len() > 1 {
                let list: Vec<&str> = values.into_iter().collect();
                return Err((format!("conflicting {what}: [{}]", list.join(" ")), key));
            }
            Ok(parts.iter().find(|p| p.explicit(key).is_some()))
        };
    let scheme =
        agreed("scheme", "scheme")?.map_or(options.alb.default_scheme, |p| p.settings.scheme);
    let ip_address_type = agreed("ip-address-type", "IPAddressType")?
        .map_or(Default::default(), |p| p.settings.ip_address_type);
    let name =
        agreed("load-balancer-name", "load balancer name")?.and_then(|p| p.settings.name.clone());
    let ssl_redirect =
        agreed("ssl-redirect", "sslRedirect port")?.and_then(|p| p.settings.ssl_redirect);
    // Load balancer attributes are merged by key; two members giving one key two values conflict.
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    let mut idle_timeout_seconds = LoadBalancerAttributes::default().idle_timeout_seconds;
    for p in parts {
        let Some(raw) = p.explicit("load-balancer-attributes") else {
            continue;
        };
        for (key, value) in annotations::parse_string_map(raw).unwrap_or_default() {
            if let Some(existing) = attributes.get(&key) {
                if *existing != value {
                    return Err((
                        format!("conflicting load balancer attributes {key}: {existing} | {value}"),
                        "load-balancer-attributes",
                    ));
                }
            }
            if key == "idle_timeout.timeout_seconds" {
                idle_timeout_seconds = p.settings.idle_timeout_seconds;
            }
            attributes.insert(key, value);
        }
    }
    Ok((
        scheme,
        ip_address_type,
        name,
        ssl_redirect,
        idle_timeout_seconds,
    ))
}

/// Every port of the members' `listen-ports` with its protocol, or why two members disagree.
fn merge_ports(parts: &[Part<'_>]) -> Result<BTreeMap<u16, Protocol>, String> {
    let mut ports: BTreeMap<u16, (Protocol, &ObjectRef)> = BTreeMap::new();
    for p in parts {
        for &(protocol, port) in &p.settings.listen_ports {
            match ports.get(&port) {
                Some((other, provider)) if *other != protocol => {
                    return Err(format!(
                        "failed to merge listenPort config for port: {port}: conflicting protocol, {}: {} | {}: {}",
                        group::key(provider),
                        other.as_str(),
                        group::key(p.origin),
                        protocol.as_str()
                    ))
                }
                Some(_) => {}
                None => {
                    ports.insert(port, (protocol, p.origin));
                }
            }
        }
    }
    Ok(ports.into_iter().map(|(port, (p, _))| (port, p)).collect())
}

/// The listener on `port`: the rules of the members that name it in the group's order, the
/// default backend of at most one of them, their certificates (the first member's first one is
/// the default, the rest de-duplicated), and every restriction any of them sets.
fn listener(
    parts: &[Part<'_>],
    merged: &Merged,
    lb_id: &str,
    port: u16,
    protocol: Protocol,
    problems: &mut Vec<Problem>,
) -> Result<Listener, String> {
    let on_port: Vec<&Part<'_>> = parts.iter().filter(|p| p.declares(port)).collect();
    let mut restricted = Restrictions::default();
    for p in &on_port {
        restricted.load_balancer = restricted
            .load_balancer
            .take()
            .or(p.restricted.load_balancer.clone());
        if let Some(setting) = p.restricted.listeners.get(&port) {
            restricted.listeners.entry(port).or_insert(setting.clone());
        }
    }
    let defaults: Vec<&&Part<'_>> = on_port
        .iter()
        .filter(|p| p.default_action.is_some())
        .collect();
    if defaults.len() > 1 {
        let keys: Vec<String> = defaults.iter().map(|p| group::key(p.origin)).collect();
        return Err(format!(
            "multiple ingress defined default backend: [{}]",
            keys.join(" ")
        ));
    }
    let default_action = defaults
        .first()
        .and_then(|p| p.default_action.clone())
        // The controller's default: a bare 404.
        .unwrap_or_else(|| Action::fixed(404, None));
    let (pending, default_action) = match merged.ssl_redirect {
        // `ssl-redirect`: every HTTP listener only redirects, and has no rules — unless a
        // restriction closes it, which keeps its rules to show them not served.
        Some(https_port)
            if protocol == Protocol::Http && restricted.for_listener(port).is_none() =>
        {
            (
                vec![],
                Action::Redirect {
                    protocol: "HTTPS".into(),
                    port: https_port.to_string(),
                    host: "#{host}".into(),
                    path: "/#{path}".into(),
                    query: "#{query}".into(),
                    status_code: 301,
                },
            )
        }
        _ => {
            let all: Vec<PendingRule> = on_port.iter().flat_map(|p| p.rules.clone()).collect();
            (rules::optimize(port, protocol, &all), default_action)
        }
    };
    let mut certificates: Vec<ServerCertificate> = Vec::new();
    if protocol == Protocol::Https {
        for c in on_port.iter().flat_map(|p| &p.certificates) {
            if !certificates
                .iter()
                .any(|k| k.secret == c.secret && k.hostname == c.hostname)
            {
                certificates.push(c.clone());
            }
        }
        for p in &on_port {
            tls::report(
                p.origin,
                p.certificate_arn.as_deref(),
                !certificates.is_empty(),
                problems,
            );
        }
    }
    let mut listener = Listener {
        id: format!("{lb_id}/listener/{port}"),
        protocol,
        port,
        rules: pending
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Rule {
                priority: i as u32 + 1,
                origin: RuleOrigin {
                    object: rule.origin,
                    field: rule.field,
                },
                conditions: rule.conditions,
                filters: vec![],
                timeouts: None,
                action: rule.action,
                access_log: None,
                auth: None,
            })
            .collect(),
        default_action,
        certificates,
    };
    // A restriction Pylon cannot enforce keeps the listener from being served.
    restricted.close(&mut listener);
    Ok(listener)
}
