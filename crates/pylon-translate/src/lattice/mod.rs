//! The AWS Gateway API Controller's GatewayClass (`amazon-vpc-lattice`): a Gateway is a VPC
//! Lattice service network named after it (Gateways of one name in any namespace are one
//! network), and every HTTPRoute attached to it is a Lattice service with its own DNS name,
//! listeners copied from the Gateway's, rules built as the controller builds them and IP target
//! groups of the Services' endpoints, with Lattice's health-check defaults.

mod names;
mod rules;

use crate::gateway::routes::RouteView;
use crate::gateway::status::{
    reason, Condition, GatewayClassStatus, GatewayStatus, RouteParentStatus, RouteStatus,
};
use crate::status::{ObjectStatus, Status};
use crate::target_group::{self, HealthCheckPortSetting, PortRef, TargetGroupSettings};
use crate::Options;
use gateway_api::apis::standard::gateways::Gateway;
use names::Arns;
use pylon_ir::lattice::{LatticeTargetGroup, Service, ServiceNetwork};
use pylon_ir::{
    Action, HealthCheck, HealthCheckPort, Listener, Protocol, ProtocolVersion, Rule, RuleOrigin,
    TargetType, WeightedTargetGroup,
};
use pylon_model::{Kind, Object, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The AWS Gateway API Controller's controller name.
pub const LATTICE_CONTROLLER: &str = "application-networking.k8s.aws/gateway-api-controller";
const ANNOTATION: &str = "application-networking.k8s.aws/";
/// The controller's default action when no rule matches, and when no backend can be used.
const NOT_FOUND: u16 = 404;
const NO_BACKEND: u16 = 500;

/// What the Lattice part of a translation produced.
#[derive(Default)]
pub struct Output {
    pub service_networks: Vec<ServiceNetwork>,
    pub statuses: Vec<ObjectStatus>,
}

/// Where Lattice resources live, as `--region`, the account and the cluster's VPC say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatticeOptions {
    pub region: String,
    pub account: String,
    /// The cluster's VPC; derived from the cluster name when not given.
    pub vpc_id: Option<String>,
}

impl Default for LatticeOptions {
    fn default() -> Self {
        LatticeOptions {
            region: "us-west-2".into(),
            account: "123456789012".into(),
            vpc_id: None,
        }
    }
}

pub fn translate(
    snapshot: &Snapshot,
    options: &Options,
    routes: &[Arc<RouteView>],
    problems: &mut Vec<Problem>,
) -> Output {
    let mut out = Output::default();
    let classes = classes(snapshot, &mut out.statuses);
    let arns = Arns {
        region: &options.lattice.region,
        account: &options.lattice.account,
    };
    let vpc = options
        .lattice
        .vpc_id
        .clone()
        .unwrap_or_else(|| format!("vpc-{}", names::hex17(&["vpc", &options.cluster_name])));
    // Service networks by name, each with its Gateways.
    let mut networks: BTreeMap<&str, Vec<&Gateway>> = BTreeMap::new();
    for gw in snapshot.gateways() {
        if classes.contains(&gw.spec.gateway_class_name.as_str()) {
            let name = gw.metadata.name.as_deref().unwrap_or_default();
            networks.entry(name).or_default().push(gw);
        }
    }
    let mut services: BTreeMap<&str, Vec<Service>> = BTreeMap::new();
    for route in routes {
        let mut parents = Vec::new();
        for (raw, parent) in &route.parent_refs {
            let group = parent
                .group
                .as_deref()
                .unwrap_or("gateway.networking.k8s.io");
            let kind = parent.kind.as_deref().unwrap_or("Gateway");
            let namespace = parent
                .namespace
                .clone()
                .or_else(|| route.object.namespace.clone())
                .unwrap_or_default();
            let Some(gateway) = networks.get(parent.name.as_str()).and_then(|gws| {
                gws.iter()
                    .find(|g| g.metadata.namespace.as_deref() == Some(namespace.as_str()))
            }) else {
                continue;
            };
            if group != "gateway.networking.k8s.io" || kind != "Gateway" {
                continue;
            }
            let generation = route.generation;
            let built = service(
                route,
                gateway,
                parent.section_name.as_deref(),
                snapshot,
                options,
                &arns,
            );
            let conditions = match built {
                Ok((service, refused)) => {
                    for why in &refused {
                        problems.push(Problem::error(
                            Some(route.object.clone()),
                            None,
                            why.clone(),
                        ));
                    }
                    let accepted = Condition::new(
                        reason::ACCEPTED,
                        true,
                        reason::ACCEPTED,
                        format!("Lattice service {} ({})", service.name, service.dns_name),
                        generation,
                    );
                    let resolved = match refused.is_empty() {
                        true => Condition::new(
                            reason::RESOLVED_REFS,
                            true,
                            reason::RESOLVED_REFS,
                            "resolved",
                            generation,
                        ),
                        false => Condition::new(
                            reason::RESOLVED_REFS,
                            false,
                            reason::UNSUPPORTED_VALUE,
                            refused.join("; "),
                            generation,
                        ),
                    };
                    services
                        .entry(parent.name.as_str())
                        .or_default()
                        .push(service);
                    vec![accepted, resolved]
                }
                Err(why) => {
                    problems.push(Problem::error(
                        Some(route.object.clone()),
                        None,
                        why.clone(),
                    ));
                    vec![Condition::new(
                        reason::ACCEPTED,
                        false,
                        reason::UNSUPPORTED_VALUE,
                        why,
                        generation,
                    )]
                }
            };
            parents.push(RouteParentStatus {
                parent_ref: raw.clone(),
                controller_name: LATTICE_CONTROLLER,
                conditions,
            });
        }
        if !parents.is_empty() {
            out.statuses.push(ObjectStatus {
                object: route.object.clone(),
                status: Status::Route(RouteStatus { parents }),
            });
        }
    }
    for (name, gateways) in networks {
        let id = format!("sn-{}", names::hex17(&["servicenetwork", name]));
        let mut members: Vec<Service> = services.remove(name).unwrap_or_default();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let mut refs: Vec<ObjectRef> = gateways.iter().map(|g| gateway_ref(g)).collect();
        refs.sort();
        for gw in &gateways {
            let generation = gw.metadata.generation.unwrap_or(0);
            out.statuses.push(ObjectStatus {
                object: gateway_ref(gw),
                status: Status::Gateway(GatewayStatus {
                    addresses: Vec::new(),
                    conditions: vec![
                        Condition::new(
                            reason::ACCEPTED,
                            true,
                            reason::ACCEPTED,
                            format!("service network {name} ({id})"),
                            generation,
                        ),
                        Condition::new(
                            reason::PROGRAMMED,
                            true,
                            reason::PROGRAMMED,
                            format!("service network {name} ({id})"),
                            generation,
                        ),
                    ],
                    listeners: Vec::new(),
                }),
            });
        }
        out.service_networks.push(ServiceNetwork {
            arn: arns.arn(&format!("servicenetwork/{id}")),
            id,
            name: name.to_string(),
            gateways: refs,
            address: None,
            source_vpc_arn: format!("arn:aws:ec2:{}:{}:vpc/{vpc}", arns.region, arns.account),
            source_vpc: vpc.clone(),
            services: members,
        });
    }
    out
}

/// What the controller writes on each route it made a service of: the service's DNS name and ARN.
pub fn written_annotations(ir: &pylon_ir::Ir) -> Vec<crate::ObjectAnnotations> {
    let mut out: Vec<crate::ObjectAnnotations> = ir
        .service_networks
        .iter()
        .flat_map(|sn| &sn.services)
        .map(|service| crate::ObjectAnnotations {
            object: service.origin.clone(),
            annotations: BTreeMap::from([
                (
                    format!("{ANNOTATION}lattice-assigned-domain-name"),
                    service.dns_name.clone(),
                ),
                (
                    format!("{ANNOTATION}lattice-service-arn"),
                    service.arn.clone(),
                ),
            ]),
        })
        .collect();
    out.sort_by(|a, b| a.object.cmp(&b.object));
    out.dedup_by(|a, b| a.object == b.object);
    out
}

fn gateway_ref(gw: &Gateway) -> ObjectRef {
    ObjectRef::namespaced(
        Kind::Gateway,
        gw.metadata.namespace.as_deref().unwrap_or("default"),
        gw.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// The GatewayClasses of the Lattice controller, each accepted.
fn classes<'a>(snapshot: &'a Snapshot, statuses: &mut Vec<ObjectStatus>) -> Vec<&'a str> {
    let mut names = Vec::new();
    for class in snapshot.gateway_classes() {
        if class.spec.controller_name != LATTICE_CONTROLLER {
            continue;
        }
        let name = class.metadata.name.as_deref().unwrap_or_default();
        statuses.push(ObjectStatus {
            object: ObjectRef::new(Kind::GatewayClass, None, name),
            status: Status::GatewayClass(GatewayClassStatus {
                conditions: vec![Condition::new(
                    reason::ACCEPTED,
                    true,
                    reason::ACCEPTED,
                    format!("handled by Pylon ({LATTICE_CONTROLLER})"),
                    class.metadata.generation.unwrap_or(0),
                )],
                supported_features: Vec::new(),
            }),
        });
        names.push(name);
    }
    names
}

/// The route's annotations.
fn annotations<'s>(
    route: &RouteView,
    snapshot: &'s Snapshot,
) -> Option<&'s BTreeMap<String, String>> {
    match snapshot.get(&route.object)? {
        Object::HTTPRoute(r) => r.metadata.annotations.as_ref(),
        Object::GRPCRoute(r) => r.metadata.annotations.as_ref(),
        _ => None,
    }
}

/// The Lattice service of a route on one Gateway, and the rules it refuses (with the reason).
fn service(
    route: &RouteView,
    gateway: &Gateway,
    section: Option<&str>,
    snapshot: &Snapshot,
    options: &Options,
    arns: &Arns<'_>,
) -> Result<(Service, Vec<String>), String> {
    if route.kind == Kind::GRPCRoute {
        return Err("GRPCRoute on the VPC Lattice class is not served yet".into());
    }
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
    let id = format!(
        "svc-{}",
        names::hex17(&[&options.cluster_name, namespace, &route.object.name])
    );
    let gateway_listeners: Vec<_> = gateway
        .spec
        .listeners
        .iter()
        .filter(|l| section.is_none_or(|s| s == l.name))
        .collect();
    if gateway_listeners.is_empty() {
        return Err(format!(
            "the Gateway has no listener {}",
            section.unwrap_or_default()
        ));
    }
    let priorities = rules::priorities(route.rules.len(), |i| {
        annotation(&format!("rule-{i}-priority")).cloned()
    })?;
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
            let kind = backend.kind.as_deref().unwrap_or("Service");
            if backend.group.as_deref().unwrap_or_default() != "" || kind != "Service" {
                refused.push(format!(
                    "{field}: {kind} backends are not served by the VPC Lattice class yet"
                ));
                continue;
            }
            if backend.weight > 999 {
                refused.push(format!(
                    "{field}: weight {} is over VPC Lattice's highest, 999",
                    backend.weight
                ));
                continue;
            }
            let Some(port) = backend.port else {
                refused.push(format!("{field}: a Service backend needs a port"));
                continue;
            };
            let ns = backend.namespace.as_deref().unwrap_or(namespace);
            let port_ref = PortRef::Number(port);
            let tg_backend = target_group::Backend {
                lb_id: &id,
                cluster_name: &options.cluster_name,
                namespace: ns,
                service: &backend.name,
                port: &port_ref,
                qualify_namespace: true,
            };
            match target_group::build(&tg_backend, &lattice_settings(), snapshot) {
                Ok(group) => {
                    let hex = names::hex17(&[&id, &group.id]);
                    forward.push(WeightedTargetGroup {
                        id: group.id.clone(),
                        weight: backend.weight,
                        filters: Vec::new(),
                    });
                    target_groups.insert(
                        group.id.clone(),
                        LatticeTargetGroup {
                            arn: arns.arn(&format!("targetgroup/tg-{hex}")),
                            group,
                        },
                    );
                }
                Err(e) => refused.push(format!("{field}: {e}")),
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
        });
    }
    if lattice_rules.is_empty() && !route.rules.is_empty() {
        return Err(format!("no rule can be served: {}", refused.join("; ")));
    }
    lattice_rules.sort_by_key(|r| r.priority);
    let mut listeners: BTreeMap<u16, Listener> = BTreeMap::new();
    for l in gateway_listeners {
        if l.protocol != "HTTP" {
            refused.push(format!(
                "listener {}: {} listeners of the VPC Lattice class are not served yet",
                l.name, l.protocol
            ));
            continue;
        }
        let port = l.port as u16;
        listeners.entry(port).or_insert_with(|| Listener {
            id: format!("{id}/listener/{port}"),
            protocol: Protocol::Http,
            port,
            rules: lattice_rules.clone(),
            default_action: Action::FixedResponse {
                status_code: NOT_FOUND,
                content_type: "text/plain".into(),
                message_body: Some("Not Found\n".into()),
            },
            certificates: Vec::new(),
        });
    }
    if listeners.is_empty() {
        return Err(format!("no listener can be served: {}", refused.join("; ")));
    }
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
    Ok((
        Service {
            arn: arns.arn(&format!("service/{id}")),
            dns_name: arns.dns_name(&name, &id),
            custom_domain: route.hostnames.first().cloned(),
            id,
            name,
            origin: route.object.clone(),
            idle_timeout_seconds,
            listeners: listeners.into_values().collect(),
            target_groups,
        },
        refused,
    ))
}

/// Lattice's target group defaults: IP targets, HTTP/1.1, health checks every 30 s (timeout 5 s,
/// healthy after 5, unhealthy after 2, code 200, path `/`), five minutes of draining.
fn lattice_settings() -> TargetGroupSettings {
    TargetGroupSettings {
        target_type: TargetType::Ip,
        health_check_port: HealthCheckPortSetting::TrafficPort,
        health_check: HealthCheck {
            protocol: Protocol::Http,
            port: HealthCheckPort::TrafficPort,
            path: "/".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            success_codes: "200".into(),
            enabled: true,
        },
        protocol_version: ProtocolVersion::Http1,
        deregistration_delay_seconds: 300,
    }
}
