//! Ingress → load balancer, with the AWS Load Balancer Controller's semantics: one load balancer
//! per IngressGroup (`group.name`; an Ingress without one is a group of its own), a listener per
//! port of its members' `listen-ports`, their rules as ordered ALB rules in the group's order, a
//! target group per Ingress, Service and port.

mod actions;
mod annotations;
mod group;
mod load_balancer;
mod member;
mod restrictions;
mod rules;
mod tls;

use crate::Options;
use pylon_ir::LoadBalancer;
use pylon_model::k8s_openapi::api::networking::v1::Ingress;
use pylon_model::{ObjectRef, Problem, Snapshot};

/// The controller name an IngressClass must carry for Pylon to handle its Ingresses.
pub const CONTROLLER: &str = "ingress.k8s.aws/alb";
/// The class name the ALB controller handles without an IngressClass object.
pub const CLASS: &str = "alb";
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Whether an Ingress is ours: the legacy `kubernetes.io/ingress.class: alb` annotation; or
/// `spec.ingressClassName` naming an IngressClass of controller `ingress.k8s.aws/alb` (or `alb`
/// when no such IngressClass exists); or no class at all while the default IngressClass is ours.
pub fn is_handled(ing: &Ingress, snapshot: &Snapshot) -> bool {
    let annotation = ing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
    if let Some(class) = annotation {
        return class == CLASS;
    }
    let ours = |c: &pylon_model::k8s_openapi::api::networking::v1::IngressClass| {
        c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
    };
    match ing
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
    {
        Some(name) => match snapshot.ingress_class(name) {
            Some(class) => ours(class),
            None => name == CLASS,
        },
        None => snapshot.ingress_classes().any(|c| {
            ours(c)
                && c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .map(String::as_str)
                    == Some("true")
        }),
    }
}

/// Translates every Ingress of ours: the load balancers of their groups, and the Ingresses that
/// are not served (their group has errors, each reported in `problems`).
pub fn translate(
    snapshot: &Snapshot,
    options: &Options,
    problems: &mut Vec<Problem>,
) -> (Vec<LoadBalancer>, Vec<ObjectRef>) {
    let ours = snapshot.ingresses().filter(|i| is_handled(i, snapshot));
    let (groups, mut failed) = group::groups(ours, problems);
    let mut load_balancers = Vec::new();
    for g in &groups {
        match load_balancer::translate(g, snapshot, options, problems) {
            Some(lb) => load_balancers.push(lb),
            None => failed.extend(g.members.iter().map(|m| m.origin.clone())),
        }
    }
    (load_balancers, failed)
}
