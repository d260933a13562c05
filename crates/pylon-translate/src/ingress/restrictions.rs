//! The Ingress annotations that restrict who may reach its routes: `inbound-cidrs` (the whole
//! load balancer), `mutual-authentication` in `verify` mode (one listener), `auth-type` and
//! `jwt-validation` (the rules of a backend; a Service's annotation wins over the Ingress's, as
//! in the controller). Pylon does not enforce them yet, so what they protect fails closed
//! (`crate::restriction`).

use super::annotations::{self, Annotations};
use crate::restriction::Restrictions;
use pylon_model::Problem;
use serde::Deserialize;

/// One `mutual-authentication` entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutualAuthentication {
    port: u16,
    #[serde(default)]
    mode: Option<String>,
}

/// Reads `inbound-cidrs` and `mutual-authentication` from the Ingress. An invalid value is an
/// error in `errors` (the controller fails the model build on it); a restriction is reported once.
pub fn load_balancer(
    a: &Annotations<'_>,
    listen_ports: &[u16],
    problems: &mut Vec<Problem>,
    errors: &mut Vec<Problem>,
) -> Restrictions {
    let mut out = Restrictions::default();
    if let Some(found) = a.get("inbound-cidrs") {
        let cidrs: Result<Vec<ipnet::IpNet>, _> = found
            .value
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::parse)
            .collect();
        match cidrs {
            Err(_) => errors.push(found.problem("must be a comma-separated list of CIDRs")),
            // 0.0.0.0/0 and ::/0 let everyone in: no restriction.
            Ok(cidrs) if cidrs.iter().all(|c| c.prefix_len() == 0) => {}
            Ok(_) => {
                problems.push(restricted(&found, "this load balancer"));
                out.load_balancer = Some(found.key.clone());
            }
        }
    }
    if let Some(found) = a.get("mutual-authentication") {
        match serde_json::from_str::<Vec<MutualAuthentication>>(found.value) {
            Err(e) => errors.push(found.problem(&format!(
                "must be a JSON list like [{{\"port\": 443, \"mode\": \"verify\", \"trustStore\": \"...\"}}] ({e})"
            ))),
            Ok(entries) => {
                for entry in entries {
                    match entry.mode.as_deref().unwrap_or("off") {
                        "off" => {}
                        "verify" if listen_ports.contains(&entry.port) => {
                            problems.push(restricted(
                                &found,
                                &format!("the listener on port {}", entry.port),
                            ));
                            out.listeners.insert(entry.port, found.key.clone());
                        }
                        "verify" => errors.push(found.problem(&format!(
                            "port {} is not a listen port",
                            entry.port
                        ))),
                        "passthrough" => problems.push(Problem::warning(
                            Some(found.object.clone()),
                            Some(annotations::field(&found.key)),
                            format!(
                                "mode passthrough on port {}: Pylon does not pass client certificates to targets yet; ignored",
                                entry.port
                            ),
                        )),
                        other => errors.push(found.problem(&format!(
                            "mode {other:?} must be off, passthrough or verify"
                        ))),
                    }
                }
            }
        }
    }
    out
}

/// The restriction on the rules of one backend, from its Service's annotations and the
/// Ingress's (`a`, Service first): `auth-type` cognito or oidc, or `jwt-validation`. `Err` is an
/// invalid `auth-type`.
pub fn backend(a: &Annotations<'_>) -> Result<Option<(String, Problem)>, Box<Problem>> {
    if let Some(found) = a.get("auth-type") {
        match found.value {
            "none" => {}
            "cognito" | "oidc" => {
                return Ok(Some((
                    found.key.clone(),
                    restricted(&found, "the rules of this backend"),
                )))
            }
            _ => return Err(Box::new(found.problem("must be none, cognito or oidc"))),
        }
    }
    Ok(a.get("jwt-validation").map(|found| {
        (
            found.key.clone(),
            restricted(&found, "the rules of this backend"),
        )
    }))
}

fn restricted(found: &annotations::Found<'_>, scope: &str) -> Problem {
    // Short values (auth-type, CIDRs) are named; JSON documents are not repeated.
    let setting = if found.value.len() <= 64 && !found.value.starts_with(['{', '[']) {
        format!("{} {:?}", found.key, found.value)
    } else {
        found.key.clone()
    };
    Problem::error(
        Some(found.object.clone()),
        Some(annotations::field(&found.key)),
        crate::restriction::message(&setting, scope),
    )
}
