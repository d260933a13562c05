//! What every Lattice policy kind shares: read oldest first (names break ties), and a verdict
//! that is both the policy's Accepted condition and, when it refuses, a problem.

use crate::gateway::status::{reason, Condition};
use crate::status::{ObjectStatus, PolicyStatus, Status};
use pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pylon_model::{Kind, ObjectRef, Problem};

/// Policy reasons beyond the Gateway API's route reasons.
pub const CONFLICTED: &str = "Conflicted";
pub const TARGET_NOT_FOUND: &str = "TargetNotFound";

/// One policy being read.
pub struct Reading<'a> {
    pub object: ObjectRef,
    pub namespace: String,
    generation: i64,
    problems: &'a mut Vec<Problem>,
    statuses: &'a mut Vec<ObjectStatus>,
}

impl Reading<'_> {
    /// The policy's Accepted condition; a refusal is also a problem, naming `field`.
    pub fn verdict(&mut self, ok: bool, why: &'static str, field: Option<&str>, message: String) {
        if !ok {
            self.problems.push(Problem::error(
                Some(self.object.clone()),
                field.map(str::to_string),
                format!("{why}: {message}"),
            ));
        }
        self.statuses.push(ObjectStatus {
            object: self.object.clone(),
            status: Status::Policy(PolicyStatus {
                conditions: vec![Condition::new(
                    reason::ACCEPTED,
                    ok,
                    why,
                    message,
                    self.generation,
                )],
            }),
        });
    }
}

/// Calls `read` for each policy of `kind`, oldest first.
pub fn each<'s, P: 's>(
    policies: impl Iterator<Item = &'s P>,
    metadata: fn(&P) -> &ObjectMeta,
    kind: Kind,
    problems: &mut Vec<Problem>,
    statuses: &mut Vec<ObjectStatus>,
    mut read: impl FnMut(&'s P, &mut Reading<'_>),
) {
    let mut policies: Vec<&P> = policies.collect();
    policies.sort_by(|a, b| {
        let (a, b) = (metadata(a), metadata(b));
        (&a.creation_timestamp, &a.name).cmp(&(&b.creation_timestamp, &b.name))
    });
    for policy in policies {
        let meta = metadata(policy);
        let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
        let mut reading = Reading {
            object: ObjectRef::namespaced(
                kind,
                &namespace,
                meta.name.as_deref().unwrap_or_default(),
            ),
            namespace,
            generation: meta.generation.unwrap_or(0),
            problems: &mut *problems,
            statuses: &mut *statuses,
        };
        read(policy, &mut reading);
    }
}

/// A Gateway, HTTPRoute or GRPCRoute target (group `gateway.networking.k8s.io`).
pub fn gateway_target(group: &str, kind: &str) -> Option<Kind> {
    match (group, kind) {
        ("gateway.networking.k8s.io", "Gateway") => Some(Kind::Gateway),
        ("gateway.networking.k8s.io", "HTTPRoute") => Some(Kind::HTTPRoute),
        ("gateway.networking.k8s.io", "GRPCRoute") => Some(Kind::GRPCRoute),
        _ => None,
    }
}
