//! The pure middle of Pylon: `translate(&Snapshot, &Options) -> Translation`.
//!
//! No I/O, no clock, no randomness: the same snapshot and options always give the same IR,
//! statuses and problems, in the same order. All semantics live here: which Ingresses are ours,
//! what the `alb.ingress.kubernetes.io/*` annotations mean, how rules are ordered, which targets a
//! target group holds, which address a load balancer gets.

mod address;
mod certificates;
mod gateway;
mod ingress;
mod lattice;
mod names;
mod restriction;
mod status;
mod target_group;

pub use address::{AddressPools, PoolError, DEFAULT_IPV6_POOL, DEFAULT_LATTICE_POOL};
pub use gateway::{ALB_CONTROLLER, PYLON_CONTROLLER, SUPPORTED_FEATURES};
pub use lattice::{LatticeOptions, LATTICE_CONTROLLER};
pub use status::{ObjectStatus, Status};

use pylon_ir::Ir;
use pylon_model::{ObjectRef, Problem, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the translator needs besides the objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Mixed into generated load balancer and target group names, as the ALB controller's
    /// `--cluster-name` is.
    pub cluster_name: String,
    /// Where load balancers get their addresses, by scheme.
    pub pools: AddressPools,
    /// Addresses handed out before (load balancer id → address), kept so that addresses stay the
    /// same across restarts and across changes to other objects.
    pub reserved: BTreeMap<String, IpAddr>,
    /// Where VPC Lattice resources live.
    pub lattice: LatticeOptions,
    /// The AWS Load Balancer Controller's flags.
    pub alb: AlbOptions,
}

/// What the AWS Load Balancer Controller takes as flags, and Pylon's one departure from an ALB.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbOptions {
    /// `--default-load-balancer-scheme`: the scheme of load balancers that do not set one.
    pub default_scheme: pylon_ir::Scheme,
    /// `--enable-ip-target-type`: whether `ip` targets may be asked for (else it is an error).
    pub enable_ip_target_type: bool,
    /// Keep HTTP2 and GRPC target groups behind ALB Gateways' HTTP listeners as HTTP/2 without
    /// TLS (h2c), which an ALB does not do: it speaks HTTP/1.1 to targets behind HTTP listeners.
    pub h2c_behind_http_listeners: bool,
}

impl Default for AlbOptions {
    fn default() -> Self {
        AlbOptions {
            default_scheme: pylon_ir::Scheme::Internal,
            enable_ip_target_type: true,
            h2c_behind_http_listeners: false,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cluster_name: "pylon".to_string(),
            pools: AddressPools::default(),
            reserved: BTreeMap::new(),
            lattice: LatticeOptions::default(),
            alb: AlbOptions::default(),
        }
    }
}

/// The result of one translation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Translation {
    pub ir: Ir,
    /// The status every handled object should carry, sorted by object.
    pub statuses: Vec<ObjectStatus>,
    /// Everything wrong with the input (the source's findings included), sorted.
    pub problems: Vec<Problem>,
    /// Annotations Pylon writes on objects, as the AWS controllers write them (a Lattice
    /// service's domain name and ARN on its route), sorted by object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<ObjectAnnotations>,
    /// Address reservations after this translation: persist them and pass them back next time.
    #[serde(skip)]
    pub reserved: BTreeMap<String, IpAddr>,
}

/// The annotations Pylon writes on one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectAnnotations {
    #[serde(flatten)]
    pub object: ObjectRef,
    pub annotations: BTreeMap<String, String>,
}

/// What one translation keeps for the next: work derived from a single object, reused while
/// the snapshot shares that object. A translation with a memo gives exactly what one without
/// gives; only faster.
#[derive(Default)]
pub struct Memo {
    routes: gateway::Memo,
    /// Each remote cluster's, by name.
    remote_routes: BTreeMap<String, gateway::Memo>,
}

/// A cluster read only for its Lattice objects (`--remote-cluster`): its Gateways join the
/// service networks of their names, its routes are services of them, its ServiceExports can be
/// imported here. Nothing is written to it.
pub struct RemoteCluster<'a> {
    pub name: &'a str,
    /// Its VPC; derived from its name when not given, as this cluster's is.
    pub vpc_id: Option<&'a str>,
    pub snapshot: &'a Snapshot,
}

/// Translates a snapshot into load balancers and statuses.
pub fn translate(snapshot: &Snapshot, options: &Options) -> Translation {
    translate_with(snapshot, options, &mut Memo::default())
}

/// [`translate`], reusing and refreshing `memo` (pass the same one for successive snapshots).
pub fn translate_with(snapshot: &Snapshot, options: &Options, memo: &mut Memo) -> Translation {
    translate_clusters(snapshot, &[], options, memo)
}

/// [`translate_with`] for this cluster's `snapshot` and the Lattice objects of remote clusters.
pub fn translate_clusters(
    snapshot: &Snapshot,
    remotes: &[RemoteCluster<'_>],
    options: &Options,
    memo: &mut Memo,
) -> Translation {
    let mut problems = snapshot.problems.clone();
    let (mut load_balancers, failed) = ingress::translate(snapshot, options, &mut problems);
    let routes = memo.routes.views(snapshot);
    let gateways = gateway::translate(snapshot, options, &routes, &mut problems);
    let mut clusters = vec![lattice::Cluster {
        options: options.clone(),
        vpc: lattice::vpc_of(options),
        snapshot,
        routes: routes.clone(),
        remote: None,
    }];
    memo.remote_routes
        .retain(|name, _| remotes.iter().any(|r| r.name == name));
    for remote in remotes {
        let options = Options {
            cluster_name: remote.name.to_string(),
            lattice: LatticeOptions {
                vpc_id: remote.vpc_id.map(str::to_string),
                ..options.lattice.clone()
            },
            ..options.clone()
        };
        clusters.push(lattice::Cluster {
            vpc: lattice::vpc_of(&options),
            options,
            snapshot: remote.snapshot,
            routes: memo
                .remote_routes
                .entry(remote.name.to_string())
                .or_default()
                .views(remote.snapshot),
            remote: Some(remote.name.to_string()),
        });
    }
    let lattice = lattice::translate(&clusters, options, &mut problems);
    load_balancers.extend(gateways.load_balancers);
    load_balancers.sort_by(|a, b| a.id.cmp(&b.id));
    let mut reserved = address::assign(
        &mut load_balancers,
        &options.pools,
        &options.reserved,
        &gateways.requested,
        &mut problems,
    );
    let mut service_networks = lattice.service_networks;
    address::assign_networks(
        &mut service_networks,
        &options.pools.lattice,
        &mut reserved,
        &mut problems,
    );
    let ir = Ir {
        load_balancers,
        service_networks,
        standalone_services: lattice.standalone_services,
        exported_target_groups: lattice.exported_target_groups,
        credentials: lattice.credentials,
    };
    let mut statuses = status::ingress_statuses(&ir, &failed);
    statuses.extend(gateways.statuses);
    statuses.extend(lattice.statuses);
    status::fill_gateway_addresses(&ir, &mut statuses);
    statuses.sort_by(|a, b| a.object.cmp(&b.object));
    status::merge_route_parents(&mut statuses);
    let mut annotations = lattice::written_annotations(&ir);
    annotations.extend(lattice.annotations);
    annotations.sort_by(|a, b| a.object.cmp(&b.object));
    problems.sort();
    problems.dedup();
    Translation {
        ir,
        statuses,
        problems,
        annotations,
        reserved,
    }
}
