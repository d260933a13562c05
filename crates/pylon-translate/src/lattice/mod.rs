//! The AWS Gateway API Controller's GatewayClass (`amazon-vpc-lattice`): a Gateway is a VPC
//! Lattice service network named after it (Gateways of one name in any namespace are one
//! network), and every HTTPRoute and GRPCRoute attached to it is a Lattice service with its own
//! DNS name, listeners copied from the Gateway's, rules built as the controller builds them and
//! IP target groups of the Services' endpoints (or of ServiceExports, through ServiceImports),
//! with Lattice's health-check defaults or a TargetGroupPolicy's.

mod access_logs;
mod auth;
mod credentials;
mod gateways;
mod names;
mod policies;
mod rules;
mod service;
mod target_groups;
mod vpc_associations;

use crate::gateway::routes::RouteView;
use crate::gateway::status::{reason, Condition, RouteParentStatus, RouteStatus};
use crate::status::{ObjectStatus, Status};
use crate::Options;
use gateways::GatewayBuild;
use names::Arns;
use pylon_ir::lattice::{LatticeTargetGroup, Service, ServiceNetwork};
use pylon_ir::Protocol;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The AWS Gateway API Controller's controller name.
pub const LATTICE_CONTROLLER: &str = "application-networking.k8s.aws/gateway-api-controller";
const ANNOTATION: &str = "application-networking.k8s.aws/";

/// What the Lattice part of a translation produced.
#[derive(Default)]
pub struct Output {
    pub service_networks: Vec<ServiceNetwork>,
    pub standalone_services: Vec<Service>,
    pub exported_target_groups: Vec<LatticeTargetGroup>,
    pub credentials: Vec<pylon_ir::lattice::AwsCredential>,
    pub statuses: Vec<ObjectStatus>,
    /// Annotations on the Lattice policies (access-log subscription ARNs).
    pub annotations: Vec<crate::ObjectAnnotations>,
}

/// Where Lattice resources live, as `--region`, the account and the cluster's VPC say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatticeOptions {
    pub region: String,
    pub account: String,
    /// The cluster's VPC; derived from the cluster name when not given.
    pub vpc_id: Option<String>,
    /// Where the Secrets of callers' access keys are.
    pub credentials_namespace: String,
}

impl Default for LatticeOptions {
    fn default() -> Self {
        LatticeOptions {
            region: "us-west-2".into(),
            account: "123456789012".into(),
            vpc_id: None,
            credentials_namespace: "pylon-system".into(),
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
    let classes = gateways::classes(snapshot, &mut out.statuses);
    let arns = Arns {
        region: &options.lattice.region,
        account: &options.lattice.account,
    };
    let vpc = options
        .lattice
        .vpc_id
        .clone()
        .unwrap_or_else(|| format!("vpc-{}", names::hex17(&["vpc", &options.cluster_name])));
    let policies = target_groups::Policies::read(snapshot, problems, &mut out.statuses);
    let exports = target_groups::exports(snapshot, options, &policies, &arns, problems);
    let auth = auth::read(snapshot, problems, &mut out.statuses);
    let associations = vpc_associations::read(snapshot, problems, &mut out.statuses);
    let inputs = service::Inputs {
        snapshot,
        options,
        arns: &arns,
        vpc: &vpc,
        policies: &policies,
        exports: &exports,
    };
    let mut gateways = gateways::gateways(snapshot, &classes);
    for gateway in &gateways {
        gateways::listener_problems(gateway, problems);
    }
    let gateway_refs: Vec<ObjectRef> = gateways.iter().map(|g| g.object.clone()).collect();
    let logs = access_logs::read(snapshot, &gateway_refs, &arns, problems);
    out.statuses.extend(logs.statuses);
    out.annotations = logs.annotations;
    let mut services: BTreeMap<String, Vec<Service>> = BTreeMap::new();
    for route in routes {
        let mut parents = Vec::new();
        for (raw, parent) in &route.parent_refs {
            let group = parent
                .group
                .as_deref()
                .unwrap_or("gateway.networking.k8s.io");
            let kind = parent.kind.as_deref().unwrap_or("Gateway");
            if group != "gateway.networking.k8s.io" || kind != "Gateway" {
                continue;
            }
            let namespace = parent
                .namespace
                .as_deref()
                .or(route.object.namespace.as_deref())
                .unwrap_or("default");
            let Some(gateway) = gateways.iter_mut().find(|g| {
                g.object.name == parent.name && g.object.namespace.as_deref() == Some(namespace)
            }) else {
                continue;
            };
            let generation = route.generation;
            let (conditions, built) = attach(
                route,
                gateway,
                parent.section_name.as_deref(),
                &inputs,
                &auth,
            );
            let conditions = conditions
                .into_iter()
                .map(|(type_, ok, why, message)| {
                    if !ok {
                        problems.push(Problem::error(
                            Some(route.object.clone()),
                            None,
                            message.clone(),
                        ));
                    }
                    Condition::new(type_, ok, why, message, generation)
                })
                .collect();
            if let Some(mut service) = built {
                service.access_logs = logs
                    .by_target
                    .get(&route.object)
                    .cloned()
                    .unwrap_or_default();
                let standalone = gateway.standalone
                    || gateways::is_true(
                        service::annotations(route, snapshot)
                            .and_then(|a| a.get(&format!("{ANNOTATION}standalone"))),
                    );
                let list = match standalone {
                    true => &mut out.standalone_services,
                    false => services.entry(gateway.network.to_string()).or_default(),
                };
                merge(list, service);
            }
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
    // Service networks: every Gateway name, and every ServiceNetwork object.
    let mut networks: BTreeMap<&str, Vec<&GatewayBuild<'_>>> = BTreeMap::new();
    for sn in snapshot.service_networks() {
        networks
            .entry(sn.metadata.name.as_deref().unwrap_or_default())
            .or_default();
    }
    for gateway in &gateways {
        networks.entry(gateway.network).or_default().push(gateway);
    }
    for (name, members) in networks {
        let id = format!("sn-{}", names::hex17(&["servicenetwork", name]));
        for gateway in &members {
            out.statuses.push(gateways::status(gateway, &id));
        }
        let mut list = services.remove(name).unwrap_or_default();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        let mut refs: Vec<ObjectRef> = members.iter().map(|g| g.object.clone()).collect();
        refs.sort();
        let mut network_logs: Vec<String> = refs
            .iter()
            .filter_map(|g| logs.by_target.get(g))
            .flatten()
            .cloned()
            .collect();
        network_logs.sort();
        network_logs.dedup();
        // The network's policy: that of the first of its Gateways to have one.
        let network_policy = refs.iter().find_map(|g| match auth.get(g) {
            Some(auth::Attached::Policy(p)) => Some(p.clone()),
            _ => None,
        });
        let associated = vpc_associations::associated(&refs, &associations);
        out.service_networks.push(ServiceNetwork {
            associated,
            arn: arns.arn(&format!("servicenetwork/{id}")),
            id,
            name: name.to_string(),
            gateways: refs,
            address: None,
            source_vpc_arn: format!("arn:aws:ec2:{}:{}:vpc/{vpc}", arns.region, arns.account),
            source_vpc: vpc.clone(),
            services: list,
            access_logs: network_logs,
            auth_policy: network_policy,
        });
    }
    out.standalone_services.sort_by(|a, b| a.name.cmp(&b.name));
    out.exported_target_groups = exports
        .into_iter()
        .flat_map(|e| e.groups.into_iter().map(|(_, tg)| tg))
        .collect();
    out.exported_target_groups
        .sort_by(|a, b| a.group.id.cmp(&b.group.id));
    out.credentials = credentials::read(snapshot, &options.lattice.credentials_namespace, problems);
    out
}

/// A route's service joins the list, or adds its listeners to the service it already has there
/// (a route attached to two listeners of a network is one service).
fn merge(list: &mut Vec<Service>, service: Service) {
    match list.iter_mut().find(|s| s.id == service.id) {
        None => list.push(service),
        Some(existing) => {
            for l in service.listeners {
                if !existing.listeners.iter().any(|e| e.port == l.port) {
                    existing.listeners.push(l);
                }
            }
            existing.listeners.sort_by_key(|l| l.port);
            existing.target_groups.extend(service.target_groups);
        }
    }
}

/// A route condition: type, status, reason, message.
type RouteCondition = (&'static str, bool, &'static str, String);

/// Attaches a route to one Gateway: its conditions, and its service when one is served.
fn attach(
    route: &RouteView,
    gateway: &mut GatewayBuild<'_>,
    section: Option<&str>,
    inputs: &service::Inputs<'_>,
    auth: &BTreeMap<ObjectRef, auth::Attached>,
) -> (Vec<RouteCondition>, Option<Service>) {
    let refuse =
        |why: &'static str, message: String| (vec![(reason::ACCEPTED, false, why, message)], None);
    let picked: Vec<usize> = (0..gateway.listeners.len())
        .filter(|&i| section.is_none_or(|s| s == gateway.listeners[i].name))
        .collect();
    if picked.is_empty() {
        return refuse(
            reason::NO_MATCHING_PARENT,
            format!(
                "{} has no listener {}",
                gateway.object,
                section.unwrap_or_default()
            ),
        );
    }
    let grpc = route.kind == Kind::GRPCRoute;
    let usable: Vec<usize> = picked
        .into_iter()
        .filter(|&i| gateway.listeners[i].programmed())
        .filter(|&i| !grpc || gateway.listeners[i].protocol == Protocol::Https)
        .collect();
    if usable.is_empty() {
        let message = match grpc {
            true => "a GRPCRoute needs an HTTPS listener on VPC Lattice, and the parent has no programmed one".to_string(),
            false => format!("no listener of {} that the route names is programmed", gateway.object),
        };
        return refuse(reason::NOT_ALLOWED_BY_LISTENERS, message);
    }
    let listeners: Vec<_> = usable.iter().map(|&i| &gateway.listeners[i]).collect();
    let (service, refused) = match service::build(route, &listeners, inputs) {
        Ok(built) => built,
        Err(why) => return refuse(reason::UNSUPPORTED_VALUE, why),
    };
    for &i in &usable {
        gateway.listeners[i].attached += 1;
    }
    // Fail closed: a policy that cannot be evaluated keeps what it protects from being served.
    for target in [&route.object, &gateway.object] {
        if let Some(auth::Attached::Invalid(why)) = auth.get(target) {
            return refuse(
                reason::UNSUPPORTED_VALUE,
                format!("{why}: the service is not served"),
            );
        }
    }
    let mut service = service;
    if let Some(auth::Attached::Policy(policy)) = auth.get(&route.object) {
        service.auth_policy = Some(policy.clone());
    }
    let accepted = (
        reason::ACCEPTED,
        true,
        reason::ACCEPTED,
        format!("Lattice service {} ({})", service.name, service.dns_name),
    );
    let resolved = match refused.is_empty() {
        true => (
            reason::RESOLVED_REFS,
            true,
            reason::RESOLVED_REFS,
            "resolved".to_string(),
        ),
        false => (
            reason::RESOLVED_REFS,
            false,
            reason::UNSUPPORTED_VALUE,
            refused.join("; "),
        ),
    };
    (vec![accepted, resolved], Some(service))
}

/// What the controller writes on each route it made a service of: the service's DNS name and ARN.
pub fn written_annotations(ir: &pylon_ir::Ir) -> Vec<crate::ObjectAnnotations> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<crate::ObjectAnnotations> = ir
        .service_networks
        .iter()
        .flat_map(|sn| &sn.services)
        .chain(&ir.standalone_services)
        .filter(|s| seen.insert(s.origin.clone()))
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
    out
}
