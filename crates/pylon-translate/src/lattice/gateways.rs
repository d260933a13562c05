//! The Lattice class's GatewayClasses and Gateways: which are handled, their listeners as the
//! controller takes them, and their statuses.

use super::{ANNOTATION, LATTICE_CONTROLLER};
use crate::gateway::listeners::{self, ListenerBuild};
use crate::gateway::status::{reason, Condition, GatewayClassStatus, GatewayStatus};
use crate::status::{ObjectStatus, Status};
use gateway_api::apis::standard::gateways::Gateway;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};

/// A Gateway of the Lattice class: one service network's presence in this cluster.
pub struct GatewayBuild<'s> {
    pub gateway: &'s Gateway,
    pub object: ObjectRef,
    /// The service network it makes (its name).
    pub network: &'s str,
    pub listeners: Vec<ListenerBuild>,
    /// `application-networking.k8s.aws/standalone: "true"`: its routes' services are in no
    /// service network.
    pub standalone: bool,
}

/// The annotation value `true`, as the controller reads it.
pub fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The Lattice class's Gateways with their listeners checked.
pub fn gateways<'s>(snapshot: &'s Snapshot, classes: &[&str]) -> Vec<GatewayBuild<'s>> {
    snapshot
        .gateways()
        .filter(|gw| classes.contains(&gw.spec.gateway_class_name.as_str()))
        .map(|gw| GatewayBuild {
            gateway: gw,
            object: ObjectRef::namespaced(
                Kind::Gateway,
                gw.metadata.namespace.as_deref().unwrap_or("default"),
                gw.metadata.name.as_deref().unwrap_or_default(),
            ),
            network: gw.metadata.name.as_deref().unwrap_or_default(),
            listeners: lattice_listeners(gw, snapshot),
            standalone: is_true(
                gw.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(&format!("{ANNOTATION}standalone"))),
            ),
        })
        .collect()
}

/// Gateway listeners as Lattice takes them: HTTP, and HTTPS terminated with the certificates of
/// `certificateRefs`. An HTTPS listener that names only an ACM certificate
/// (`application-networking.k8s.aws/certificate-arn`) is not served, and says why.
fn lattice_listeners(gw: &Gateway, snapshot: &Snapshot) -> Vec<ListenerBuild> {
    let mut builds = listeners::listeners(gw, snapshot);
    for (build, spec) in builds.iter_mut().zip(&gw.spec.listeners) {
        let tls = spec.tls.as_ref();
        let arn = tls
            .and_then(|t| t.options.as_ref())
            .and_then(|o| o.get(&format!("{ANNOTATION}certificate-arn")));
        let no_refs = tls.is_none_or(|t| t.certificate_refs.as_ref().is_none_or(Vec::is_empty));
        if let (Some(arn), true) = (arn, no_refs) {
            build.resolved = Err((
                reason::INVALID_CERTIFICATE_REF,
                format!("the ACM certificate {arn} cannot be resolved here: give the listener tls.certificateRefs to a kubernetes.io/tls Secret"),
            ));
        }
        if spec.protocol == "TLS" {
            build.accepted = Err((
                reason::UNSUPPORTED_PROTOCOL,
                "TLS passthrough listeners are not served yet: they wait for TLSRoute".into(),
            ));
        }
    }
    builds
}

/// Each listener that cannot be served, as a problem on its Gateway.
pub fn listener_problems(build: &GatewayBuild<'_>, problems: &mut Vec<Problem>) {
    for (i, l) in build.listeners.iter().enumerate() {
        if let Err((_, why)) = l.accepted.as_ref().and(l.resolved.as_ref()) {
            problems.push(Problem::error(
                Some(build.object.clone()),
                Some(format!("spec.listeners[{i}]")),
                format!("listener {} is not served: {why}", l.name),
            ));
        }
    }
}

pub fn status(build: &GatewayBuild<'_>, network_id: &str) -> ObjectStatus {
    let g = build.gateway.metadata.generation.unwrap_or(0);
    let message = format!("service network {} ({network_id})", build.network);
    let accepted = if build.listeners.iter().all(ListenerBuild::usable) {
        Condition::new(reason::ACCEPTED, true, reason::ACCEPTED, message.clone(), g)
    } else {
        Condition::new(
            reason::ACCEPTED,
            true,
            reason::LISTENERS_NOT_VALID,
            format!("{message}; some listeners are not valid"),
            g,
        )
    };
    ObjectStatus {
        object: build.object.clone(),
        status: Status::Gateway(GatewayStatus {
            addresses: Vec::new(),
            conditions: vec![
                accepted,
                Condition::new(reason::PROGRAMMED, true, reason::PROGRAMMED, message, g),
            ],
            listeners: build.listeners.iter().map(|l| l.status(true, g)).collect(),
        }),
    }
}

/// The GatewayClasses of the Lattice controller, each accepted.
pub fn classes<'a>(snapshot: &'a Snapshot, statuses: &mut Vec<ObjectStatus>) -> Vec<&'a str> {
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
