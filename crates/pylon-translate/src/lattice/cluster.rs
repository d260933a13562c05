//! One cluster's part of the service networks: its Lattice Gateways, the services of its routes
//! and its policies. This cluster's part and every remote cluster's (`--remote-cluster`) are
//! read alike; only this cluster's statuses and annotations are kept.

use super::gateways::{self, GatewayBuild};
use super::names::Arns;
use super::target_groups::{Export, Policies};
use super::{access_logs, attach, auth, merge, network_id, service, vpc_associations};
use super::{ANNOTATION, LATTICE_CONTROLLER};
use crate::gateway::routes::RouteView;
use crate::gateway::status::{Condition, RouteParentStatus, RouteStatus};
use crate::status::{ObjectStatus, Status};
use crate::{ObjectAnnotations, Options};
use pylon_ir::lattice::Service;
use pylon_model::{ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A cluster whose Lattice objects are read.
pub struct Cluster<'a> {
    /// Its name and VPC: in the options' `cluster_name` and `lattice.vpc_id`.
    pub options: Options,
    pub vpc: String,
    pub snapshot: &'a Snapshot,
    pub routes: Vec<Arc<RouteView>>,
    /// `None` for this cluster; a remote cluster's name.
    pub remote: Option<String>,
}

/// What a cluster's translation reports: problems, and the statuses of its objects.
#[derive(Default)]
pub struct Sink {
    pub problems: Vec<Problem>,
    pub statuses: Vec<ObjectStatus>,
}

/// One service network as one cluster has it.
#[derive(Default)]
pub struct NetworkPart {
    /// The cluster's Gateways of the network's name, sorted.
    pub gateways: Vec<ObjectRef>,
    pub services: Vec<Service>,
    /// AccessLogPolicies on those Gateways.
    pub logs: Vec<String>,
    /// The IAMAuthPolicy of the first of those Gateways to have one.
    pub policy: Option<String>,
    /// Whether the cluster's VPC is associated (no VpcAssociationPolicy says not).
    pub associated: bool,
}

pub struct Part {
    pub networks: BTreeMap<String, NetworkPart>,
    pub standalone: Vec<Service>,
    pub annotations: Vec<ObjectAnnotations>,
}

impl Cluster<'_> {
    /// Reads the cluster's Gateways, routes and policies, with the exports of every cluster for
    /// its ServiceImports to resolve.
    pub fn read(
        &self,
        classes: &[&str],
        arns: &Arns<'_>,
        policies: &Policies<'_>,
        exports: &[Export],
        sink: &mut Sink,
    ) -> Part {
        let snapshot = self.snapshot;
        let auth = auth::read(snapshot, &mut sink.problems, &mut sink.statuses);
        let associations = vpc_associations::read(snapshot, &mut sink.problems, &mut sink.statuses);
        let inputs = service::Inputs {
            snapshot,
            options: &self.options,
            arns,
            policies,
            exports,
        };
        let mut gateways = gateways::gateways(snapshot, classes);
        for gateway in &gateways {
            gateways::listener_problems(gateway, &mut sink.problems);
        }
        let gateway_refs: Vec<ObjectRef> = gateways.iter().map(|g| g.object.clone()).collect();
        let logs = access_logs::read(snapshot, &gateway_refs, arns, &mut sink.problems);
        sink.statuses.extend(logs.statuses);
        let mut standalone = Vec::new();
        let mut services: BTreeMap<String, Vec<Service>> = BTreeMap::new();
        for route in &self.routes {
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
                let section = parent.section_name.as_deref();
                let (conditions, built) = attach(route, gateway, section, &inputs, &auth);
                let conditions = conditions
                    .into_iter()
                    .map(|(type_, ok, why, message)| {
                        if !ok {
                            sink.problems.push(Problem::error(
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
                    let standalone_annotation = service::annotations(route, snapshot)
                        .and_then(|a| a.get(&format!("{ANNOTATION}standalone")));
                    let list = match gateway.standalone || gateways::is_true(standalone_annotation)
                    {
                        true => &mut standalone,
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
                sink.statuses.push(ObjectStatus {
                    object: route.object.clone(),
                    status: Status::Route(RouteStatus { parents }),
                });
            }
        }
        // Its service networks: every Gateway name, and every ServiceNetwork object.
        let mut members: BTreeMap<&str, Vec<&GatewayBuild<'_>>> = BTreeMap::new();
        for sn in snapshot.service_networks() {
            members
                .entry(sn.metadata.name.as_deref().unwrap_or_default())
                .or_default();
        }
        for gateway in &gateways {
            members.entry(gateway.network).or_default().push(gateway);
        }
        let mut networks = BTreeMap::new();
        for (name, members) in members {
            for gateway in &members {
                sink.statuses
                    .push(gateways::status(gateway, &network_id(name)));
            }
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
            let policy = refs.iter().find_map(|g| match auth.get(g) {
                Some(auth::Attached::Policy(p)) => Some(p.clone()),
                _ => None,
            });
            networks.insert(
                name.to_string(),
                NetworkPart {
                    associated: vpc_associations::associated(&refs, &associations),
                    gateways: refs,
                    services: services.remove(name).unwrap_or_default(),
                    logs: network_logs,
                    policy,
                },
            );
        }
        Part {
            networks,
            standalone,
            annotations: logs.annotations,
        }
    }
}
