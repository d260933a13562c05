//! The AWS Gateway API Controller's GatewayClass (`amazon-vpc-lattice`): a Gateway is a VPC
//! Lattice service network named after it (Gateways of one name in any namespace are one
//! network), and every HTTPRoute and GRPCRoute attached to it is a Lattice service with its own
//! DNS name, listeners copied from the Gateway's, rules built as the controller builds them and
//! IP target groups of the Services' endpoints (or of ServiceExports, through ServiceImports),
//! with Lattice's health-check defaults or a TargetGroupPolicy's.

mod access_logs;
mod auth;
mod cluster;
mod credentials;
mod gateways;
mod names;
mod policies;
mod rules;
mod service;
mod target_groups;
mod vpc_associations;

pub use cluster::Cluster;

use crate::gateway::routes::RouteView;
use crate::gateway::status::reason;
use crate::status::ObjectStatus;
use crate::Options;
use cluster::{Part, Sink};
use gateways::GatewayBuild;
use names::Arns;
use pylon_ir::lattice::{LatticeTargetGroup, RemoteObject, Service, ServiceNetwork};
use pylon_ir::Protocol;
use pylon_model::{Kind, ObjectRef, Problem};
use std::collections::{BTreeMap, BTreeSet};

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

/// The service networks of every cluster read: `clusters[0]` is this one, whose statuses are
/// kept; the others are remote clusters, read for their Gateways, routes and exports only.
pub fn translate(
    clusters: &[Cluster<'_>],
    options: &Options,
    problems: &mut Vec<Problem>,
) -> Output {
    let mut out = Output::default();
    let arns = Arns {
        region: &options.lattice.region,
        account: &options.lattice.account,
    };
    let mut sinks: Vec<Sink> = clusters.iter().map(|_| Sink::default()).collect();
    let mut classes = Vec::new();
    let mut policies = Vec::new();
    let mut exports = Vec::new();
    // Every cluster's exports first: a ServiceImport in any cluster may name them.
    for (cluster, sink) in clusters.iter().zip(&mut sinks) {
        classes.push(gateways::classes(cluster.snapshot, &mut sink.statuses));
        let read =
            target_groups::Policies::read(cluster.snapshot, &mut sink.problems, &mut sink.statuses);
        exports.extend(target_groups::exports(
            cluster,
            &read,
            &arns,
            &mut sink.problems,
        ));
        policies.push(read);
    }
    let mut parts: Vec<Part> = clusters
        .iter()
        .zip(&mut sinks)
        .enumerate()
        .map(|(i, (c, sink))| c.read(&classes[i], &arns, &policies[i], &exports, sink))
        .collect();
    let names: BTreeSet<String> = parts
        .iter()
        .flat_map(|p| p.networks.keys().cloned())
        .collect();
    let local = &clusters[0];
    for name in names {
        let mut network = ServiceNetwork {
            id: network_id(&name),
            arn: arns.arn(&format!("servicenetwork/{}", network_id(&name))),
            name,
            gateways: Vec::new(),
            remote_gateways: Vec::new(),
            associated: false,
            address: None,
            source_vpc_arn: format!(
                "arn:aws:ec2:{}:{}:vpc/{}",
                arns.region, arns.account, local.vpc
            ),
            source_vpc: local.vpc.clone(),
            services: Vec::new(),
            access_logs: Vec::new(),
            auth_policy: None,
        };
        for (cluster, part) in clusters.iter().zip(&mut parts) {
            let Some(piece) = part.networks.remove(&network.name) else {
                continue;
            };
            match &cluster.remote {
                None => {
                    network.associated = piece.associated;
                    network.gateways = piece.gateways;
                    network.services.extend(piece.services);
                }
                Some(remote) => {
                    network
                        .remote_gateways
                        .extend(piece.gateways.into_iter().map(|object| RemoteObject {
                            cluster: remote.clone(),
                            object,
                        }));
                    network
                        .services
                        .extend(piece.services.into_iter().map(|mut s| {
                            s.cluster = Some(remote.clone());
                            for tg in s.target_groups.values_mut() {
                                tg.cluster.get_or_insert_with(|| remote.clone());
                            }
                            s
                        }));
                }
            }
            network.access_logs.extend(piece.logs);
            // The network's policy: this cluster's Gateways' first, else a remote one's.
            network.auth_policy = network.auth_policy.take().or(piece.policy);
        }
        network.services.sort_by(|a, b| a.name.cmp(&b.name));
        network.access_logs.sort();
        network.access_logs.dedup();
        out.service_networks.push(network);
    }
    // Standalone services are in no network: a remote cluster's are served nowhere here.
    out.standalone_services = std::mem::take(&mut parts[0].standalone);
    out.standalone_services.sort_by(|a, b| a.name.cmp(&b.name));
    out.annotations = std::mem::take(&mut parts[0].annotations);
    out.exported_target_groups = exports
        .into_iter()
        .flat_map(|e| e.groups.into_iter().map(|(_, tg)| tg))
        .collect();
    out.exported_target_groups
        .sort_by(|a, b| a.group.id.cmp(&b.group.id));
    out.credentials = credentials::read(
        local.snapshot,
        &options.lattice.credentials_namespace,
        problems,
    );
    // Only this cluster's objects get statuses; a remote cluster's problems are its own
    // Pylon's to report, and are warnings here.
    let mut sinks = sinks.into_iter();
    if let Some(sink) = sinks.next() {
        problems.extend(sink.problems);
        out.statuses.extend(sink.statuses);
    }
    for (cluster, sink) in clusters[1..].iter().zip(sinks) {
        let name = cluster.remote.as_deref().unwrap_or_default();
        problems.extend(sink.problems.into_iter().map(|p| {
            let source = p.source.clone();
            let warning =
                Problem::warning(p.object, p.field, format!("cluster {name}: {}", p.message));
            match source {
                Some(s) => warning.with_source(s),
                None => warning,
            }
        }));
    }
    out
}

/// A cluster's VPC: `--vpc-id`, else `vpc-` and a hash of the cluster's name.
pub fn vpc_of(options: &Options) -> String {
    options
        .lattice
        .vpc_id
        .clone()
        .unwrap_or_else(|| format!("vpc-{}", names::hex17(&["vpc", &options.cluster_name])))
}

/// A service network's id: the same in every cluster, derived from its name.
pub fn network_id(name: &str) -> String {
    format!("sn-{}", names::hex17(&["servicenetwork", name]))
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
        // Only this cluster's routes are written to.
        .filter(|s| s.cluster.is_none() && seen.insert(s.origin.clone()))
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
