//! AccessLogPolicy: access logs of a service network (targetRef Gateway) or a service (targetRef
//! HTTPRoute or GRPCRoute), written as Lattice writes them to a local file that stands for the
//! destination: a CloudWatch Logs log group, an S3 bucket or a Firehose delivery stream.

use super::names::{self, Arns};
use super::ANNOTATION;
use crate::gateway::status::reason;
use crate::status::ObjectStatus;
use crate::ObjectAnnotations;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

use super::policies::{self, CONFLICTED, TARGET_NOT_FOUND};

/// What the access-log policies decided.
#[derive(Default)]
pub struct AccessLogs {
    /// Destinations (paths under the access-log directory) by the Gateway or route they log.
    pub by_target: BTreeMap<ObjectRef, Vec<String>>,
    pub statuses: Vec<ObjectStatus>,
    /// Each accepted policy's access-log subscription ARN, as the controller annotates it.
    pub annotations: Vec<ObjectAnnotations>,
}

/// Where a destination ARN's lines go, under the access-log directory, and its type:
/// `cloudwatch/<log group>.log`, `s3/<bucket>[/<prefix>]/access.log` or
/// `firehose/<delivery stream>.log`.
pub fn destination(arn: &str) -> Result<(&'static str, String), String> {
    let bad = || {
        format!("destinationArn {arn:?} is not an S3 bucket, CloudWatch Logs log group or Firehose delivery stream ARN")
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, service, _region, _account, resource] = parts.as_slice() else {
        return Err(bad());
    };
    if parts[0] != "arn" || partition.is_empty() {
        return Err(bad());
    }
    let (kind, path) = match (*service, *resource) {
        ("s3", bucket) if !bucket.is_empty() => ("s3", format!("s3/{bucket}/access.log")),
        ("logs", group) => match group.strip_prefix("log-group:") {
            Some(name) if !name.is_empty() => (
                "cloudwatch",
                format!(
                    "cloudwatch/{}.log",
                    name.trim_end_matches(":*").trim_start_matches('/')
                ),
            ),
            _ => return Err(bad()),
        },
        ("firehose", stream) => match stream.strip_prefix("deliverystream/") {
            Some(name) if !name.is_empty() => ("firehose", format!("firehose/{name}.log")),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    // Log group names may hold `/`; nothing may climb out of the directory.
    let safe = path
        .split('/')
        .all(|c| !c.is_empty() && c != "." && c != "..");
    if !safe {
        return Err(bad());
    }
    Ok((kind, path))
}

/// Reads every AccessLogPolicy: accepted ones log their target; the others say why not.
pub fn read(
    snapshot: &Snapshot,
    lattice_gateways: &[ObjectRef],
    arns: &Arns<'_>,
    problems: &mut Vec<Problem>,
) -> AccessLogs {
    let mut out = AccessLogs::default();
    // (target, destination type) → the policy that has it; the oldest keeps it.
    let mut taken: BTreeMap<(ObjectRef, &str), String> = BTreeMap::new();
    let (mut statuses, mut by_target, mut annotations) = (Vec::new(), BTreeMap::new(), Vec::new());
    let each = snapshot.access_log_policies();
    policies::each(
        each,
        |p| &p.metadata,
        Kind::AccessLogPolicy,
        problems,
        &mut statuses,
        |policy, reading| {
            let target = &policy.spec.target_ref;
            let Some(kind) = policies::gateway_target(&target.group, &target.kind) else {
                reading.verdict(false, reason::INVALID, Some("spec.targetRef"), format!("an AccessLogPolicy targets a Gateway, HTTPRoute or GRPCRoute of group gateway.networking.k8s.io, not {} of group {:?}", target.kind, target.group));
                return;
            };
            let (dest_type, path) = match destination(&policy.spec.destination_arn) {
                Ok(d) => d,
                Err(why) => {
                    reading.verdict(false, reason::INVALID, Some("spec.destinationArn"), why);
                    return;
                }
            };
            // The target is in the policy's namespace, as the CRD documents.
            let target_ref = ObjectRef::namespaced(
                kind,
                target.namespace.as_deref().unwrap_or(&reading.namespace),
                &target.name,
            );
            let found = match kind {
                Kind::Gateway => lattice_gateways.contains(&target_ref),
                _ => snapshot.get(&target_ref).is_some(),
            };
            if !found {
                reading.verdict(
                    false,
                    TARGET_NOT_FOUND,
                    Some("spec.targetRef"),
                    format!("{target_ref} does not exist (or is not of the VPC Lattice class)"),
                );
                return;
            }
            let name = reading.object.name.clone();
            if let Some(first) = taken.get(&(target_ref.clone(), dest_type)) {
                reading.verdict(false, CONFLICTED, Some("spec.destinationArn"), format!("AccessLogPolicy {first} already sends {target_ref}'s logs to a {dest_type} destination"));
                return;
            }
            taken.insert((target_ref.clone(), dest_type), name.clone());
            by_target
                .entry(target_ref)
                .or_insert_with(Vec::new)
                .push(path.clone());
            let id = names::hex17(&["accesslogsubscription", &reading.namespace, &name]);
            annotations.push(ObjectAnnotations {
                object: reading.object.clone(),
                annotations: BTreeMap::from([(
                    format!("{ANNOTATION}accessLogSubscription"),
                    arns.arn(&format!("accesslogsubscription/als-{id}")),
                )]),
            });
            reading.verdict(
                true,
                reason::ACCEPTED,
                None,
                format!("logging to {} (as {path})", policy.spec.destination_arn),
            );
        },
    );
    out.statuses = statuses;
    out.by_target = by_target;
    out.annotations = annotations;
    out
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn destination_arns_map_to_files() {
        assert_eq!(
            destination("arn:aws:s3:::my-logs"),
            Ok(("s3", "s3/my-logs/access.log".into()))
        );
        assert_eq!(
            destination("arn:aws:logs:us-west-2:123456789012:log-group:/aws/lattice/mesh:*"),
            Ok(("cloudwatch", "cloudwatch/aws/lattice/mesh.log".into()))
        );
        assert_eq!(
            destination("arn:aws:firehose:us-west-2:123456789012:deliverystream/lattice"),
            Ok(("firehose", "firehose/lattice.log".into()))
        );
        for bad in [
            "my-logs",
            "arn:aws:sqs:us-west-2:123456789012:queue",
            "arn:aws:logs:us-west-2:123456789012:log-group:../../etc",
            "arn:aws:s3:::",
        ] {
            assert!(destination(bad).is_err(), "{bad}");
        }
    }
}
