//! The access keys callers sign with: Secrets of type `pylon-project.github.io/aws-credentials`
//! in the credentials namespace (`--credentials-namespace`), each an access key and the IAM
//! principal it stands for. A Secret that cannot be used is reported, naming its field, and
//! its key is not known: requests signed with it are refused.

use crate::certificates::secret_value;
use pylon_ir::lattice::AwsCredential;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// The Secret type that holds an access key.
pub const SECRET_TYPE: &str = "pylon-project.github.io/aws-credentials";

pub fn read(
    snapshot: &Snapshot,
    namespace: &str,
    problems: &mut Vec<Problem>,
) -> Vec<AwsCredential> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for secret in snapshot.secrets() {
        if secret.type_.as_deref() != Some(SECRET_TYPE)
            || secret.metadata.namespace.as_deref() != Some(namespace)
        {
            continue;
        }
        let name = secret.metadata.name.clone().unwrap_or_default();
        let object = ObjectRef::namespaced(Kind::Secret, namespace, &name);
        let problem = |field: &str, message: String| {
            Problem::error(Some(object.clone()), Some(format!("data.{field}")), message)
        };
        let text = |key: &str| {
            String::from_utf8(secret_value(secret, key))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let (key, secret_key, principal) = (
            text("accessKeyId"),
            text("secretAccessKey"),
            text("principal"),
        );
        let missing: Vec<&str> = [
            ("accessKeyId", &key),
            ("secretAccessKey", &secret_key),
            ("principal", &principal),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect();
        if let Some(first) = missing.first() {
            problems.push(problem(
                first,
                format!(
                    "a {SECRET_TYPE} Secret needs {}; its key is not known",
                    missing.join(", ")
                ),
            ));
            continue;
        }
        if !principal_arn(&principal) {
            problems.push(problem(
                "principal",
                format!("{principal:?} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<name> or :user/<name>); its key is not known"),
            ));
            continue;
        }
        let tags = match tags(&text("tags")) {
            Ok(t) => t,
            Err(why) => {
                problems.push(problem("tags", format!("{why}; its key is not known")));
                continue;
            }
        };
        if !seen.insert(key.clone()) {
            problems.push(problem(
                "accessKeyId",
                "another Secret of the namespace has this access key id; the first (by name) is used".into(),
            ));
            continue;
        }
        let org_id = Some(text("orgId")).filter(|o| !o.is_empty());
        out.push(AwsCredential {
            secret: object,
            principal,
            org_id,
            tags,
            access_key_id: key,
            secret_access_key: secret_key,
        });
    }
    out
}

/// `arn:<partition>:iam::<12 digits>:role/…` or `:user/…`.
fn principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if !partition.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && (resource.starts_with("role/") || resource.starts_with("user/"))
            && resource.len() > 5)
}

/// Principal tags: a JSON object of strings, or `key=value` pairs separated by commas or lines.
fn tags(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    if text.starts_with('{') {
        return serde_json::from_str(text)
            .map_err(|e| format!("tags is not a JSON object of strings: {e}"));
    }
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("tags entry {p:?} is not key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_and_tags() {
        assert!(principal_arn("arn:aws:iam::123456789012:role/billing"));
        assert!(principal_arn("arn:aws:iam::123456789012:user/path/alice"));
        assert!(!principal_arn("arn:aws:iam::123456789012:root"));
        assert!(!principal_arn("arn:aws:sts::123456789012:assumed-role/a/b"));
        assert!(!principal_arn("billing"));
        assert_eq!(
            tags("team=payments, env = prod").unwrap(),
            BTreeMap::from([
                ("env".into(), "prod".into()),
                ("team".into(), "payments".into())
            ])
        );
        assert_eq!(tags(r#"{"team":"x"}"#).unwrap()["team"], "x");
        assert!(tags("team").is_err());
        assert!(tags("{").is_err());
    }
}
