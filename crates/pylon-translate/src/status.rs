//! Kubernetes-shaped statuses for the objects Pylon handles.

use crate::gateway::status::{
    reason, Condition, GatewayAddress, GatewayClassStatus, GatewayStatus, RouteStatus,
};
use pylon_ir::Ir;
use pylon_model::k8s_openapi::api::networking::v1::{
    IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressPortStatus, IngressStatus,
};
use pylon_model::{Kind, ObjectRef};
use serde::Serialize;
use std::collections::BTreeMap;

/// The status one object should carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectStatus {
    #[serde(flatten)]
    pub object: ObjectRef,
    pub status: Status,
}

/// A status in the shape of the object's own `status` field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Status {
    Ingress(IngressStatus),
    GatewayClass(GatewayClassStatus),
    Gateway(GatewayStatus),
    Route(RouteStatus),
    Policy(PolicyStatus),
}

/// A policy's status: its conditions (Accepted, with the reason).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyStatus {
    pub conditions: Vec<Condition>,
}

/// One status per route: the parents of a route that both the ALB and the Lattice class serve
/// come together (`statuses` sorted by object).
pub fn merge_route_parents(statuses: &mut Vec<ObjectStatus>) {
    statuses.dedup_by(|next, kept| {
        if next.object != kept.object {
            return false;
        }
        match (&mut kept.status, &mut next.status) {
            (Status::Route(kept), Status::Route(next)) => {
                kept.parents.append(&mut next.parents);
                true
            }
            _ => false,
        }
    });
}

/// `PortStatus.error` for a listener that could not be bound (CamelCase, as the field asks).
pub const LISTENER_NOT_BOUND: &str = "ListenerNotBound";

impl ObjectStatus {
    /// Folds the data plane's bind results into the status: a listener port that failed gets
    /// `error` set; when no listener is bound the address is withdrawn, since nothing answers there.
    pub fn with_unbound_ports(mut self, unbound: &BTreeMap<u16, String>) -> Self {
        match &mut self.status {
            Status::Ingress(status) => {
                let Some(lb) = status.load_balancer.as_mut() else {
                    return self;
                };
                let Some(entries) = lb.ingress.as_mut() else {
                    return self;
                };
                for entry in entries.iter_mut() {
                    for port in entry.ports.iter_mut().flatten() {
                        if unbound.contains_key(&(port.port as u16)) {
                            port.error = Some(LISTENER_NOT_BOUND.to_string());
                        }
                    }
                }
                entries.retain(|e| e.ports.iter().flatten().any(|p| p.error.is_none()));
                if entries.is_empty() {
                    lb.ingress = None;
                }
            }
            Status::Gateway(status) => {
                let mut any_bound = false;
                for listener in &mut status.listeners {
                    let programmed = listener
                        .conditions
                        .iter_mut()
                        .find(|c| c.type_ == reason::PROGRAMMED);
                    match (unbound.get(&listener.port), programmed) {
                        (Some(why), Some(c)) if c.status == "True" => {
                            *c = Condition::new(
                                reason::PROGRAMMED,
                                false,
                                reason::INVALID,
                                why.clone(),
                                c.observed_generation,
                            );
                        }
                        (None, Some(c)) if c.status == "True" => any_bound = true,
                        _ => {}
                    }
                }
                if !any_bound && !unbound.is_empty() {
                    if let Some(c) = status
                        .conditions
                        .iter_mut()
                        .find(|c| c.type_ == reason::PROGRAMMED && c.status == "True")
                    {
                        let why: Vec<&str> = unbound.values().map(String::as_str).collect();
                        *c = Condition::new(
                            reason::PROGRAMMED,
                            false,
                            reason::ADDRESS_NOT_USABLE,
                            why.join("; "),
                            c.observed_generation,
                        );
                    }
                }
            }
            Status::GatewayClass(_) | Status::Route(_) | Status::Policy(_) => {}
        }
        self
    }
}

/// Gives Gateway statuses their load balancer's address, or Programmed False when it has none.
pub fn fill_gateway_addresses(ir: &Ir, statuses: &mut [ObjectStatus]) {
    for s in statuses.iter_mut() {
        let Status::Gateway(status) = &mut s.status else {
            continue;
        };
        let Some(lb) = ir.load_balancers.iter().find(|lb| lb.origin == s.object) else {
            continue;
        };
        match lb.address {
            Some(_) => {
                status.addresses = lb
                    .addresses()
                    .map(|ip| GatewayAddress {
                        type_: "IPAddress".into(),
                        value: ip.to_string(),
                    })
                    .collect()
            }
            None => {
                if let Some(c) = status
                    .conditions
                    .iter_mut()
                    .find(|c| c.type_ == reason::PROGRAMMED)
                {
                    *c = Condition::new(
                        reason::PROGRAMMED,
                        false,
                        reason::ADDRESS_NOT_ASSIGNED,
                        "no free address in the pool",
                        c.observed_generation,
                    );
                }
            }
        }
    }
}

/// Statuses for every handled object: translated Ingresses carry their load balancer's address and
/// listener ports; Ingresses that could not be translated carry an empty load balancer status.
pub fn ingress_statuses(ir: &Ir, failed: &[ObjectRef]) -> Vec<ObjectStatus> {
    let mut out: Vec<ObjectStatus> = ir
        .load_balancers
        .iter()
        .filter(|lb| lb.origin.kind == Kind::Ingress.name())
        .flat_map(|lb| lb.owners().map(move |owner| (lb, owner)))
        .map(|(lb, owner)| {
            let ingress = lb
                .address
                .map(|_| lb.addresses())
                .into_iter()
                .flatten()
                .map(|ip| IngressLoadBalancerIngress {
                    ip: Some(ip.to_string()),
                    hostname: None,
                    ports: Some(
                        lb.listeners
                            .iter()
                            .map(|l| IngressPortStatus {
                                port: i32::from(l.port),
                                protocol: "TCP".to_string(),
                                error: None,
                            })
                            .collect(),
                    ),
                });
            ingress_status(owner.clone(), ingress.collect())
        })
        .chain(failed.iter().map(|r| ingress_status(r.clone(), vec![])))
        .collect();
    out.sort_by(|a, b| a.object.cmp(&b.object));
    out
}

fn ingress_status(object: ObjectRef, ingress: Vec<IngressLoadBalancerIngress>) -> ObjectStatus {
    ObjectStatus {
        object,
        status: Status::Ingress(IngressStatus {
            load_balancer: Some(IngressLoadBalancerStatus {
                ingress: (!ingress.is_empty()).then_some(ingress),
            }),
        }),
    }
}
