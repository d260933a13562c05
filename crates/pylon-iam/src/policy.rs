//! A policy document: parsed and checked once, then matched against requests statement by
//! statement. An explicit Deny wins; otherwise any Allow allows; otherwise nothing does.

use crate::conditions::Condition;
use crate::request::Request;
use serde_json::Value;
use std::fmt;

/// Lattice's limit on an auth policy.
pub const MAX_BYTES: usize = 10 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// What one policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement matched.
    ExplicitDeny,
    /// No statement matched: implicitly denied.
    NoAllow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names matched by `Principal`/`NotPrincipal`, `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq)]
struct Names {
    values: Vec<String>,
    /// `Not…`: the statement applies to everything the list does not match.
    negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    effect: Effect,
    /// `None`: any caller, anonymous included (`"*"` or `{"AWS": "*"}`).
    principals: Option<Names>,
    actions: Names,
    resources: Names,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

fn err(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// A string or a list of strings.
fn strings(value: &Value, field: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(format!("{field} holds a value that is not a string")))
            })
            .collect(),
        _ => Err(err(format!(
            "{field} must be a string or a list of strings"
        ))),
    }
}

/// The one of `name` and `Not<name>` a statement has.
fn names(
    statement: &serde_json::Map<String, Value>,
    name: &str,
    i: usize,
) -> Result<Names, PolicyError> {
    let not = format!("Not{name}");
    match (statement.get(name), statement.get(&not)) {
        (Some(_), Some(_)) => Err(err(format!("Statement[{i}] has both {name} and {not}"))),
        (Some(v), None) => Ok(Names {
            values: strings(v, &format!("Statement[{i}].{name}"))?,
            negated: false,
        }),
        (None, Some(v)) => Ok(Names {
            values: strings(v, &format!("Statement[{i}].{not}"))?,
            negated: true,
        }),
        (None, None) => Err(err(format!("Statement[{i}] needs {name} or {not}"))),
    }
}

fn principals(
    statement: &serde_json::Map<String, Value>,
    i: usize,
) -> Result<Option<Names>, PolicyError> {
    let (value, negated) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(err(format!(
                "Statement[{i}] has both Principal and NotPrincipal"
            )))
        }
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => {
            return Err(err(format!(
                "Statement[{i}] needs a Principal: an auth policy is a resource-based policy"
            )))
        }
    };
    let values = match value {
        Value::String(s) if s == "*" => vec!["*".to_string()],
        Value::Object(map) => {
            let mut values = Vec::new();
            for (kind, v) in map {
                if kind != "AWS" {
                    return Err(err(format!(
                        "Statement[{i}].Principal: {kind} principals are not callers of a Lattice service (use AWS)"
                    )));
                }
                values.extend(strings(v, &format!("Statement[{i}].Principal.AWS"))?);
            }
            values
        }
        _ => {
            return Err(err(format!(
                "Statement[{i}].Principal must be \"*\" or {{\"AWS\": ...}}"
            )))
        }
    };
    if let Some(bad) = values.iter().find(|v| *v != "*" && v.contains(['*', '?'])) {
        return Err(err(format!(
            "Statement[{i}].Principal {bad:?}: wildcards are not allowed in principals"
        )));
    }
    if !negated && values.iter().any(|v| v == "*") {
        return Ok(None);
    }
    Ok(Some(Names { values, negated }))
}

impl Policy {
    /// Parses and checks a policy document (JSON, at most 10 KB).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_BYTES {
            return Err(err(format!(
                "the policy is {} bytes: an auth policy holds at most {MAX_BYTES}",
                text.len()
            )));
        }
        let document: Value =
            serde_json::from_str(text).map_err(|e| err(format!("not a JSON policy: {e}")))?;
        let Some(document) = document.as_object() else {
            return Err(err("a policy is a JSON object"));
        };
        for key in document.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(err(format!("unknown policy element {key}")));
            }
        }
        match document.get("Version").and_then(Value::as_str) {
            Some("2012-10-17" | "2008-10-17") | None => {}
            Some(other) => return Err(err(format!("Version {other:?} is not 2012-10-17"))),
        }
        let statements = match document.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err(err("the policy needs a Statement")),
        };
        let mut parsed = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            let Some(s) = s.as_object() else {
                return Err(err(format!("Statement[{i}] is not an object")));
            };
            for key in s.keys() {
                if !matches!(
                    key.as_str(),
                    "Sid"
                        | "Effect"
                        | "Principal"
                        | "NotPrincipal"
                        | "Action"
                        | "NotAction"
                        | "Resource"
                        | "NotResource"
                        | "Condition"
                ) {
                    return Err(err(format!("Statement[{i}]: unknown element {key}")));
                }
            }
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err(err(format!("Statement[{i}].Effect must be Allow or Deny"))),
            };
            let conditions = match s.get("Condition") {
                None => Vec::new(),
                Some(c) => Condition::parse_block(c, i)?,
            };
            parsed.push(Statement {
                effect,
                principals: principals(s, i)?,
                actions: names(s, "Action", i)?,
                resources: names(s, "Resource", i)?,
                conditions,
            });
        }
        Ok(Policy { statements: parsed })
    }

    /// What this policy says about `request`.
    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.applies(request) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NoAllow
        }
    }
}

impl Statement {
    fn applies(&self, request: &Request<'_>) -> bool {
        let principal = match (&self.principals, request.principal) {
            (None, _) => true,
            (Some(names), None) => names.negated,
            (Some(names), Some(p)) => names.values.iter().any(|v| p.named_by(v)) != names.negated,
        };
        let action = self
            .actions
            .values
            .iter()
            .any(|a| crate::wildcard(a, request.action, true))
            != self.actions.negated;
        let resource = self
            .resources
            .values
            .iter()
            .any(|r| crate::wildcard(r, request.resource, false))
            != self.resources.negated;
        principal && action && resource && self.conditions.iter().all(|c| c.holds(request))
    }
}
