//! What a VPC Lattice service network can express: services with their own DNS names, each with
//! listeners, ordered rules and target groups, all behind one data-plane address per network.

use crate::{
    Action, Condition, Filter, HeaderModifier, HeaderValue, Listener, LoadBalancer,
    LoadBalancerAttributes, Rule, RuleOrigin, Scheme, TargetGroup,
};
use pylon_model::ObjectRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A service network: the Gateways of one name (in any namespace) and the services of the routes
/// attached to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceNetwork {
    /// `sn-` and 17 hex digits, derived from the name.
    pub id: String,
    pub name: String,
    pub arn: String,
    /// This cluster's Gateways that make it, sorted.
    pub gateways: Vec<ObjectRef>,
    /// Other clusters' Gateways of its name (`--remote-cluster`): a network spans every VPC
    /// that has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_gateways: Vec<RemoteObject>,
    /// Whether the cluster's VPC is associated with it (a VpcAssociationPolicy may say not):
    /// only then is it served here.
    #[serde(default = "crate::yes", skip_serializing_if = "crate::is_yes")]
    pub associated: bool,
    /// Where every service of the network is served; `None` when the pool is exhausted.
    pub address: Option<IpAddr>,
    /// The VPC of the cluster the network is served in, as requests from it carry it.
    pub source_vpc: String,
    pub source_vpc_arn: String,
    /// Sorted by name.
    pub services: Vec<Service>,
    /// Where every request to the network's services is logged (AccessLogPolicy on a Gateway):
    /// paths under the access-log directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_logs: Vec<String>,
    /// Auth type `AWS_IAM` with this policy (IAMAuthPolicy on a Gateway); none: `NONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<String>,
}

/// An object of another cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteObject {
    pub cluster: String,
    #[serde(flatten)]
    pub object: ObjectRef,
}

/// A Lattice service: one route, with its generated DNS name and an optional custom domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    /// `svc-` and 17 hex digits.
    pub id: String,
    pub name: String,
    pub arn: String,
    /// The route it was made from.
    pub origin: ObjectRef,
    /// The cluster the route is in, when it is a remote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// `<name>-<17 hex>.<7 hex>.vpc-lattice-svcs.<region>.on.aws`.
    pub dns_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
    /// How long a request may wait on its target (`idleTimeoutSeconds`).
    pub idle_timeout_seconds: u32,
    /// Sorted by port.
    pub listeners: Vec<Listener>,
    pub target_groups: BTreeMap<String, LatticeTargetGroup>,
    /// Where its requests are logged (AccessLogPolicy on the route), as for a network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_logs: Vec<String>,
    /// Auth type `AWS_IAM` with this policy (IAMAuthPolicy on the route); none: `NONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_policy: Option<String>,
}

/// The auth policies a Lattice rule's requests are decided by, and what their condition keys
/// need to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleAuth {
    /// The network's policy (auth type `AWS_IAM`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<String>,
    /// The service's policy (auth type `AWS_IAM`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_policy: Option<String>,
    pub service_arn: String,
    pub service_network_arn: String,
    pub source_vpc: String,
    pub source_vpc_owner_account: String,
}

/// An access key whose signed requests come from a principal, for auth policies to decide on:
/// from a Secret of type `pylon-project.github.io/aws-credentials`. Plans and `/config` show the
/// Secret and the principal; the key id and the secret stay out of them, and `Debug` hides the
/// secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredential {
    pub secret: ObjectRef,
    /// An IAM role or user ARN.
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(skip)]
    pub access_key_id: String,
    #[serde(skip)]
    pub secret_access_key: String,
}

impl std::fmt::Debug for AwsCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredential")
            .field("secret", &self.secret)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// A rule's Lattice access log: where lines go and what every line of the rule says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleLog {
    /// Paths under the access-log directory.
    pub destinations: Vec<String>,
    pub service_network_arn: String,
    pub service_arn: String,
    pub listener_id: String,
    pub listener_type: String,
    pub source_vpc_arn: String,
    pub source_vpc_id: String,
    /// Target group ARNs by target group id.
    pub target_group_arns: BTreeMap<String, String>,
}

/// A target group with its Lattice ARN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LatticeTargetGroup {
    pub arn: String,
    /// The cluster whose pods are its targets, when it is a remote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub group: TargetGroup,
}

/// Headers a target gets from Lattice; clients' own values of them are never passed on.
pub const LATTICE_HEADERS: [&str; 5] = [
    "x-amzn-lattice-identity",
    "x-amzn-lattice-identity-tags",
    "x-amzn-lattice-network",
    "x-amzn-lattice-target",
    "x-amzn-source-vpc",
];

impl Service {
    /// The names a request may carry in `Host` (or SNI) for this service.
    pub fn host_names(&self) -> Vec<String> {
        std::iter::once(self.dns_name.clone())
            .chain(self.custom_domain.clone())
            .collect()
    }
}

impl ServiceNetwork {
    /// The network as the data plane serves it: one listener per port at the network's address;
    /// each service's rules, behind a condition on its host names and ending in its own default
    /// action, in the order of the services; every backend adds the headers Lattice adds.
    pub fn data_plane(&self) -> LoadBalancer {
        let mut listeners: BTreeMap<u16, Listener> = BTreeMap::new();
        let mut target_groups = BTreeMap::new();
        let mut idle_timeout = LoadBalancerAttributes::default().idle_timeout_seconds;
        for service in &self.services {
            idle_timeout = idle_timeout.max(service.idle_timeout_seconds);
            for tg in service.target_groups.values() {
                target_groups.insert(tg.group.id.clone(), tg.group.clone());
            }
            let host = Condition::HostHeader {
                values: service.host_names(),
            };
            for listener in &service.listeners {
                let out = listeners.entry(listener.port).or_insert_with(|| Listener {
                    id: format!("{}/listener/{}", self.id, listener.port),
                    protocol: listener.protocol,
                    port: listener.port,
                    rules: Vec::new(),
                    // A name no service of the network has.
                    default_action: Action::FixedResponse {
                        status_code: 404,
                        content_type: "text/plain".into(),
                        message_body: Some("Not Found\n".into()),
                    },
                    certificates: Vec::new(),
                });
                out.certificates
                    .extend(listener.certificates.iter().cloned());
                let log = self.rule_log(service, listener);
                let auth = self.rule_auth(service);
                let rules = listener.rules.iter().map(|r| {
                    (
                        r.conditions.clone(),
                        &r.action,
                        r.origin.clone(),
                        r.timeouts.clone(),
                    )
                });
                let default = (
                    Vec::new(),
                    &listener.default_action,
                    RuleOrigin {
                        object: service.origin.clone(),
                        field: format!("listener {} default action", listener.port),
                    },
                    None,
                );
                for (conditions, action, origin, timeouts) in rules.chain(std::iter::once(default))
                {
                    let priority = out.rules.len() as u32 + 1;
                    out.rules.push(Rule {
                        priority,
                        origin,
                        conditions: std::iter::once(host.clone()).chain(conditions).collect(),
                        filters: Vec::new(),
                        timeouts,
                        action: self.with_headers(service, action, auth.is_some()),
                        access_log: log.clone(),
                        auth: auth.clone(),
                    });
                }
            }
        }
        LoadBalancer {
            id: self.id.clone(),
            name: self.name.clone(),
            origin: self
                .gateways
                .first()
                .cloned()
                .unwrap_or_else(|| ObjectRef::new(pylon_model::Kind::Gateway, None, &self.name)),
            members: vec![],
            scheme: Scheme::Internal,
            address: self.address,
            ip_address_type: Default::default(),
            address_v6: None,
            attributes: LoadBalancerAttributes {
                idle_timeout_seconds: idle_timeout,
            },
            listeners: listeners.into_values().collect(),
            target_groups,
        }
    }

    /// The auth policies of a service's requests, when the network or the service has one.
    fn rule_auth(&self, service: &Service) -> Option<RuleAuth> {
        if self.auth_policy.is_none() && service.auth_policy.is_none() {
            return None;
        }
        Some(RuleAuth {
            network_policy: self.auth_policy.clone(),
            service_policy: service.auth_policy.clone(),
            service_arn: service.arn.clone(),
            service_network_arn: self.arn.clone(),
            source_vpc: self.source_vpc.clone(),
            source_vpc_owner_account: self
                .source_vpc_arn
                .split(':')
                .nth(4)
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// The access log of a service's listener, when the network or the service has one.
    fn rule_log(&self, service: &Service, listener: &Listener) -> Option<RuleLog> {
        let mut destinations: Vec<String> = self
            .access_logs
            .iter()
            .chain(&service.access_logs)
            .cloned()
            .collect();
        destinations.sort();
        destinations.dedup();
        if destinations.is_empty() {
            return None;
        }
        Some(RuleLog {
            destinations,
            service_network_arn: self.arn.clone(),
            service_arn: service.arn.clone(),
            listener_id: listener.id.clone(),
            listener_type: listener.protocol.as_str().to_string(),
            source_vpc_arn: self.source_vpc_arn.clone(),
            source_vpc_id: self.source_vpc.clone(),
            target_group_arns: service
                .target_groups
                .iter()
                .map(|(id, tg)| (id.clone(), tg.arn.clone()))
                .collect(),
        })
    }

    /// A forward with each target group's Lattice headers set (replacing any a client sent);
    /// other actions as they are. The identity headers are removed, unless the rule is
    /// `authorized` by auth policies: their step sets them for a signed caller and removes a
    /// client's copies.
    fn with_headers(&self, service: &Service, action: &Action, authorized: bool) -> Action {
        let Action::Forward {
            target_groups,
            unusable_weight,
        } = action
        else {
            return action.clone();
        };
        let mut target_groups = target_groups.clone();
        for backend in &mut target_groups {
            let arn = service
                .target_groups
                .get(&backend.id)
                .map_or("-", |tg| tg.arn.as_str());
            let set = |name: &str, value: String| HeaderValue {
                name: name.to_string(),
                value,
            };
            backend
                .filters
                .push(Filter::RequestHeaderModifier(HeaderModifier {
                    set: vec![
                        set(
                            "x-amzn-lattice-network",
                            format!("SourceVpcArn={}", self.source_vpc_arn),
                        ),
                        set(
                            "x-amzn-lattice-target",
                            format!(
                                "ServiceArn={}; ServiceNetworkArn={}; TargetGroupArn={arn}",
                                service.arn, self.arn
                            ),
                        ),
                        set("x-amzn-source-vpc", self.source_vpc.clone()),
                    ],
                    add: Vec::new(),
                    remove: if authorized {
                        Vec::new()
                    } else {
                        // Without auth policies, no request has a verified identity.
                        LATTICE_HEADERS[..2].iter().map(|h| h.to_string()).collect()
                    },
                }));
        }
        Action::Forward {
            target_groups,
            unusable_weight: *unusable_weight,
        }
    }
}
