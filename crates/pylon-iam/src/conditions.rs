//! Condition operators, as IAM defines them: every operator of a block and every key of an
//! operator must hold (AND); any of a key's values may match (OR). A key the request does not
//! carry fails a positive operator and satisfies a negated one; `…IfExists` makes a missing key
//! pass; `Null` tests presence. `ForAnyValue:` and `ForAllValues:` compare sets of values.

use crate::policy::PolicyError;
use crate::request::Request;
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    IpAddress,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// No qualifier: the key's value (any of them, when it has several) against the policy's.
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    compare: Compare,
    /// `StringNotEquals`, `ArnNotLike`, `NumericNotEquals`, `NotIpAddress`, …
    negated: bool,
    if_exists: bool,
    set: Set,
    key: String,
    values: Vec<String>,
}

fn operator(name: &str) -> Option<(Compare, bool)> {
    use Compare::*;
    Some(match name {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        // IAM compares ARNs segment-wise with wildcards for both ArnEquals and ArnLike.
        "ArnEquals" | "ArnLike" => (ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "Null" => (Null, false),
        _ => return None,
    })
}

/// A policy value as text: strings, numbers and booleans are all written as JSON scalars.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    /// A statement's `Condition` block.
    pub fn parse_block(block: &Value, statement: usize) -> Result<Vec<Condition>, PolicyError> {
        let at = |what: String| PolicyError(format!("Statement[{statement}].Condition: {what}"));
        let Some(block) = block.as_object() else {
            return Err(at("must be an object of operators".into()));
        };
        let mut out = Vec::new();
        for (name, keys) in block {
            let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
                (Set::ForAnyValue, rest)
            } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
                (Set::ForAllValues, rest)
            } else {
                (Set::Single, name.as_str())
            };
            let (base, if_exists) = match rest.strip_suffix("IfExists") {
                Some(base) => (base, true),
                None => (rest, false),
            };
            let Some((compare, negated)) = operator(base) else {
                return Err(at(format!(
                    "{name} is not a condition operator Pylon evaluates"
                )));
            };
            if compare == Compare::Null && (if_exists || set != Set::Single) {
                return Err(at(format!(
                    "{name}: Null takes no IfExists or set qualifier"
                )));
            }
            let Some(keys) = keys.as_object() else {
                return Err(at(format!("{name} must map condition keys to values")));
            };
            for (key, values) in keys {
                let values: Vec<String> = match values {
                    Value::Array(items) => items.iter().map(scalar).collect::<Option<_>>(),
                    one => scalar(one).map(|v| vec![v]),
                }
                .ok_or_else(|| {
                    at(format!(
                        "{name}.{key}: values must be strings, numbers or booleans"
                    ))
                })?;
                if values.iter().any(|v| v.contains("${")) {
                    return Err(at(format!(
                        "{name}.{key}: policy variables are not supported"
                    )));
                }
                for v in &values {
                    check_value(compare, v).map_err(|why| at(format!("{name}.{key}: {why}")))?;
                }
                out.push(Condition {
                    compare,
                    negated,
                    if_exists,
                    set,
                    key: key.clone(),
                    values,
                });
            }
        }
        Ok(out)
    }

    pub fn holds(&self, request: &Request<'_>) -> bool {
        let present = request.values(&self.key);
        if self.compare == Compare::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none_or(<[String]>::is_empty) == want_absent;
        }
        let values = match present {
            Some(v) if !v.is_empty() => v,
            _ => {
                return match self.set {
                    Set::ForAllValues => true,
                    Set::ForAnyValue => false,
                    Set::Single => self.if_exists || self.negated,
                }
            }
        };
        // One request value matches the condition: positive operators match any policy value;
        // negated ones match none.
        let matches =
            |v: &String| self.values.iter().any(|p| compare(self.compare, p, v)) != self.negated;
        match self.set {
            Set::ForAnyValue => values.iter().any(matches),
            Set::ForAllValues => values.iter().all(matches),
            Set::Single if self.negated => values.iter().all(matches),
            Set::Single => values.iter().any(matches),
        }
    }
}

fn check_value(compare: Compare, value: &str) -> Result<(), String> {
    match compare {
        Compare::NumericEquals
        | Compare::NumericLessThan
        | Compare::NumericLessThanEquals
        | Compare::NumericGreaterThan
        | Compare::NumericGreaterThanEquals => value
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| format!("{value:?} is not a number")),
        Compare::IpAddress => network(value)
            .map(|_| ())
            .ok_or_else(|| format!("{value:?} is not an IP address or CIDR range")),
        Compare::Bool | Compare::Null => match value.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err(format!("{value:?} is not true or false")),
        },
        _ => Ok(()),
    }
}

fn network(value: &str) -> Option<IpNet> {
    value
        .parse::<IpNet>()
        .ok()
        .or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

/// ARNs compare segment by segment (`arn:partition:service:region:account:resource`), each with
/// wildcards.
fn arn_like(pattern: &str, value: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    p.len() == 6 && v.len() == 6 && p.iter().zip(&v).all(|(p, v)| crate::wildcard(p, v, false))
}

fn compare(compare: Compare, policy: &str, value: &str) -> bool {
    let numbers = || Some((value.parse::<f64>().ok()?, policy.parse::<f64>().ok()?));
    match compare {
        Compare::StringEquals => policy == value,
        Compare::StringEqualsIgnoreCase => policy.to_lowercase() == value.to_lowercase(),
        Compare::StringLike => crate::wildcard(policy, value, false),
        Compare::ArnLike => arn_like(policy, value),
        Compare::NumericEquals => numbers().is_some_and(|(v, p)| v == p),
        Compare::NumericLessThan => numbers().is_some_and(|(v, p)| v < p),
        Compare::NumericLessThanEquals => numbers().is_some_and(|(v, p)| v <= p),
        Compare::NumericGreaterThan => numbers().is_some_and(|(v, p)| v > p),
        Compare::NumericGreaterThanEquals => numbers().is_some_and(|(v, p)| v >= p),
        Compare::Bool => policy.eq_ignore_ascii_case(value),
        Compare::IpAddress => match (network(policy), value.parse::<IpAddr>()) {
            (Some(net), Ok(ip)) => net.contains(&ip),
            _ => false,
        },
        Compare::Null => false,
    }
}
