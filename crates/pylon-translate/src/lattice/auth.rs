//! IAMAuthPolicy: an IAM policy on a service network (targetRef Gateway) or a service (targetRef
//! HTTPRoute or GRPCRoute) sets its auth type to `AWS_IAM`, checked and parsed here once. A policy
//! that cannot be evaluated keeps what it protects from being served (fail closed).

use super::policy_status;
use super::target_groups::CONFLICTED;
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
    let mut policies: Vec<_> = snapshot.iam_auth_policies().collect();
    // The oldest policy of a target applies; names break ties.
    policies.sort_by(|a, b| {
        (&a.metadata.creation_timestamp, &a.metadata.name)
            .cmp(&(&b.metadata.creation_timestamp, &b.metadata.name))
    });
    for policy in policies {
        let namespace = policy.metadata.namespace.as_deref().unwrap_or("default");
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        let me = ObjectRef::namespaced(Kind::IAMAuthPolicy, namespace, name);
        let g = policy.metadata.generation.unwrap_or(0);
        let mut verdict = |ok: bool, why: &'static str, message: String| {
            if !ok {
                problems.push(Problem::error(
                    Some(me.clone()),
                    None,
                    format!("{why}: {message}"),
                ));
            }
            statuses.push(policy_status(&me, g, ok, why, message));
        };
        let target = &policy.spec.target_ref;
        let kind = match (target.group.as_str(), target.kind.as_str()) {
            ("gateway.networking.k8s.io", "Gateway") => Kind::Gateway,
            ("gateway.networking.k8s.io", "HTTPRoute") => Kind::HTTPRoute,
            ("gateway.networking.k8s.io", "GRPCRoute") => Kind::GRPCRoute,
            (group, kind) => {
                verdict(false, reason::INVALID, format!("spec.targetRef: an IAMAuthPolicy targets a Gateway, HTTPRoute or GRPCRoute of group gateway.networking.k8s.io, not {kind} of group {group:?}"));
                continue;
            }
        };
        // The target is in the policy's namespace, where the controller looks for it.
        let target = ObjectRef::namespaced(kind, namespace, &target.name);
        if snapshot.get(&target).is_none() {
            verdict(
                false,
                super::target_groups::TARGET_NOT_FOUND,
                format!("{target} does not exist"),
            );
            continue;
        }
        if out.contains_key(&target) {
            verdict(
                false,
                CONFLICTED,
                format!("another IAMAuthPolicy already applies to {target}"),
            );
            continue;
        }
        match pylon_iam::Policy::parse(&policy.spec.policy) {
            Ok(_) => {
                verdict(true, reason::ACCEPTED, format!("{target} has auth type AWS_IAM with this policy; signed requests are refused until SigV4 signatures are verified"));
                out.insert(target, Attached::Policy(policy.spec.policy.clone()));
            }
            Err(e) => {
                verdict(false, reason::INVALID, format!("spec.policy: {e}"));
                out.insert(
                    target,
                    Attached::Invalid(format!("IAMAuthPolicy {namespace}/{name} is invalid ({e})")),
                );
            }
        }
    }
    out
}
