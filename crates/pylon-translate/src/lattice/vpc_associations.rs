//! VpcAssociationPolicy (targetRef Gateway): whether the cluster's VPC is associated with the
//! Gateway's service network (`associateWithVpc`, default true), and with which security groups.
//! A network not associated is not served here: no address, no DNS answers.

use super::policies::{self, CONFLICTED, TARGET_NOT_FOUND};
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
    let each = snapshot.vpc_association_policies();
    policies::each(
        each,
        |p| &p.metadata,
        Kind::VpcAssociationPolicy,
        problems,
        statuses,
        |policy, reading| {
            let target = &policy.spec.target_ref;
            if policies::gateway_target(&target.group, &target.kind) != Some(Kind::Gateway) {
                reading.verdict(false, reason::INVALID, Some("spec.targetRef"), format!("a VpcAssociationPolicy targets a Gateway of group gateway.networking.k8s.io, not {} of group {:?}", target.kind, target.group));
                return;
            }
            let gateway = ObjectRef::namespaced(Kind::Gateway, &reading.namespace, &target.name);
            if snapshot.get(&gateway).is_none() {
                reading.verdict(
                    false,
                    TARGET_NOT_FOUND,
                    Some("spec.targetRef"),
                    format!("{gateway} does not exist"),
                );
                return;
            }
            let groups = policy.spec.security_group_ids.clone();
            if let Some(groups) = &groups {
                let bad = groups.iter().find(|id| {
                    !id.strip_prefix("sg-").is_some_and(|hex| {
                        !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
                    })
                });
                if groups.is_empty() || bad.is_some() {
                    reading.verdict(
                        false,
                        reason::INVALID,
                        Some("spec.securityGroupIds"),
                        format!(
                            "{} is not a list of security group ids (sg-…)",
                            bad.map_or("an empty list", String::as_str)
                        ),
                    );
                    return;
                }
            }
            if out.contains_key(&gateway) {
                reading.verdict(
                    false,
                    CONFLICTED,
                    Some("spec.targetRef"),
                    format!("another VpcAssociationPolicy already applies to {gateway}"),
                );
                return;
            }
            let associate = policy.spec.associate_with_vpc.unwrap_or(true);
            let groups = groups.unwrap_or_default();
            let message = match (associate, groups.is_empty()) {
            (false, _) => "the service network is not associated with this cluster's VPC: it is not served here".to_string(),
            (true, true) => "associated with this cluster's VPC".to_string(),
            (true, false) => format!("associated with this cluster's VPC; security groups {} have no counterpart here (every source that reaches the address is let through)", groups.join(", ")),
        };
            reading.verdict(true, reason::ACCEPTED, None, message);
            out.insert(gateway, associate);
        },
    );
    out
}

/// Whether a network of these Gateways is associated: unless a policy on one says not.
pub fn associated(gateways: &[ObjectRef], policies: &BTreeMap<ObjectRef, bool>) -> bool {
    !gateways.iter().any(|g| policies.get(g) == Some(&false))
}
