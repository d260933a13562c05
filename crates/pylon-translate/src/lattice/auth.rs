//! IAMAuthPolicy: an IAM policy on a service network (targetRef Gateway) or a service (targetRef
//! HTTPRoute or GRPCRoute) sets its auth type to `AWS_IAM`, checked and parsed here once. A policy
//! that cannot be evaluated keeps what it protects from being served (fail closed).

use super::policies::{self, CONFLICTED, TARGET_NOT_FOUND};
use crate::gateway::status::reason;
use crate::status::ObjectStatus;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// What a Gateway or route has attached.
pub enum Attached {
    /// A valid policy document: its requests are decided by it.
    Policy(String),
    /// A policy that cannot be evaluated, and why.
    Invalid(String),
}

pub fn read(
    snapshot: &Snapshot,
    problems: &mut Vec<Problem>,
    statuses: &mut Vec<ObjectStatus>,
) -> BTreeMap<ObjectRef, Attached> {
    let mut out = BTreeMap::new();
    let each = snapshot.iam_auth_policies();
    policies::each(
        each,
        |p| &p.metadata,
        Kind::IAMAuthPolicy,
        problems,
        statuses,
        |policy, reading| {
            let target = &policy.spec.target_ref;
            let Some(kind) = policies::gateway_target(&target.group, &target.kind) else {
                reading.verdict(false, reason::INVALID, Some("spec.targetRef"), format!("an IAMAuthPolicy targets a Gateway, HTTPRoute or GRPCRoute of group gateway.networking.k8s.io, not {} of group {:?}", target.kind, target.group));
                return;
            };
            // The target is in the policy's namespace, where the controller looks for it.
            let target = ObjectRef::namespaced(kind, &reading.namespace, &target.name);
            if snapshot.get(&target).is_none() {
                reading.verdict(
                    false,
                    TARGET_NOT_FOUND,
                    Some("spec.targetRef"),
                    format!("{target} does not exist"),
                );
                return;
            }
            if out.contains_key(&target) {
                reading.verdict(
                    false,
                    CONFLICTED,
                    Some("spec.targetRef"),
                    format!("another IAMAuthPolicy already applies to {target}"),
                );
                return;
            }
            match pylon_iam::Policy::parse(&policy.spec.policy) {
                Ok(_) => {
                    reading.verdict(true, reason::ACCEPTED, None, format!("{target} has auth type AWS_IAM with this policy; signed requests are refused until SigV4 signatures are verified"));
                    out.insert(target, Attached::Policy(policy.spec.policy.clone()));
                }
                Err(e) => {
                    reading.verdict(false, reason::INVALID, Some("spec.policy"), e.to_string());
                    let name = reading.object.to_string();
                    out.insert(
                        target,
                        Attached::Invalid(format!("{name} is invalid ({e})")),
                    );
                }
            }
        },
    );
    out
}
