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
mod precedence;
mod routes;
pub mod status;

use crate::status::{ObjectStatus, Status};
use crate::{names, Options};
use backends::{Backends, RefError};
use gateway_api::apis::standard::gateways::{
    Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom, GatewayListenersTlsMode,
};
use gateway_api::apis::standard::httproutes::HttpRouteParentRefs;
use pylon_ir::{
    Action, Condition, Listener, LoadBalancer, LoadBalancerAttributes, Protocol, Rule, RuleOrigin,
    Scheme, TargetGroup, TargetType, WeightedTargetGroup,
};
use pylon_model::aws::{LoadBalancerConfiguration, TargetGroupProps};
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use routes::RouteView;
use status::{
    reason, Condition as StatusCondition, Feature, GatewayClassStatus, GatewayStatus,
    ListenerStatus, RouteGroupKind, RouteParentStatus, RouteStatus,
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
    "Gateway",
    "GatewayHTTPListenerIsolation",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteBackendTimeout",
    "HTTPRouteCORS",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
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

pub fn translate(snapshot: &Snapshot, options: &Options, problems: &mut Vec<Problem>) -> Output {
    let mut out = Output::default();
    let classes = classes(snapshot, &mut out.statuses);
    let mut gateways: Vec<GatewayBuild> = snapshot
        .gateways()
        .filter_map(|gw| {
            let class = classes.get(gw.spec.gateway_class_name.as_str())?;
            Some(GatewayBuild::new(gw, class, snapshot, options))
        })
        .collect();
    let routes: Vec<RouteView> = snapshot
        .http_routes()
        .map(routes::from_http)
        .chain(snapshot.grpc_routes().map(routes::from_grpc))
        .collect();
    let mut attachments: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
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
            let (ref_errors, filter_error) = check_refs(route, gb, snapshot, options);
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
                controller_name: gb.flavor.controller().to_string(),
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
        if let Some(lb) = gb.load_balancer(&attached, &routes, snapshot, options, problems) {
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
) -> (Vec<RefError>, Option<RefError>) {
    let mut scratch = BTreeMap::new();
    let mut scratch_problems = Vec::new();
    let mut backends = Backends {
        snapshot,
        options,
        flavor: gateway.flavor,
        lb_id: "check",
        default_props: gateway.default_props.as_ref(),
        route: &route.object,
        route_kind: route.kind,
        target_groups: &mut scratch,
        problems: &mut scratch_problems,
    };
    let mut errors = Vec::new();
    let mut filter_error = None;
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

/// One Gateway being translated.
struct GatewayBuild {
    object: ObjectRef,
    generation: i64,
    flavor: Flavor,
    lb_id: String,
    /// `Err((reason, message))` when the Gateway is not accepted.
    accepted: Result<(), (&'static str, String)>,
    scheme: Scheme,
    name: Option<String>,
    idle_timeout_seconds: u32,
    default_props: Option<TargetGroupProps>,
    listeners: Vec<ListenerBuild>,
    requested: Option<IpAddr>,
    address_problem: Option<String>,
}

struct ListenerBuild {
    name: String,
    port: u16,
    protocol: Protocol,
    hostname: Option<String>,
    kinds: Vec<RouteGroupKind>,
    from: GatewayListenersAllowedRoutesNamespacesFrom,
    selector: Option<pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    accepted: Result<(), (&'static str, String)>,
    resolved: Result<(), (&'static str, String)>,
    conflicted: Option<&'static str>,
    attached: i32,
}

impl ListenerBuild {
    fn usable(&self) -> bool {
        self.accepted.is_ok() && self.conflicted.is_none()
    }

    fn programmed(&self) -> bool {
        self.usable() && self.resolved.is_ok()
    }
}

impl GatewayBuild {
    fn new(gw: &Gateway, class: &Class<'_>, snapshot: &Snapshot, options: &Options) -> Self {
        let ns = gw.metadata.namespace.clone().unwrap_or_default();
        let name = gw.metadata.name.clone().unwrap_or_default();
        let object = ObjectRef::namespaced(Kind::Gateway, &ns, &name);
        let mut accepted = Ok(());
        // LoadBalancerConfiguration: the Gateway's (infrastructure.parametersRef, same namespace)
        // and the class's; by default (mergingMode prefer-gateway-class) the class's values win.
        let own = match gw
            .spec
            .infrastructure
            .as_ref()
            .and_then(|i| i.parameters_ref.as_ref())
        {
            None => None,
            Some(p) if p.group == "gateway.k8s.aws" && p.kind == "LoadBalancerConfiguration" => {
                let found = snapshot.load_balancer_configuration(&ns, &p.name);
                if found.is_none() {
                    accepted = Err((reason::INVALID_PARAMETERS, format!("infrastructure.parametersRef: LoadBalancerConfiguration {ns}/{} does not exist", p.name)));
                }
                found
            }
            Some(p) => {
                accepted = Err((reason::INVALID_PARAMETERS, format!("infrastructure.parametersRef to {} of group {:?} is not supported: use a gateway.k8s.aws LoadBalancerConfiguration", p.kind, p.group)));
                None
            }
        };
        let prefer_gateway =
            class.config.and_then(|c| c.spec.merging_mode.as_deref()) == Some("prefer-gateway");
        let layers: Vec<&LoadBalancerConfiguration> = if prefer_gateway {
            class.config.into_iter().chain(own).collect()
        } else {
            own.into_iter().chain(class.config).collect()
        };
        // Later layers win.
        let pick = |f: &dyn Fn(&LoadBalancerConfiguration) -> Option<String>| {
            layers.iter().filter_map(|c| f(c)).last()
        };
        let scheme = match pick(&|c| c.spec.scheme.clone()).as_deref() {
            Some("internet-facing") => Scheme::InternetFacing,
            Some("internal") | None => Scheme::Internal,
            Some(other) => {
                accepted = Err((reason::INVALID_PARAMETERS, format!("LoadBalancerConfiguration scheme {other:?} must be internal or internet-facing")));
                Scheme::Internal
            }
        };
        let idle_timeout_seconds = layers
            .iter()
            .flat_map(|c| c.spec.load_balancer_attributes.iter().flatten())
            .filter(|a| a.key == "idle_timeout.timeout_seconds")
            .filter_map(|a| a.value.parse::<u32>().ok())
            .next_back()
            .unwrap_or(LoadBalancerAttributes::default().idle_timeout_seconds);
        let default_props = layers
            .iter()
            .filter_map(|c| {
                let r = c.spec.default_target_group_configuration.as_ref()?;
                let ns = c.metadata.namespace.as_deref().unwrap_or(&ns);
                snapshot
                    .target_group_configuration(ns, &r.name)?
                    .spec
                    .default_configuration
                    .clone()
            })
            .next_back();
        let listeners = listeners(gw, snapshot);
        if accepted.is_ok() && !listeners.iter().any(ListenerBuild::usable) {
            accepted = Err((
                reason::LISTENERS_NOT_VALID,
                "no listener is valid".to_string(),
            ));
        }
        let (requested, address_problem) = requested_address(gw, scheme, options, &mut accepted);
        GatewayBuild {
            generation: gw.metadata.generation.unwrap_or(0),
            flavor: class.flavor,
            lb_id: format!("gateway/{ns}/{name}"),
            accepted,
            scheme,
            name: pick(&|c| c.spec.load_balancer_name.clone()),
            idle_timeout_seconds,
            default_props,
            listeners,
            requested,
            address_problem,
            object,
        }
    }

    /// Which listeners a parentRef attaches the route to, or why none.
    fn attach(
        &self,
        route: &RouteView,
        parent: &HttpRouteParentRefs,
        snapshot: &Snapshot,
    ) -> Result<Vec<usize>, (&'static str, String)> {
        if let Err((_, why)) = &self.accepted {
            return Err((
                reason::NO_MATCHING_PARENT,
                format!("{} is not accepted: {why}", self.object),
            ));
        }
        let selected: Vec<usize> = (0..self.listeners.len())
            .filter(|&i| {
                let l = &self.listeners[i];
                parent.section_name.as_deref().is_none_or(|s| s == l.name)
                    && parent.port.is_none_or(|p| p == i32::from(l.port))
            })
            .collect();
        if selected.is_empty() {
            return Err((
                reason::NO_MATCHING_PARENT,
                format!(
                    "{} has no listener matching sectionName {:?} and port {:?}",
                    self.object, parent.section_name, parent.port
                ),
            ));
        }
        let route_ns = route.object.namespace.as_deref().unwrap_or_default();
        let gw_ns = self.object.namespace.as_deref().unwrap_or_default();
        let allowed: Vec<usize> = selected
            .into_iter()
            .filter(|&i| {
                let l = &self.listeners[i];
                l.programmed()
                    && l.kinds
                        .iter()
                        .any(|k| k.kind == route.kind.name() && k.group == GATEWAY_GROUP)
                    && match l.from {
                        GatewayListenersAllowedRoutesNamespacesFrom::Same => route_ns == gw_ns,
                        GatewayListenersAllowedRoutesNamespacesFrom::All => true,
                        GatewayListenersAllowedRoutesNamespacesFrom::Selector => {
                            namespace_selected(snapshot, route_ns, l.selector.as_ref())
                        }
                    }
            })
            .collect();
        if allowed.is_empty() {
            return Err((
                reason::NOT_ALLOWED_BY_LISTENERS,
                format!(
                    "no listener of {} allows {} from namespace {route_ns}",
                    self.object, route.kind
                ),
            ));
        }
        let matching: Vec<usize> = allowed
            .into_iter()
            .filter(|&i| !self.hostnames(i, route).is_empty())
            .collect();
        if matching.is_empty() {
            return Err((
                reason::NO_MATCHING_LISTENER_HOSTNAME,
                format!(
                    "no hostname of the route matches a listener hostname of {}",
                    self.object
                ),
            ));
        }
        Ok(matching)
    }

    /// The hostnames a route gets on a listener; `[None]` when neither names one.
    fn hostnames(&self, listener: usize, route: &RouteView) -> Vec<Option<String>> {
        let l = &self.listeners[listener];
        match (&l.hostname, route.hostnames.is_empty()) {
            (None, true) => vec![None],
            (None, false) => route
                .hostnames
                .iter()
                .map(|h| Some(h.to_ascii_lowercase()))
                .collect(),
            (Some(h), true) => vec![Some(h.clone())],
            (Some(h), false) => {
                let set: BTreeSet<String> = route
                    .hostnames
                    .iter()
                    .filter_map(|r| hostnames::intersect(h, r))
                    .collect();
                set.into_iter().map(Some).collect()
            }
        }
    }

    /// The hostnames a route keeps on a listener once those that belong to a more specific
    /// listener on the same port are given to it (GatewayHTTPListenerIsolation).
    fn isolated_hostnames(
        &self,
        listener: usize,
        hosts: Vec<Option<String>>,
    ) -> Vec<Option<String>> {
        let l = &self.listeners[listener];
        hosts
            .into_iter()
            .filter(|h| {
                !self.listeners.iter().enumerate().any(|(other, o)| {
                    other != listener
                        && o.programmed()
                        && o.port == l.port
                        && more_specific(o.hostname.as_deref(), l.hostname.as_deref())
                        && h.as_deref().is_some_and(|h| {
                            o.hostname
                                .as_deref()
                                .and_then(|oh| hostnames::intersect(oh, h))
                                .as_deref()
                                == Some(h)
                        })
                })
            })
            .collect()
    }

    fn load_balancer(
        &self,
        attached: &[(usize, usize)],
        routes: &[RouteView],
        snapshot: &Snapshot,
        options: &Options,
        problems: &mut Vec<Problem>,
    ) -> Option<LoadBalancer> {
        self.accepted.as_ref().ok()?;
        let ns = self.object.namespace.clone().unwrap_or_default();
        let mut target_groups = BTreeMap::new();
        let mut by_port: BTreeMap<u16, (Protocol, Vec<(precedence::Key, Rule)>)> = BTreeMap::new();
        for l in self.listeners.iter().filter(|l| l.programmed()) {
            by_port.entry(l.port).or_insert((l.protocol, vec![]));
        }
        for &(li, ri) in attached {
            let listener = &self.listeners[li];
            if !listener.programmed() {
                continue;
            }
            let route = &routes[ri];
            let mut backends = Backends {
                snapshot,
                options,
                flavor: self.flavor,
                lb_id: &self.lb_id,
                default_props: self.default_props.as_ref(),
                route: &route.object,
                route_kind: route.kind,
                target_groups: &mut target_groups,
                problems,
            };
            let hosts = self.isolated_hostnames(li, self.hostnames(li, route));
            let candidates = candidates(route, &hosts, &mut backends);
            if let Some((_, rules)) = by_port.get_mut(&listener.port) {
                rules.extend(candidates);
            }
        }
        // Listener isolation: a request whose host a more specific listener names is answered by
        // that listener's routes or not at all, never by a wider listener's.
        for (li, l) in self.listeners.iter().enumerate() {
            let Some(host) = &l.hostname else { continue };
            let covered = self.listeners.iter().enumerate().any(|(lj, wider)| {
                lj != li
                    && wider.programmed()
                    && wider.port == l.port
                    && more_specific(Some(host), wider.hostname.as_deref())
            });
            if !l.programmed() || !covered {
                continue;
            }
            if let Some((_, rules)) = by_port.get_mut(&l.port) {
                let key = precedence::Key {
                    hostname: Some(host.clone()),
                    rank: precedence::MatchRank::default(),
                    created: None,
                    route: ("~".into(), "~".into()),
                    rule: usize::MAX,
                    matched: usize::MAX,
                };
                rules.push((
                    key,
                    Rule {
                        priority: 0,
                        origin: RuleOrigin {
                            object: self.object.clone(),
                            field: format!("spec.listeners[{li}].hostname"),
                        },
                        conditions: vec![Condition::HostHeader {
                            values: vec![host.clone()],
                        }],
                        filters: vec![],
                        timeouts: None,
                        action: Action::fixed(404, None),
                    },
                ));
            }
        }
        let listeners = by_port
            .into_iter()
            .map(|(port, (protocol, mut rules))| {
                rules.sort_by(|a, b| precedence::compare(&a.0, &b.0));
                // The same rule reached through two listeners of one port counts once.
                rules.dedup_by(|a, b| a.1 == b.1);
                Listener {
                    id: format!("{}/listener/{port}", self.lb_id),
                    protocol,
                    port,
                    rules: rules
                        .into_iter()
                        .enumerate()
                        .map(|(i, (_, mut rule))| {
                            rule.priority = i as u32 + 1;
                            rule
                        })
                        .collect(),
                    default_action: Action::fixed(404, None),
                }
            })
            .collect();
        let generated = names::generated(
            &ns,
            &self.object.name,
            &[&options.cluster_name, &self.lb_id, self.scheme.as_str()],
        );
        Some(LoadBalancer {
            id: self.lb_id.clone(),
            name: self.name.clone().unwrap_or(generated),
            origin: self.object.clone(),
            scheme: self.scheme,
            address: None,
            attributes: LoadBalancerAttributes {
                idle_timeout_seconds: self.idle_timeout_seconds,
            },
            listeners,
            target_groups: target_groups
                .into_iter()
                .collect::<BTreeMap<String, TargetGroup>>(),
        })
    }

    fn status(&self) -> ObjectStatus {
        let g = self.generation;
        let accepted = match &self.accepted {
            Ok(()) if self.listeners.iter().all(ListenerBuild::usable) => {
                StatusCondition::new(reason::ACCEPTED, true, reason::ACCEPTED, "accepted", g)
            }
            Ok(()) => StatusCondition::new(
                reason::ACCEPTED,
                true,
                reason::LISTENERS_NOT_VALID,
                "accepted; some listeners are not valid",
                g,
            ),
            Err((why, message)) => {
                StatusCondition::new(reason::ACCEPTED, false, why, message.clone(), g)
            }
        };
        let programmed = match (&self.accepted, &self.address_problem) {
            (Err(_), _) => StatusCondition::new(
                reason::PROGRAMMED,
                false,
                reason::INVALID,
                "the Gateway is not accepted",
                g,
            ),
            (Ok(()), Some(problem)) => StatusCondition::new(
                reason::PROGRAMMED,
                false,
                reason::ADDRESS_NOT_USABLE,
                problem.clone(),
                g,
            ),
            (Ok(()), None) => StatusCondition::new(
                reason::PROGRAMMED,
                true,
                reason::PROGRAMMED,
                "programmed",
                g,
            ),
        };
        let listeners = self
            .listeners
            .iter()
            .map(|l| {
                let mut conditions = vec![match (&l.accepted, l.conflicted) {
                    (Err((why, message)), _) => {
                        StatusCondition::new(reason::ACCEPTED, false, why, message.clone(), g)
                    }
                    (Ok(()), Some(why)) => StatusCondition::new(
                        reason::ACCEPTED,
                        false,
                        why,
                        "the listener conflicts with another on its port",
                        g,
                    ),
                    (Ok(()), None) => StatusCondition::new(
                        reason::ACCEPTED,
                        true,
                        reason::ACCEPTED,
                        "accepted",
                        g,
                    ),
                }];
                conditions.push(match &l.resolved {
                    Ok(()) => StatusCondition::new(
                        reason::RESOLVED_REFS,
                        true,
                        reason::RESOLVED_REFS,
                        "all references resolved",
                        g,
                    ),
                    Err((why, message)) => {
                        StatusCondition::new(reason::RESOLVED_REFS, false, why, message.clone(), g)
                    }
                });
                conditions.push(if l.programmed() && self.accepted.is_ok() {
                    StatusCondition::new(
                        reason::PROGRAMMED,
                        true,
                        reason::PROGRAMMED,
                        "programmed",
                        g,
                    )
                } else {
                    StatusCondition::new(
                        reason::PROGRAMMED,
                        false,
                        reason::INVALID,
                        "the listener is not valid",
                        g,
                    )
                });
                if let Some(why) = l.conflicted {
                    conditions.push(StatusCondition::new(
                        reason::CONFLICTED,
                        true,
                        why,
                        "another listener on this port conflicts with it",
                        g,
                    ));
                }
                ListenerStatus {
                    name: l.name.clone(),
                    port: l.port,
                    supported_kinds: l.kinds.clone(),
                    attached_routes: l.attached,
                    conditions,
                }
            })
            .collect();
        ObjectStatus {
            object: self.object.clone(),
            status: Status::Gateway(GatewayStatus {
                addresses: vec![],
                conditions: vec![accepted, programmed],
                listeners,
            }),
        }
    }
}

/// Whether listener hostname `narrow` is strictly inside `wide` (no hostname: every host).
fn more_specific(narrow: Option<&str>, wide: Option<&str>) -> bool {
    match (narrow, wide) {
        (Some(_), None) => true,
        (Some(n), Some(w)) => n != w && hostnames::intersect(w, n).as_deref() == Some(n),
        _ => false,
    }
}

/// `spec.addresses`: an IPAddress inside the scheme's pool is honoured; another type makes the
/// Gateway not accepted (UnsupportedAddress); an address outside the pool is not usable.
fn requested_address(
    gw: &Gateway,
    scheme: Scheme,
    options: &Options,
    accepted: &mut Result<(), (&'static str, String)>,
) -> (Option<IpAddr>, Option<String>) {
    let Some(first) = gw.spec.addresses.iter().flatten().next() else {
        return (None, None);
    };
    let kind = first.r#type.as_deref().unwrap_or("IPAddress");
    if kind != "IPAddress" {
        if accepted.is_ok() {
            *accepted = Err((
                reason::UNSUPPORTED_ADDRESS,
                format!("address type {kind} is not supported: use IPAddress"),
            ));
        }
        return (None, None);
    }
    let Some(value) = first.value.as_deref().filter(|v| !v.is_empty()) else {
        return (None, None);
    };
    match value.parse::<IpAddr>() {
        Ok(ip) if options.pools.for_scheme(scheme).contains(&ip) => (Some(ip), None),
        Ok(ip) => (
            None,
            Some(format!(
                "address {ip} is outside the {} pool {}",
                scheme.as_str(),
                options.pools.for_scheme(scheme)
            )),
        ),
        Err(_) => (
            None,
            Some(format!("address {value:?} is not an IP address")),
        ),
    }
}

/// Validates listeners: protocol, hostname, TLS references, route kinds; then conflicts by port.
fn listeners(gw: &Gateway, snapshot: &Snapshot) -> Vec<ListenerBuild> {
    let ns = gw.metadata.namespace.clone().unwrap_or_default();
    let mut out: Vec<ListenerBuild> = gw
        .spec
        .listeners
        .iter()
        .map(|l| listener(l, &ns, snapshot))
        .collect();
    let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, l) in out.iter().enumerate() {
        if l.accepted.is_ok() {
            by_port.entry(l.port).or_default().push(i);
        }
    }
    for indexes in by_port.values() {
        let protocols: BTreeSet<Protocol> = indexes.iter().map(|&i| out[i].protocol).collect();
        if protocols.len() > 1 {
            for &i in indexes {
                out[i].conflicted = Some(reason::PROTOCOL_CONFLICT);
            }
            continue;
        }
        for &i in indexes {
            let same = indexes
                .iter()
                .filter(|&&j| out[j].hostname == out[i].hostname)
                .count();
            if same > 1 {
                out[i].conflicted = Some(reason::HOSTNAME_CONFLICT);
            }
        }
    }
    out
}

fn listener(l: &GatewayListeners, ns: &str, snapshot: &Snapshot) -> ListenerBuild {
    let mut accepted = Ok(());
    let mut resolved = Ok(());
    let protocol = match l.protocol.as_str() {
        "HTTP" => Protocol::Http,
        "HTTPS" => Protocol::Https,
        other => {
            accepted = Err((
                reason::UNSUPPORTED_PROTOCOL,
                format!("protocol {other} is not supported: use HTTP or HTTPS"),
            ));
            Protocol::Http
        }
    };
    let port = u16::try_from(l.port)
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or_else(|| {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                format!("port {} is not a TCP port", l.port),
            ));
            0
        });
    if let Some(h) = &l.hostname {
        if !hostnames::valid(h) {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                format!("hostname {h:?} is not a valid hostname"),
            ));
        }
    }
    let allowed = l.allowed_routes.clone().unwrap_or_default();
    let namespaces = allowed.namespaces.unwrap_or_default();
    let valid_kinds = ["HTTPRoute", "GRPCRoute"];
    let kinds: Vec<RouteGroupKind> = match &allowed.kinds {
        None => valid_kinds
            .iter()
            .map(|k| RouteGroupKind {
                group: GATEWAY_GROUP.into(),
                kind: k.to_string(),
            })
            .collect(),
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list {
                let group = k.group.clone().unwrap_or_else(|| GATEWAY_GROUP.to_string());
                if group == GATEWAY_GROUP && valid_kinds.contains(&k.kind.as_str()) {
                    kinds.push(RouteGroupKind {
                        group,
                        kind: k.kind.clone(),
                    });
                } else {
                    resolved = Err((
                        reason::INVALID_ROUTE_KINDS,
                        format!(
                            "route kind {} of group {group:?} is not supported on {} listeners",
                            k.kind, l.protocol
                        ),
                    ));
                }
            }
            kinds
        }
    };
    if protocol == Protocol::Https && accepted.is_ok() {
        let tls = l.tls.clone().unwrap_or_default();
        if tls.mode == Some(GatewayListenersTlsMode::Passthrough) {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                "tls.mode Passthrough is not supported on HTTPS listeners".to_string(),
            ));
        } else if let Err(e) = certificate_refs(&tls, ns, snapshot) {
            resolved = Err(e);
        }
    }
    ListenerBuild {
        name: l.name.clone(),
        port,
        protocol,
        hostname: l.hostname.clone(),
        kinds,
        from: namespaces
            .from
            .unwrap_or(GatewayListenersAllowedRoutesNamespacesFrom::Same),
        selector: namespaces
            .selector
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| serde_json::from_value(v).ok()),
        accepted,
        resolved,
        conflicted: None,
        attached: 0,
    }
}

/// HTTPS listeners terminate TLS with `kubernetes.io/tls` Secrets, in the Gateway's namespace or
/// where a ReferenceGrant allows.
fn certificate_refs(
    tls: &gateway_api::apis::standard::gateways::GatewayListenersTls,
    ns: &str,
    snapshot: &Snapshot,
) -> Result<(), (&'static str, String)> {
    let refs = tls.certificate_refs.clone().unwrap_or_default();
    if refs.is_empty() {
        return Err((
            reason::INVALID_CERTIFICATE_REF,
            "an HTTPS listener needs tls.certificateRefs".to_string(),
        ));
    }
    for r in refs {
        let group = r.group.as_deref().unwrap_or("");
        let kind = r.kind.as_deref().unwrap_or("Secret");
        let secret_ns = r.namespace.clone().unwrap_or_else(|| ns.to_string());
        if !group.is_empty() || kind != "Secret" {
            return Err((
                reason::INVALID_CERTIFICATE_REF,
                format!(
                    "certificateRef {} is a {kind} of group {group:?}: only Secrets are supported",
                    r.name
                ),
            ));
        }
        if secret_ns != ns
            && !backends::permitted(
                snapshot,
                Kind::Gateway,
                ns,
                Kind::Secret,
                &secret_ns,
                &r.name,
            )
        {
            return Err((reason::REF_NOT_PERMITTED, format!("certificateRef to Secret {secret_ns}/{} is not permitted: no ReferenceGrant in namespace {secret_ns} allows Gateways from namespace {ns}", r.name)));
        }
        let Some(secret) = snapshot.secret(&secret_ns, &r.name) else {
            return Err((
                reason::INVALID_CERTIFICATE_REF,
                format!("Secret {secret_ns}/{} does not exist", r.name),
            ));
        };
        let has = |key: &str| {
            secret
                .data
                .as_ref()
                .is_some_and(|d| d.get(key).is_some_and(|v| !v.0.is_empty()))
                || secret
                    .string_data
                    .as_ref()
                    .is_some_and(|d| d.get(key).is_some_and(|v| !v.is_empty()))
        };
        if secret.type_.as_deref() != Some("kubernetes.io/tls")
            || !has("tls.crt")
            || !has("tls.key")
        {
            return Err((reason::INVALID_CERTIFICATE_REF, format!("Secret {secret_ns}/{} is not a kubernetes.io/tls Secret with tls.crt and tls.key", r.name)));
        }
    }
    Ok(())
}

/// Whether a namespace's labels (with the `kubernetes.io/metadata.name` label every namespace
/// carries) satisfy a label selector.
fn namespace_selected(
    snapshot: &Snapshot,
    namespace: &str,
    selector: Option<&pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let mut labels = snapshot
        .namespace(namespace)
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default();
    labels.insert(
        "kubernetes.io/metadata.name".to_string(),
        namespace.to_string(),
    );
    let match_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let match_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    match_labels && match_expressions
}

/// A route's rules on one listener, one IR rule per (match, hostname), with their precedence keys.
fn candidates(
    route: &RouteView,
    hostnames: &[Option<String>],
    backends: &mut Backends<'_>,
) -> Vec<(precedence::Key, Rule)> {
    let mut out = Vec::new();
    for (ri, rule) in route.rules.iter().enumerate() {
        if rule.invalid.is_some() {
            continue;
        }
        for (mi, m) in rule.matches.iter().enumerate() {
            let prefix = single_prefix(rule).or_else(|| m.prefix.clone());
            let Ok(filters) = backends::filters(&rule.filters, prefix.as_deref(), backends) else {
                continue;
            };
            let action = match filters.redirect.clone() {
                Some(redirect) => redirect,
                None => {
                    let mut target_groups = Vec::new();
                    let mut unusable_weight = 0;
                    for b in &rule.backends {
                        match backends.resolve(
                            b.group.as_deref(),
                            b.kind.as_deref(),
                            &b.name,
                            b.namespace.as_deref(),
                            b.port,
                        ) {
                            Ok(id) => {
                                let own =
                                    backends::filters(&b.filters, prefix.as_deref(), backends)
                                        .map(|f| f.filters)
                                        .unwrap_or_default();
                                target_groups.push(WeightedTargetGroup {
                                    id,
                                    weight: b.weight,
                                    filters: own,
                                });
                            }
                            Err(_) => unusable_weight += b.weight,
                        }
                    }
                    Action::Forward {
                        target_groups,
                        unusable_weight,
                    }
                }
            };
            for host in hostnames {
                let mut conditions: Vec<Condition> = host
                    .iter()
                    .map(|h| Condition::HostHeader {
                        values: vec![h.clone()],
                    })
                    .collect();
                conditions.extend(m.conditions.iter().cloned());
                conditions.extend(filters.conditions.iter().cloned());
                let key = precedence::Key {
                    hostname: host.clone(),
                    rank: m.rank,
                    created: route.created.clone(),
                    route: (
                        route.object.namespace.clone().unwrap_or_default(),
                        route.object.name.clone(),
                    ),
                    rule: ri,
                    matched: mi,
                };
                out.push((
                    key,
                    Rule {
                        priority: 0,
                        origin: RuleOrigin {
                            object: route.object.clone(),
                            field: format!("spec.rules[{ri}].matches[{mi}]"),
                        },
                        conditions,
                        filters: filters.filters.clone(),
                        timeouts: rule.timeouts.clone(),
                        action: action.clone(),
                    },
                ));
            }
        }
    }
    out
}
