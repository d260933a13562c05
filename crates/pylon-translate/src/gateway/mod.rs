//! Gateway API → load balancers, with the statuses the spec requires.
//!
//! Pylon implements two GatewayClass controllers: its own, and `gateway.k8s.aws/alb` so that EKS
//! manifests written for the AWS Load Balancer Controller work unchanged (with its defaults:
//! instance targets, health checks 200-399 with thresholds 3/3, LoadBalancerConfiguration and
//! TargetGroupConfiguration). Each accepted Gateway becomes one load balancer; its listeners are
//! grouped by port; every route attached to a port contributes rules, ordered as the spec orders
//! matches across routes.

mod backends;
mod hostnames;
pub(crate) mod listeners;
mod load_balancer;
mod precedence;
mod restrictions;
pub(crate) mod routes;
mod rules;
mod settings;
pub mod status;

use crate::status::{ObjectStatus, Status};
use crate::Options;
use backends::{Backends, RefError};
use gateway_api::apis::standard::httproutes::HttpRouteParentRefs;
use load_balancer::GatewayBuild;
use pylon_ir::{LoadBalancer, TargetType};
use pylon_model::aws::LoadBalancerConfiguration;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use routes::RouteView;
use status::{
    reason, Condition as StatusCondition, Feature, GatewayClassStatus, RouteParentStatus,
    RouteStatus,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Pylon's own GatewayClass controller name.
pub const PYLON_CONTROLLER: &str = "pylon-project.github.io/gateway-controller";
/// The AWS Load Balancer Controller's ALB GatewayClass controller name.
pub const ALB_CONTROLLER: &str = "gateway.k8s.aws/alb";
const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// The Gateway API features Pylon implements (GatewayClass `status.supportedFeatures`), sorted.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "Gateway",
    "GatewayAddressEmpty",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteCORS",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ReferenceGrant",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Pylon,
    Alb,
}

impl Flavor {
    fn from_controller(name: &str) -> Option<Flavor> {
        match name {
            PYLON_CONTROLLER => Some(Flavor::Pylon),
            ALB_CONTROLLER => Some(Flavor::Alb),
            _ => None,
        }
    }

    fn controller(self) -> &'static str {
        match self {
            Flavor::Pylon => PYLON_CONTROLLER,
            Flavor::Alb => ALB_CONTROLLER,
        }
    }

    /// The ALB controller registers NodePorts unless told otherwise; Pylon's own class sends
    /// traffic straight to the endpoints, as most Gateway implementations do.
    fn default_target_type(self) -> TargetType {
        match self {
            Flavor::Pylon => TargetType::Ip,
            Flavor::Alb => TargetType::Instance,
        }
    }
}

/// What the Gateway API part of a translation produced.
#[derive(Default)]
pub struct Output {
    pub load_balancers: Vec<LoadBalancer>,
    pub statuses: Vec<ObjectStatus>,
    /// Addresses Gateways ask for in `spec.addresses`, by load balancer id.
    pub requested: BTreeMap<String, IpAddr>,
}

/// An accepted class: its flavor and its LoadBalancerConfiguration, if any.
struct Class<'a> {
    flavor: Flavor,
    config: Option<&'a LoadBalancerConfiguration>,
}

pub use routes::Memo;

pub fn translate(
    snapshot: &Snapshot,
    options: &Options,
    routes: &[std::sync::Arc<RouteView>],
    problems: &mut Vec<Problem>,
) -> Output {
    let mut out = Output::default();
    let classes = classes(snapshot, &mut out.statuses);
    let mut gateways: Vec<GatewayBuild> = snapshot
        .gateways()
        .filter_map(|gw| {
            let class = classes.get(gw.spec.gateway_class_name.as_str())?;
            Some(GatewayBuild::new(gw, class, snapshot, options))
        })
        .collect();
    let mut attachments: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
    // Target groups resolved while checking references, per Gateway: every route that names the
    // same Service resolves it once.
    let mut scratch: Vec<BTreeMap<String, pylon_ir::TargetGroup>> =
        vec![BTreeMap::new(); gateways.len()];
    for (ri, route) in routes.iter().enumerate() {
        let mut parents = Vec::new();
        let mut route_problems = BTreeSet::new();
        let dropped = route.rules.iter().filter(|r| r.invalid.is_some()).count();
        for (raw, parent) in &route.parent_refs {
            let Some(gi) = find_gateway(&gateways, route, parent) else {
                continue;
            };
            let gb = &gateways[gi];
            let generation = route.generation;
            // References resolve with this Gateway's class and target group defaults.
            let (ref_errors, filter_error) =
                check_refs(route, gb, snapshot, options, &mut scratch[gi]);
            route_problems.extend(
                ref_errors
                    .iter()
                    .chain(filter_error.iter())
                    .map(|e| e.message.clone()),
            );
            let accepted = if let Some(e) = &filter_error {
                Err((e.reason, e.message.clone()))
            } else if dropped == route.rules.len() && dropped > 0 {
                let why = route
                    .rules
                    .iter()
                    .find_map(|r| r.invalid.clone())
                    .unwrap_or_default();
                Err((
                    reason::UNSUPPORTED_VALUE,
                    format!("no rule can be served: {why}"),
                ))
            } else {
                gb.attach(route, parent, snapshot)
            };
            let mut conditions = Vec::new();
            match &accepted {
                Ok(listeners) => {
                    conditions.push(StatusCondition::new(
                        reason::ACCEPTED,
                        true,
                        reason::ACCEPTED,
                        "accepted",
                        generation,
                    ));
                    for li in listeners {
                        attachments.insert((gi, *li, ri));
                    }
                }
                Err((why, message)) => conditions.push(StatusCondition::new(
                    reason::ACCEPTED,
                    false,
                    why,
                    message.clone(),
                    generation,
                )),
            }
            conditions.push(match ref_errors.first() {
                None => StatusCondition::new(
                    reason::RESOLVED_REFS,
                    true,
                    reason::RESOLVED_REFS,
                    "all references resolved",
                    generation,
                ),
                Some(e) => StatusCondition::new(
                    reason::RESOLVED_REFS,
                    false,
                    e.reason,
                    e.message.clone(),
                    generation,
                ),
            });
            if dropped > 0 && dropped < route.rules.len() {
                let why = route
                    .rules
                    .iter()
                    .find_map(|r| r.invalid.clone())
                    .unwrap_or_default();
                conditions.push(StatusCondition::new(
                    reason::PARTIALLY_INVALID,
                    true,
                    reason::UNSUPPORTED_VALUE,
                    format!("Dropped Rule: {why}"),
                    generation,
                ));
            }
            parents.push(RouteParentStatus {
                parent_ref: raw.clone(),
                controller_name: gb.flavor.controller(),
                conditions,
            });
        }
        for message in route_problems {
            problems.push(Problem::error(Some(route.object.clone()), None, message));
        }
        if !parents.is_empty() {
            out.statuses.push(ObjectStatus {
                object: route.object.clone(),
                status: Status::Route(RouteStatus { parents }),
            });
        }
    }
    for (gi, li, _) in &attachments {
        gateways[*gi].listeners[*li].attached += 1;
    }
    for (gi, gb) in gateways.iter().enumerate() {
        let attached: Vec<(usize, usize)> = attachments
            .iter()
            .filter(|(g, _, _)| *g == gi)
            .map(|(_, l, r)| (*l, *r))
            .collect();
        if let Some(lb) = gb.load_balancer(&attached, routes, snapshot, options, problems) {
            if let Some(ip) = gb.requested {
                out.requested.insert(lb.id.clone(), ip);
            }
            out.load_balancers.push(lb);
        }
        out.statuses.push(gb.status());
    }
    out
}

/// GatewayClasses of Pylon's controllers: Accepted (or InvalidParameters) and supportedFeatures.
fn classes<'a>(
    snapshot: &'a Snapshot,
    statuses: &mut Vec<ObjectStatus>,
) -> BTreeMap<&'a str, Class<'a>> {
    let mut accepted = BTreeMap::new();
    for class in snapshot.gateway_classes() {
        let Some(flavor) = Flavor::from_controller(&class.spec.controller_name) else {
            continue;
        };
        let name = class.metadata.name.as_deref().unwrap_or_default();
        let generation = class.metadata.generation.unwrap_or(0);
        let config = match &class.spec.parameters_ref {
            None => Ok(None),
            Some(p) if p.group == "gateway.k8s.aws" && p.kind == "LoadBalancerConfiguration" => match p.namespace.as_deref() {
                Some(ns) => snapshot
                    .load_balancer_configuration(ns, &p.name)
                    .map(Some)
                    .ok_or_else(|| format!("parametersRef: LoadBalancerConfiguration {ns}/{} does not exist", p.name)),
                None => Err("parametersRef to a LoadBalancerConfiguration needs its namespace".to_string()),
            },
            Some(p) => Err(format!("parametersRef to {} of group {:?} is not supported: use a gateway.k8s.aws LoadBalancerConfiguration", p.kind, p.group)),
        };
        let condition = match &config {
            Ok(_) => StatusCondition::new(
                reason::ACCEPTED,
                true,
                reason::ACCEPTED,
                format!("handled by Pylon ({})", flavor.controller()),
                generation,
            ),
            Err(e) => StatusCondition::new(
                reason::ACCEPTED,
                false,
                reason::INVALID_PARAMETERS,
                e.clone(),
                generation,
            ),
        };
        statuses.push(ObjectStatus {
            object: ObjectRef::new(Kind::GatewayClass, None, name),
            status: Status::GatewayClass(GatewayClassStatus {
                conditions: vec![condition],
                supported_features: SUPPORTED_FEATURES
                    .iter()
                    .map(|f| Feature {
                        name: f.to_string(),
                    })
                    .collect(),
            }),
        });
        if let Ok(config) = config {
            accepted.insert(name, Class { flavor, config });
        }
    }
    accepted
}

fn find_gateway(
    gateways: &[GatewayBuild],
    route: &RouteView,
    parent: &HttpRouteParentRefs,
) -> Option<usize> {
    let group = parent.group.as_deref().unwrap_or(GATEWAY_GROUP);
    let kind = parent.kind.as_deref().unwrap_or("Gateway");
    if group != GATEWAY_GROUP || kind != "Gateway" {
        return None;
    }
    let ns = parent
        .namespace
        .clone()
        .or_else(|| route.object.namespace.clone())
        .unwrap_or_default();
    gateways.iter().position(|g| {
        g.object.namespace.as_deref() == Some(ns.as_str()) && g.object.name == parent.name
    })
}

/// Every reference error of a route (backends, mirrors) and whether a filter cannot be honoured,
/// found once with a scratch set of target groups.
fn check_refs(
    route: &RouteView,
    gateway: &GatewayBuild,
    snapshot: &Snapshot,
    options: &Options,
    scratch: &mut BTreeMap<String, pylon_ir::TargetGroup>,
) -> (Vec<RefError>, Option<RefError>) {
    let mut scratch_problems = Vec::new();
    let mut backends = Backends {
        snapshot,
        options,
        flavor: gateway.flavor,
        lb_id: "check",
        default_props: gateway.default_props.as_ref(),
        route: &route.object,
        route_kind: route.kind,
        // References are checked as an HTTPS listener takes them (no HTTP1 groups of its own).
        plaintext: false,
        dualstack: !gateway.ip_address_type.is_ipv4(),
        target_groups: scratch,
        problems: &mut scratch_problems,
    };
    let mut errors = Vec::new();
    let mut filter_error = match gateway.flavor {
        Flavor::Alb => rules::alb_match_error(route),
        _ => None,
    };
    for rule in &route.rules {
        for b in &rule.backends {
            if let Err(e) = backends.resolve(
                b.group.as_deref(),
                b.kind.as_deref(),
                &b.name,
                b.namespace.as_deref(),
                b.port,
            ) {
                errors.push(e);
            }
        }
        let prefix = single_prefix(rule);
        let lists = std::iter::once(&rule.filters).chain(rule.backends.iter().map(|b| &b.filters));
        for list in lists {
            match backends::filters(list, prefix.as_deref(), &mut backends) {
                Ok(f) => errors.extend(f.unresolved),
                Err(e) => filter_error = filter_error.or(Some(e)),
            }
        }
    }
    (errors, filter_error)
}

/// ReplacePrefixMatch needs exactly one PathPrefix match in the rule.
fn single_prefix(rule: &routes::RuleView) -> Option<String> {
    match rule.matches.as_slice() {
        [only] => only.prefix.clone(),
        _ => None,
    }
}
