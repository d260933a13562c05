//! What the admin endpoint and `pylon status` show: statuses with the data plane's bind results
//! folded in, every problem, and the IR with live target health.

use pylon_ir::LoadBalancer;
use pylon_model::Problem;
use pylon_proxy::{ApplyReport, ListenerState, Proxy};
use pylon_translate::{ObjectStatus, Translation};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One translated and applied configuration.
pub struct Published {
    pub generation: u64,
    /// Shared with the run loop, which keeps it to retry binds without translating again.
    pub translation: std::sync::Arc<Translation>,
    pub apply: ApplyReport,
}

/// An object's status and the problems that name it.
#[derive(Debug, Serialize)]
pub struct ObjectView {
    #[serde(flatten)]
    pub status: ObjectStatus,
    /// The annotations Pylon writes on the object (kube mode: on the object itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub generation: u64,
    pub objects: Vec<ObjectView>,
    pub problems: Vec<Problem>,
}

impl Published {
    /// Listener ports of one load balancer that are not bound, with the reason.
    fn unbound(&self, lb: &LoadBalancer) -> BTreeMap<u16, String> {
        lb.listeners
            .iter()
            .filter_map(|l| match self.apply.listeners.get(&l.id) {
                Some(ListenerState::NotBound { reason }) => Some((l.port, reason.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every problem: the translation's and the data plane's.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = self.translation.problems.clone();
        for lb in &self.translation.ir.served() {
            for (port, reason) in self.unbound(lb) {
                let protocol = lb
                    .listeners
                    .iter()
                    .find(|l| l.port == port)
                    .map_or("", |l| l.protocol.as_str());
                problems.push(Problem::error(
                    Some(lb.origin.clone()),
                    None,
                    format!(
                        "listener {protocol}:{port} of load balancer {} is not serving: {reason}",
                        lb.name
                    ),
                ));
            }
        }
        for why in &self.apply.access_log_errors {
            problems.push(Problem::error(None, None, why.clone()));
        }
        problems.sort();
        problems
    }

    pub fn status_view(&self) -> StatusView {
        let problems = self.problems();
        let objects = self
            .translation
            .statuses
            .iter()
            .map(|status| {
                let unbound = self
                    .translation
                    .ir
                    .load_balancers
                    .iter()
                    .find(|lb| lb.is_for(&status.object))
                    .map(|lb| self.unbound(lb))
                    .unwrap_or_default();
                let metadata = self
                    .translation
                    .annotations
                    .iter()
                    .find(|a| a.object == status.object)
                    .map(|a| Metadata {
                        annotations: a.annotations.clone(),
                    });
                ObjectView {
                    status: status.clone().with_unbound_ports(&unbound),
                    metadata,
                    problems: problems
                        .iter()
                        .filter(|p| p.object.as_ref() == Some(&status.object))
                        .cloned()
                        .collect(),
                }
            })
            .collect();
        StatusView {
            generation: self.generation,
            objects,
            problems,
        }
    }

    /// The IR with each listener's state and each target's health.
    pub fn config_view(&self, proxy: &Proxy) -> Value {
        let mut ir = serde_json::to_value(&self.translation.ir).expect("IR serializes");
        for lb in ir["loadBalancers"].as_array_mut().into_iter().flatten() {
            for listener in lb["listeners"].as_array_mut().into_iter().flatten() {
                let id = listener["id"].as_str().unwrap_or_default().to_string();
                if let Some(state) = self.apply.listeners.get(&id) {
                    listener["state"] = serde_json::to_value(state).expect("state serializes");
                }
            }
            for tg in lb["targetGroups"].as_object_mut().into_iter().flatten() {
                with_health(tg.1, proxy);
            }
        }
        // Lattice target groups are keyed by id in each service, and listed once exported.
        for sn in ir["serviceNetworks"].as_array_mut().into_iter().flatten() {
            for service in sn["services"].as_array_mut().into_iter().flatten() {
                for tg in service["targetGroups"]
                    .as_object_mut()
                    .into_iter()
                    .flatten()
                {
                    with_health(tg.1, proxy);
                }
            }
        }
        json!({ "generation": self.generation, "ir": ir })
    }
}

/// A target group's targets with their health, and the targets that left it and still drain.
fn with_health(tg: &mut Value, proxy: &Proxy) {
    let id = tg["id"].as_str().unwrap_or_default().to_string();
    for target in tg["targets"].as_array_mut().into_iter().flatten() {
        let ip = target["ip"].as_str().unwrap_or_default();
        let addr = format!("{ip}:{}", target["port"])
            .parse::<SocketAddr>()
            .or_else(|_| format!("[{ip}]:{}", target["port"]).parse());
        if let Some(health) = addr.ok().and_then(|a| proxy.target_health(&id, a)) {
            target["health"] = serde_json::to_value(health).expect("health serializes");
        }
    }
    let draining: Vec<Value> = proxy
        .draining(&id)
        .into_iter()
        .map(|(target, health, left)| {
            json!({
                "ip": target.ip().to_string(),
                "port": target.port(),
                "health": health,
                "drainingSeconds": left.as_secs(),
            })
        })
        .collect();
    if !draining.is_empty() {
        tg["draining"] = Value::Array(draining);
    }
}

/// `pylon status` as text: each object with its address and problems, then other problems.
pub fn render_status(view: &Value) -> String {
    let mut out = String::new();
    let objects = view["objects"].as_array().cloned().unwrap_or_default();
    if objects.is_empty() {
        out.push_str("No objects handled by Pylon.\n");
    }
    for object in &objects {
        let name = match object["namespace"].as_str() {
            Some(ns) => format!(
                "{} {}/{}",
                object["kind"].as_str().unwrap_or("?"),
                ns,
                object["name"].as_str().unwrap_or("?")
            ),
            None => format!(
                "{} {}",
                object["kind"].as_str().unwrap_or("?"),
                object["name"].as_str().unwrap_or("?")
            ),
        };
        let state = match object["kind"].as_str() {
            Some("Ingress") => ingress_line(&object["status"]),
            _ => conditions_line(&object["status"]),
        };
        out.push_str(&format!("{name}: {state}\n"));
        for listener in object["status"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "  listener {}: {} route(s), {}\n",
                listener["name"].as_str().unwrap_or("?"),
                listener["attachedRoutes"],
                conditions_line(listener)
            ));
        }
        for parent in object["status"]["parents"].as_array().into_iter().flatten() {
            let r = &parent["parentRef"];
            let section = r["sectionName"]
                .as_str()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  parent {}{section}: {}\n",
                r["name"].as_str().unwrap_or("?"),
                conditions_line(parent)
            ));
        }
        for (key, value) in object["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "  annotation {key}: {}\n",
                value.as_str().unwrap_or_default()
            ));
        }
        for p in object["problems"].as_array().into_iter().flatten() {
            out.push_str(&format!("  {}\n", problem_line(p)));
        }
    }
    let others: Vec<&Value> = view["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            !objects.iter().any(|o| {
                p["object"]["kind"] == o["kind"]
                    && p["object"]["name"] == o["name"]
                    && p["object"]["namespace"] == o["namespace"]
            })
        })
        .collect();
    if !others.is_empty() {
        out.push_str("Other problems:\n");
        for p in others {
            out.push_str(&format!("  {}\n", problem_line(p)));
        }
    }
    out
}

/// `127.1.0.5 ports 80, 443 (ListenerNotBound)`, or `no address`.
fn ingress_line(status: &Value) -> String {
    let addresses: Vec<String> = status["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let ports: Vec<String> = e["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["error"].as_str() {
                    Some(err) => format!("{} ({err})", p["port"]),
                    None => p["port"].to_string(),
                })
                .collect();
            format!(
                "{} ports {}",
                e["ip"].as_str().unwrap_or("?"),
                ports.join(", ")
            )
        })
        .collect();
    if addresses.is_empty() {
        "no address".to_string()
    } else {
        addresses.join("; ")
    }
}

/// `127.1.0.7; Accepted, Programmed` — the address (if any) and each condition, with the
/// reason and message of those that are not True.
fn conditions_line(status: &Value) -> String {
    let mut parts: Vec<String> = status["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["value"].as_str().map(str::to_string))
        .collect();
    let conditions: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let kind = c["type"].as_str().unwrap_or("?");
            match c["status"].as_str() {
                Some("True") if kind == "Conflicted" || kind == "PartiallyInvalid" => {
                    format!(
                        "{kind} ({}: {})",
                        c["reason"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    )
                }
                Some("True") => kind.to_string(),
                _ => format!(
                    "not {kind} ({}: {})",
                    c["reason"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                ),
            }
        })
        .collect();
    parts.push(conditions.join(", "));
    parts.join("; ")
}

fn problem_line(p: &Value) -> String {
    match serde_json::from_value::<Problem>(p.clone()) {
        Ok(problem) => problem.to_string(),
        Err(_) => p.to_string(),
    }
}
