//! What a policy decides about: who calls, the action, the resource and the condition keys.

use std::collections::BTreeMap;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// An IAM role or user ARN (`arn:aws:iam::<account>:role/<name>`), or an assumed-role session
    /// (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub arn: String,
    pub org_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl Principal {
    /// The account in the ARN.
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// The role an assumed-role session belongs to, as an IAM role ARN.
    fn role(&self) -> Option<String> {
        let resource = self.arn.strip_prefix("arn:")?;
        let mut parts = resource.splitn(5, ':');
        let (partition, service, _, account, rest) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let role = rest.strip_prefix("assumed-role/")?.split('/').next()?;
        (service == "sts").then(|| format!("arn:{partition}:iam::{account}:role/{role}"))
    }

    /// Whether a policy's principal entry names this caller: `*`, its ARN, its account (id or
    /// `:root`), or the role of its assumed-role session.
    pub fn named_by(&self, entry: &str) -> bool {
        if entry == "*" || entry == self.arn {
            return true;
        }
        if entry.len() == 12 && entry.bytes().all(|b| b.is_ascii_digit()) {
            return entry == self.account();
        }
        if let Some(account) = entry
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
        {
            return account == self.account();
        }
        self.role().is_some_and(|role| role == entry)
    }
}

/// One request: the caller (`None`: anonymous), the action, the resource ARN and the values of
/// the condition keys it carries.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: Option<&'a Principal>,
    pub action: &'a str,
    pub resource: &'a str,
    keys: BTreeMap<String, Vec<String>>,
}

/// Condition key names are compared without regard to case, as IAM compares them; so are the
/// header and tag names after `RequestHeader/` and `aws:PrincipalTag/`. Query-string keys keep
/// their case.
pub(crate) fn normal_key(key: &str) -> String {
    match key.split_once('/') {
        Some((head, tail)) if head.eq_ignore_ascii_case("vpc-lattice-svcs:RequestQueryString") => {
            format!("{}/{tail}", head.to_ascii_lowercase())
        }
        _ => key.to_ascii_lowercase(),
    }
}

impl<'a> Request<'a> {
    /// A request with the keys every request has: `aws:PrincipalType` and, for an authenticated
    /// caller, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalOrgID` and its tags.
    pub fn new(principal: Option<&'a Principal>, action: &'a str, resource: &'a str) -> Self {
        let mut request = Request {
            principal,
            action,
            resource,
            keys: BTreeMap::new(),
        };
        match principal {
            None => request.set("aws:PrincipalType", "Anonymous"),
            Some(p) => {
                let kind = if p.arn.contains(":assumed-role/") {
                    "AssumedRole"
                } else if p.arn.contains(":user/") {
                    "User"
                } else if p.arn.ends_with(":root") {
                    "Account"
                } else {
                    "Role"
                };
                request.set("aws:PrincipalType", kind);
                request.set("aws:PrincipalArn", &p.arn);
                request.set("aws:PrincipalAccount", p.account());
                if let Some(org) = &p.org_id {
                    request.set("aws:PrincipalOrgID", org);
                }
                for (k, v) in &p.tags {
                    request.set(&format!("aws:PrincipalTag/{k}"), v);
                }
            }
        }
        request
    }

    /// Sets a key to one value (replacing any).
    pub fn set(&mut self, key: &str, value: &str) {
        self.keys.insert(normal_key(key), vec![value.to_string()]);
    }

    /// Adds a value to a multi-valued key (`RequestQueryString/<key>`).
    pub fn add(&mut self, key: &str, value: &str) {
        self.keys
            .entry(normal_key(key))
            .or_default()
            .push(value.to_string());
    }

    pub(crate) fn values(&self, key: &str) -> Option<&[String]> {
        self.keys.get(&normal_key(key)).map(Vec::as_slice)
    }
}
