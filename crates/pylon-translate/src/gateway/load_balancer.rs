//! One Gateway: its LoadBalancerConfiguration, its listeners, which routes attach to it, the load
//! balancer it becomes and its status.

use super::backends::Backends;
use super::hostnames;
use super::listeners::{self, ListenerBuild};
use super::precedence;
use super::restrictions;
use super::routes::RouteView;
use super::status::{reason, Condition as StatusCondition, GatewayStatus};
use super::{Class, Flavor, GATEWAY_GROUP};
use crate::status::{ObjectStatus, Status};
use crate::{names, Options};
use gateway_api::apis::standard::gateways::{Gateway, GatewayListenersAllowedRoutesNamespacesFrom};
use gateway_api::apis::standard::httproutes::HttpRouteParentRefs;
use pylon_ir::{
    Action, Condition, IpAddressType, Listener, LoadBalancer, LoadBalancerAttributes, Protocol,
    Rule, RuleOrigin, Scheme, ServerCertificate, TargetGroup,
};
use pylon_model::aws::{LoadBalancerConfiguration, TargetGroupProps};
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// One Gateway being translated.
pub struct GatewayBuild {
    pub object: ObjectRef,
    pub generation: i64,
    pub flavor: Flavor,
    pub lb_id: String,
    /// `Err((reason, message))` when the Gateway is not accepted.
    pub accepted: Result<(), (&'static str, String)>,
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub name: Option<String>,
    pub idle_timeout_seconds: u32,
    pub default_props: Option<TargetGroupProps>,
    pub listeners: Vec<ListenerBuild>,
    pub requested: Option<IpAddr>,
    pub address_problem: Option<String>,
    /// Access restrictions of its LoadBalancerConfigurations, which fail closed.
    pub restrictions: crate::restriction::Restrictions,
    /// The problems that report them, and the LoadBalancerConfiguration settings ignored.
    pub restriction_problems: Vec<Problem>,
}

impl GatewayBuild {
    pub fn new(gw: &Gateway, class: &Class<'_>, snapshot: &Snapshot, options: &Options) -> Self {
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
            Some("internal") => Scheme::Internal,
            None => options.alb.default_scheme,
            Some(other) => {
                accepted = Err((reason::INVALID_PARAMETERS, format!("LoadBalancerConfiguration scheme {other:?} must be internal or internet-facing")));
                Scheme::Internal
            }
        };
        let ip_address_type = match pick(&|c| c.spec.ip_address_type.clone()).as_deref() {
            None => IpAddressType::Ipv4,
            Some(v) => IpAddressType::parse(v).unwrap_or_else(|| {
                accepted = Err((reason::INVALID_PARAMETERS, format!("LoadBalancerConfiguration ipAddressType {v:?} must be ipv4, dualstack or dualstack-without-public-ipv4")));
                IpAddressType::Ipv4
            }),
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
        let (restrictions, restriction_problems) = restrictions::read(&layers);
        let listeners = listeners::listeners(gw, snapshot);
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
            ip_address_type,
            name: pick(&|c| c.spec.load_balancer_name.clone()),
            idle_timeout_seconds,
            default_props,
            listeners,
            requested,
            address_problem,
            restrictions,
            restriction_problems,
            object,
        }
    }

    /// Which listeners a parentRef attaches the route to, or why none.
    pub fn attach(
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
                // A listener with unresolved references still counts the routes attached to it
                // (it serves none of them until its references resolve).
                let l = &self.listeners[i];
                l.usable()
                    && l.kinds
                        .iter()
                        .any(|k| k.kind == route.kind.name() && k.group == GATEWAY_GROUP)
                    && match l.from {
                        GatewayListenersAllowedRoutesNamespacesFrom::Same => route_ns == gw_ns,
                        GatewayListenersAllowedRoutesNamespacesFrom::All => true,
                        GatewayListenersAllowedRoutesNamespacesFrom::Selector => {
                            listeners::namespace_selected(snapshot, route_ns, l.selector.as_ref())
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

    pub fn load_balancer(
        &self,
        attached: &[(usize, usize)],
        routes: &[std::sync::Arc<RouteView>],
        snapshot: &Snapshot,
        options: &Options,
        problems: &mut Vec<Problem>,
    ) -> Option<LoadBalancer> {
        self.accepted.as_ref().ok()?;
        problems.extend(self.restriction_problems.iter().cloned());
        let ns = self.object.namespace.clone().unwrap_or_default();
        let mut target_groups = BTreeMap::new();
        // Per port: its protocol, candidate rules, and (HTTPS) the certificates of its listeners.
        type Port = (
            Protocol,
            Vec<(precedence::Key, Rule)>,
            Vec<ServerCertificate>,
        );
        let mut by_port: BTreeMap<u16, Port> = BTreeMap::new();
        for l in self.listeners.iter().filter(|l| l.programmed()) {
            let port = by_port
                .entry(l.port)
                .or_insert((l.protocol, vec![], vec![]));
            port.2.extend(l.certificates.iter().cloned());
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
                plaintext: listener.protocol == Protocol::Http,
                dualstack: !self.ip_address_type.is_ipv4(),
                target_groups: &mut target_groups,
                problems,
            };
            let hosts = self.isolated_hostnames(li, self.hostnames(li, route));
            let candidates = super::rules::candidates(route, &hosts, &mut backends);
            if let Some((_, rules, _)) = by_port.get_mut(&listener.port) {
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
            if let Some((_, rules, _)) = by_port.get_mut(&l.port) {
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
                        access_log: None,
                        auth: None,
                    },
                ));
            }
        }
        let listeners = by_port
            .into_iter()
            .map(|(port, (protocol, candidates, certificates))| {
                // Sorted by reference: rules are large, keys are compared many times.
                let (keys, mut unsorted): (Vec<_>, Vec<_>) =
                    candidates.into_iter().map(|(k, r)| (k, Some(r))).unzip();
                let mut order: Vec<usize> = (0..keys.len()).collect();
                order.sort_by(|&a, &b| precedence::compare(&keys[a], &keys[b]));
                let mut rules: Vec<Rule> = order
                    .into_iter()
                    .filter_map(|i| unsorted[i].take())
                    .collect();
                // The same rule reached through two listeners of one port counts once.
                rules.dedup();
                for (i, rule) in rules.iter_mut().enumerate() {
                    rule.priority = i as u32 + 1;
                }
                let mut listener = Listener {
                    id: format!("{}/listener/{port}", self.lb_id),
                    protocol,
                    port,
                    rules,
                    default_action: Action::fixed(404, None),
                    certificates,
                };
                // A restriction Pylon cannot enforce keeps the listener from being served.
                self.restrictions.close(&mut listener);
                listener
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
            members: vec![],
            scheme: self.scheme,
            address: None,
            ip_address_type: self.ip_address_type,
            address_v6: None,
            attributes: LoadBalancerAttributes {
                idle_timeout_seconds: self.idle_timeout_seconds,
            },
            listeners,
            target_groups: target_groups
                .into_iter()
                .collect::<BTreeMap<String, TargetGroup>>(),
        })
    }

    pub fn status(&self) -> ObjectStatus {
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
            .map(|l| l.status(self.accepted.is_ok(), g))
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
