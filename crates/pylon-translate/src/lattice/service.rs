//! One route on one Gateway as a Lattice service: its name, id, ARN and DNS name, the Gateway
//! listeners it attaches to, its rules as the controller builds them and its target groups.

use super::names::{self, Arns};
use super::rules;
use super::target_groups::{self, Export, Policies, GROUP};
use super::ANNOTATION;
use crate::gateway::listeners::ListenerBuild;
use crate::gateway::routes::RouteView;
use crate::Options;
use pylon_ir::lattice::{LatticeTargetGroup, Service};
use pylon_ir::{Action, Listener, Protocol, Rule, RuleOrigin, WeightedTargetGroup};
use pylon_model::{Kind, Object, ObjectRef, Snapshot};
use std::collections::BTreeMap;

/// The controller's default action when no rule matches, and when no backend can be used.
const NOT_FOUND: u16 = 404;
const NO_BACKEND: u16 = 500;

/// What a service is built from.
pub struct Inputs<'a> {
    pub snapshot: &'a Snapshot,
    pub options: &'a Options,
    pub arns: &'a Arns<'a>,
    pub policies: &'a Policies<'a>,
    pub exports: &'a [Export],
}

/// The route's annotations.
pub fn annotations<'s>(
    route: &RouteView,
    snapshot: &'s Snapshot,
) -> Option<&'s BTreeMap<String, String>> {
    match snapshot.get(&route.object)? {
        Object::HTTPRoute(r) => r.metadata.annotations.as_ref(),
        Object::GRPCRoute(r) => r.metadata.annotations.as_ref(),
        _ => None,
    }
}

/// The service's id: derived from the owning cluster and the route, so every Pylon reading the
/// same route gives it the same id, ARN and DNS name.
pub fn id(options: &Options, route: &ObjectRef) -> String {
    let namespace = route.namespace.as_deref().unwrap_or("default");
    format!(
        "svc-{}",
        names::hex17(&[&options.cluster_name, namespace, &route.name])
    )
}

/// The Lattice service of `route` on the listeners `listeners` (the usable ones its parentRef
/// picks), and what it refuses (with the reason); an error when nothing of it can be served.
pub fn build(
    route: &RouteView,
    listeners: &[&ListenerBuild],
    inputs: &Inputs<'_>,
) -> Result<(Service, Vec<String>), String> {
    let snapshot = inputs.snapshot;
    let annotations = annotations(route, snapshot);
    let annotation = |key: &str| annotations.and_then(|a| a.get(&format!("{ANNOTATION}{key}")));
    let namespace = route.object.namespace.as_deref().unwrap_or("default");
    let name = match annotation("service-name-override") {
        Some(name) => {
            names::valid_service_name(name)
                .map_err(|e| format!("{ANNOTATION}service-name-override: {e}"))?;
            name.clone()
        }
        None => names::service_name(&route.object.name, namespace),
    };
    let id = id(inputs.options, &route.object);
    let grpc = route.kind == Kind::GRPCRoute;
    let priorities = rules::priorities(route.rules.len(), |i| {
        annotation(&format!("rule-{i}-priority")).cloned()
    })?;
    let idle_timeout_seconds = match annotation("idle-timeout-seconds") {
        None => 60,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(s) if (60..=600).contains(&s) => s,
            _ => {
                return Err(format!(
                    "{ANNOTATION}idle-timeout-seconds: {v:?} must be 60 to 600 seconds"
                ))
            }
        },
    };
    if route.hostnames.len() > 1 {
        return Err(format!(
            "spec.hostnames: a Lattice service has one custom domain name, this route has {}",
            route.hostnames.len()
        ));
    }
    let mut refused = Vec::new();
    let mut target_groups = BTreeMap::new();
    let mut lattice_rules = Vec::new();
    for (i, rule) in route.rules.iter().enumerate() {
        let conditions = match rules::conditions(route, rule) {
            Ok(c) => c,
            Err(why) => {
                refused.push(format!("spec.rules[{i}]: {why}"));
                continue;
            }
        };
        let mut forward = Vec::new();
        for (bi, backend) in rule.backends.iter().enumerate() {
            let field = format!("spec.rules[{i}].backendRefs[{bi}]");
            if backend.weight > 999 {
                refused.push(format!(
                    "{field}: weight {} is over VPC Lattice's highest, 999",
                    backend.weight
                ));
                continue;
            }
            match target_group(&id, namespace, backend, grpc, inputs) {
                Ok(tg) => {
                    forward.push(WeightedTargetGroup {
                        id: tg.group.id.clone(),
                        weight: backend.weight,
                        filters: Vec::new(),
                    });
                    target_groups.insert(tg.group.id.clone(), tg);
                }
                Err(why) => refused.push(format!("{field}: {why}")),
            }
        }
        let action = if forward.is_empty() {
            Action::FixedResponse {
                status_code: NO_BACKEND,
                content_type: "text/plain".into(),
                message_body: Some("Internal Server Error\n".into()),
            }
        } else {
            Action::Forward {
                target_groups: forward,
                unusable_weight: 0,
            }
        };
        lattice_rules.push(Rule {
            priority: priorities[i],
            origin: RuleOrigin {
                object: route.object.clone(),
                field: format!("spec.rules[{i}]"),
            },
            conditions,
            filters: Vec::new(),
            timeouts: None,
            action,
            access_log: None,
            auth: None,
        });
    }
    if lattice_rules.is_empty() && !route.rules.is_empty() {
        return Err(format!("no rule can be served: {}", refused.join("; ")));
    }
    lattice_rules.sort_by_key(|r| r.priority);
    let mut by_port: BTreeMap<u16, Listener> = BTreeMap::new();
    for l in listeners {
        let listener = by_port.entry(l.port).or_insert_with(|| Listener {
            id: format!("{id}/listener/{}", l.port),
            protocol: l.protocol,
            port: l.port,
            rules: lattice_rules.clone(),
            default_action: Action::FixedResponse {
                status_code: NOT_FOUND,
                content_type: "text/plain".into(),
                message_body: Some("Not Found\n".into()),
            },
            certificates: Vec::new(),
        });
        if l.protocol == Protocol::Https {
            listener.certificates.extend(l.certificates.iter().cloned());
        }
    }
    Ok((
        Service {
            arn: inputs.arns.arn(&format!("service/{id}")),
            dns_name: inputs.arns.dns_name(&name, &id),
            custom_domain: route.hostnames.first().cloned(),
            id,
            name,
            origin: route.object.clone(),
            cluster: None,
            idle_timeout_seconds,
            listeners: by_port.into_values().collect(),
            target_groups,
            access_logs: Vec::new(),
            auth_policy: None,
        },
        refused,
    ))
}

/// The target group of one backendRef: a Service port, or the exported target group a
/// ServiceImport resolves to.
fn target_group(
    service_id: &str,
    namespace: &str,
    backend: &crate::gateway::routes::BackendView,
    grpc: bool,
    inputs: &Inputs<'_>,
) -> Result<LatticeTargetGroup, String> {
    let group = backend.group.as_deref().unwrap_or_default();
    let kind = backend.kind.as_deref().unwrap_or("Service");
    let ns = backend.namespace.as_deref().unwrap_or(namespace);
    match (group, kind) {
        ("" | "core", "Service") => {
            if ns != namespace {
                return Err(format!(
                    "Service {ns}/{}: VPC Lattice routes reach Services in their own namespace only",
                    backend.name
                ));
            }
            let port = backend
                .port
                .ok_or_else(|| "a Service backend needs a port".to_string())?;
            let service = ObjectRef::namespaced(Kind::Service, ns, &backend.name);
            let settings = inputs.policies.settings(&service, grpc)?;
            target_groups::service_target_group(
                service_id,
                (ns, &backend.name),
                port,
                &settings,
                inputs.snapshot,
                inputs.options,
                inputs.arns,
            )
        }
        (GROUP, "ServiceImport") => {
            let import = inputs
                .snapshot
                .service_imports()
                .find(|i| {
                    i.metadata.namespace.as_deref() == Some(ns)
                        && i.metadata.name.as_deref() == Some(backend.name.as_str())
                })
                .ok_or_else(|| format!("ServiceImport {ns}/{} does not exist", backend.name))?;
            let route_type = if grpc { "GRPC" } else { "HTTP" };
            target_groups::import(import, inputs.exports, route_type).cloned()
        }
        (group, kind) => Err(format!(
            "{kind} of group {group:?} is not a backend VPC Lattice takes (Service or ServiceImport)"
        )),
    }
}
