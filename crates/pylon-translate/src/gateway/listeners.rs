//! Gateway listeners: protocol, hostname, TLS certificate references and route kinds checked, then
//! conflicts between listeners of one port; and which namespaces a listener admits routes from.

use super::backends;
use super::hostnames;
use super::status::{reason, Condition as StatusCondition, ListenerStatus, RouteGroupKind};
use super::GATEWAY_GROUP;
use crate::certificates;
use gateway_api::apis::standard::gateways::{
    Gateway, GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom, GatewayListenersTlsMode,
};
use pylon_ir::{Protocol, ServerCertificate};
use pylon_model::{Kind, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

pub struct ListenerBuild {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
    pub hostname: Option<String>,
    pub kinds: Vec<RouteGroupKind>,
    pub from: GatewayListenersAllowedRoutesNamespacesFrom,
    pub selector:
        Option<pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    pub accepted: Result<(), (&'static str, String)>,
    pub resolved: Result<(), (&'static str, String)>,
    pub conflicted: Option<&'static str>,
    pub attached: i32,
    /// HTTPS: the certificates of its certificateRefs.
    pub certificates: Vec<ServerCertificate>,
}

impl ListenerBuild {
    pub fn usable(&self) -> bool {
        self.accepted.is_ok() && self.conflicted.is_none()
    }

    pub fn programmed(&self) -> bool {
        self.usable() && self.resolved.is_ok()
    }

    /// The listener's status: Accepted, ResolvedRefs, Programmed (and Conflicted).
    pub fn status(&self, gateway_accepted: bool, g: i64) -> ListenerStatus {
        let mut conditions = vec![match (&self.accepted, self.conflicted) {
            (Err((why, message)), _) => {
                StatusCondition::new(reason::ACCEPTED, false, why, message.clone(), g)
            }
            (Ok(()), Some(why)) => StatusCondition::new(
                reason::ACCEPTED,
                false,
                why,
                "the listener conflicts with another on its port",
                g,
            ),
            (Ok(()), None) => {
                StatusCondition::new(reason::ACCEPTED, true, reason::ACCEPTED, "accepted", g)
            }
        }];
        conditions.push(match &self.resolved {
            Ok(()) => StatusCondition::new(
                reason::RESOLVED_REFS,
                true,
                reason::RESOLVED_REFS,
                "all references resolved",
                g,
            ),
            Err((why, message)) => {
                StatusCondition::new(reason::RESOLVED_REFS, false, why, message.clone(), g)
            }
        });
        conditions.push(if self.programmed() && gateway_accepted {
            StatusCondition::new(
                reason::PROGRAMMED,
                true,
                reason::PROGRAMMED,
                "programmed",
                g,
            )
        } else {
            StatusCondition::new(
                reason::PROGRAMMED,
                false,
                reason::INVALID,
                "the listener is not valid",
                g,
            )
        });
        if let Some(why) = self.conflicted {
            conditions.push(StatusCondition::new(
                reason::CONFLICTED,
                true,
                why,
                "another listener on this port conflicts with it",
                g,
            ));
        }
        ListenerStatus {
            name: self.name.clone(),
            port: self.port,
            supported_kinds: self.kinds.clone(),
            attached_routes: self.attached,
            conditions,
        }
    }
}

/// Validates listeners: protocol, hostname, TLS references, route kinds; then conflicts by port.
pub fn listeners(gw: &Gateway, snapshot: &Snapshot) -> Vec<ListenerBuild> {
    let ns = gw.metadata.namespace.clone().unwrap_or_default();
    let mut out: Vec<ListenerBuild> = gw
        .spec
        .listeners
        .iter()
        .map(|l| listener(l, &ns, snapshot))
        .collect();
    let mut by_port: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, l) in out.iter().enumerate() {
        if l.accepted.is_ok() {
            by_port.entry(l.port).or_default().push(i);
        }
    }
    for indexes in by_port.values() {
        let protocols: BTreeSet<Protocol> = indexes.iter().map(|&i| out[i].protocol).collect();
        if protocols.len() > 1 {
            for &i in indexes {
                out[i].conflicted = Some(reason::PROTOCOL_CONFLICT);
            }
            continue;
        }
        for &i in indexes {
            let same = indexes
                .iter()
                .filter(|&&j| out[j].hostname == out[i].hostname)
                .count();
            if same > 1 {
                out[i].conflicted = Some(reason::HOSTNAME_CONFLICT);
            }
        }
    }
    out
}

fn listener(l: &GatewayListeners, ns: &str, snapshot: &Snapshot) -> ListenerBuild {
    let mut accepted = Ok(());
    let mut resolved = Ok(());
    let protocol = match l.protocol.as_str() {
        "HTTP" => Protocol::Http,
        "HTTPS" => Protocol::Https,
        other => {
            accepted = Err((
                reason::UNSUPPORTED_PROTOCOL,
                format!("protocol {other} is not supported: use HTTP or HTTPS"),
            ));
            Protocol::Http
        }
    };
    let port = u16::try_from(l.port)
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or_else(|| {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                format!("port {} is not a TCP port", l.port),
            ));
            0
        });
    if let Some(h) = &l.hostname {
        if !hostnames::valid(h) {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                format!("hostname {h:?} is not a valid hostname"),
            ));
        }
    }
    let allowed = l.allowed_routes.clone().unwrap_or_default();
    let namespaces = allowed.namespaces.unwrap_or_default();
    let valid_kinds = ["HTTPRoute", "GRPCRoute"];
    let unsupported_protocol = !matches!(l.protocol.as_str(), "HTTP" | "HTTPS");
    let kinds: Vec<RouteGroupKind> = match &allowed.kinds {
        // A listener of a protocol Pylon does not serve supports no route kind.
        _ if unsupported_protocol => vec![],
        None => valid_kinds
            .iter()
            .map(|k| RouteGroupKind {
                group: GATEWAY_GROUP.into(),
                kind: k.to_string(),
            })
            .collect(),
        Some(list) => {
            let mut kinds = Vec::new();
            for k in list {
                let group = k.group.clone().unwrap_or_else(|| GATEWAY_GROUP.to_string());
                if group == GATEWAY_GROUP && valid_kinds.contains(&k.kind.as_str()) {
                    kinds.push(RouteGroupKind {
                        group,
                        kind: k.kind.clone(),
                    });
                } else {
                    resolved = Err((
                        reason::INVALID_ROUTE_KINDS,
                        format!(
                            "route kind {} of group {group:?} is not supported on {} listeners",
                            k.kind, l.protocol
                        ),
                    ));
                }
            }
            kinds
        }
    };
    let mut certificates = Vec::new();
    if protocol == Protocol::Https && accepted.is_ok() {
        let tls = l.tls.clone().unwrap_or_default();
        if tls.mode == Some(GatewayListenersTlsMode::Passthrough) {
            accepted = Err((
                reason::UNSUPPORTED_VALUE,
                "tls.mode Passthrough is not supported on HTTPS listeners".to_string(),
            ));
        } else {
            match certificate_refs(&tls, ns, snapshot) {
                Ok(found) => {
                    certificates = found
                        .into_iter()
                        .map(|c| ServerCertificate {
                            hostname: l.hostname.clone(),
                            ..c
                        })
                        .collect()
                }
                Err(e) => resolved = Err(e),
            }
        }
    }
    ListenerBuild {
        name: l.name.clone(),
        port,
        protocol,
        hostname: l.hostname.clone(),
        kinds,
        from: namespaces
            .from
            .unwrap_or(GatewayListenersAllowedRoutesNamespacesFrom::Same),
        selector: namespaces
            .selector
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| serde_json::from_value(v).ok()),
        accepted,
        resolved,
        conflicted: None,
        attached: 0,
        certificates,
    }
}

/// HTTPS listeners terminate TLS with `kubernetes.io/tls` Secrets, in the Gateway's namespace or
/// where a ReferenceGrant allows.
fn certificate_refs(
    tls: &gateway_api::apis::standard::gateways::GatewayListenersTls,
    ns: &str,
    snapshot: &Snapshot,
) -> Result<Vec<ServerCertificate>, (&'static str, String)> {
    let refs = tls.certificate_refs.clone().unwrap_or_default();
    let mut found = Vec::new();
    if refs.is_empty() {
        return Err((
            reason::INVALID_CERTIFICATE_REF,
            "an HTTPS listener needs tls.certificateRefs".to_string(),
        ));
    }
    for r in refs {
        let group = r.group.as_deref().unwrap_or("");
        let kind = r.kind.as_deref().unwrap_or("Secret");
        let secret_ns = r.namespace.clone().unwrap_or_else(|| ns.to_string());
        if !group.is_empty() || kind != "Secret" {
            return Err((
                reason::INVALID_CERTIFICATE_REF,
                format!(
                    "certificateRef {} is a {kind} of group {group:?}: only Secrets are supported",
                    r.name
                ),
            ));
        }
        if secret_ns != ns
            && !backends::permitted(
                snapshot,
                Kind::Gateway,
                ns,
                Kind::Secret,
                &secret_ns,
                &r.name,
            )
        {
            return Err((reason::REF_NOT_PERMITTED, format!("certificateRef to Secret {secret_ns}/{} is not permitted: no ReferenceGrant in namespace {secret_ns} allows Gateways from namespace {ns}", r.name)));
        }
        let certificate = certificates::from_secret(snapshot, &secret_ns, &r.name, None)
            .map_err(|why| (reason::INVALID_CERTIFICATE_REF, why))?;
        found.push(certificate);
    }
    Ok(found)
}

/// Whether a namespace's labels (with the `kubernetes.io/metadata.name` label every namespace
/// carries) satisfy a label selector.
pub fn namespace_selected(
    snapshot: &Snapshot,
    namespace: &str,
    selector: Option<&pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let mut labels = snapshot
        .namespace(namespace)
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default();
    labels.insert(
        "kubernetes.io/metadata.name".to_string(),
        namespace.to_string(),
    );
    let match_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let match_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    match_labels && match_expressions
}
