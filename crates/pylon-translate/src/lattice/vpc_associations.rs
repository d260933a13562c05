//! VpcAssociationPolicy (targetRef Gateway): whether the cluster's VPC is associated with the
//! Gateway's service network (`associateWithVpc`, default true), and with which security groups.
//! A network not associated is not served here: no address, no DNS answers.

use super::policy_status;
use super::target_groups::{CONFLICTED, TARGET_NOT_FOUND};
use crate::gateway::status::reason;
use crate::status::ObjectStatus;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// `associateWithVpc` by Gateway.
pub fn read(
    snapshot: &Snapshot,
    problems: &mut Vec<Problem>,
    statuses: &mut Vec<ObjectStatus>,
) -> BTreeMap<ObjectRef, bool> {
    let mut out = BTreeMap::new();
    let mut policies: Vec<_> = snapshot.vpc_association_policies().collect();
    policies.sort_by(|a, b| {
        (&a.metadata.creation_timestamp, &a.metadata.name)
            .cmp(&(&b.metadata.creation_timestamp, &b.metadata.name))
    });
    for policy in policies {
        let namespace = policy.metadata.namespace.as_deref().unwrap_or("default");
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        let me = ObjectRef::namespaced(Kind::VpcAssociationPolicy, namespace, name);
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
        if target.group != "gateway.networking.k8s.io" || target.kind != "Gateway" {
            verdict(false, reason::INVALID, format!("spec.targetRef: a VpcAssociationPolicy targets a Gateway of group gateway.networking.k8s.io, not {} of group {:?}", target.kind, target.group));
            continue;
        }
        let gateway = ObjectRef::namespaced(Kind::Gateway, namespace, &target.name);
        if snapshot.get(&gateway).is_none() {
            verdict(false, TARGET_NOT_FOUND, format!("{gateway} does not exist"));
            continue;
        }
        if let Some(groups) = &policy.spec.security_group_ids {
            let bad = groups.iter().find(|id| {
                !id.strip_prefix("sg-").is_some_and(|hex| {
                    !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
                })
            });
            if groups.is_empty() || bad.is_some() {
                verdict(
                    false,
                    reason::INVALID,
                    format!(
                        "spec.securityGroupIds: {} is not a list of security group ids (sg-…)",
                        bad.map_or("an empty list", String::as_str)
                    ),
                );
                continue;
            }
        }
        if out.contains_key(&gateway) {
            verdict(
                false,
                CONFLICTED,
                format!("another VpcAssociationPolicy already applies to {gateway}"),
            );
            continue;
        }
        let associate = policy.spec.associate_with_vpc.unwrap_or(true);
        let groups = policy.spec.security_group_ids.clone().unwrap_or_default();
        verdict(
            true,
            reason::ACCEPTED,
            match (associate, groups.is_empty()) {
                (false, _) => "the service network is not associated with this cluster's VPC: it is not served here".to_string(),
                (true, true) => "associated with this cluster's VPC".to_string(),
                (true, false) => format!("associated with this cluster's VPC; security groups {} have no counterpart here (every source that reaches the address is let through)", groups.join(", ")),
            },
        );
        out.insert(gateway, associate);
    }
    out
}

/// Whether a network of these Gateways is associated: unless a policy on one says not.
pub fn associated(gateways: &[ObjectRef], policies: &BTreeMap<ObjectRef, bool>) -> bool {
    !gateways.iter().any(|g| policies.get(g) == Some(&false))
}
