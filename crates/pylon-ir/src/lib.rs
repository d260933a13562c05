//! Pylon's load balancer model: what an Application Load Balancer and a VPC Lattice service network
//! ([`lattice`]) can express, as plain data. The translator produces it; realizers make it real.
//!
//! Ids are hierarchical and stable: `ingress/demo/web` for a load balancer,
//! `ingress/demo/web/listener/HTTP-80` for its listener, `ingress/demo/web/tg/nginx:80` for a
//! target group.

pub mod lattice;
mod validate;

pub use lattice::ServiceNetwork;
pub use validate::IrError;

pub use ipnet::IpNet;
use pylon_model::ObjectRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Every load balancer, sorted by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ir {
    pub load_balancers: Vec<LoadBalancer>,
    /// VPC Lattice service networks, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_networks: Vec<ServiceNetwork>,
    /// Lattice services in no service network (the `standalone` annotation): they have their
    /// names and ARNs, but no network serves them here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standalone_services: Vec<lattice::Service>,
    /// Target groups of ServiceExports, standalone until a ServiceImport uses them; sorted by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exported_target_groups: Vec<lattice::LatticeTargetGroup>,
    /// The access keys Lattice auth policies know callers by, sorted by Secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<lattice::AwsCredential>,
}

impl Ir {
    /// Everything the data plane serves: the load balancers, and each service network as one.
    pub fn served(&self) -> Vec<std::borrow::Cow<'_, LoadBalancer>> {
        self.load_balancers
            .iter()
            .map(std::borrow::Cow::Borrowed)
            .chain(
                self.service_networks
                    .iter()
                    // Networks this cluster's VPC is not associated with are served elsewhere.
                    .filter(|sn| sn.associated && !sn.gateways.is_empty())
                    .map(|sn| std::borrow::Cow::Owned(sn.data_plane())),
            )
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Reachable from outside: bound in the public address pool.
    InternetFacing,
    /// Reachable only inside: bound in the internal address pool.
    Internal,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancer {
    pub id: String,
    /// The name an ALB would get (`k8s-<ns>-<name>-<hash>` or `load-balancer-name`).
    pub name: String,
    /// The object that asked for this load balancer (an IngressGroup's first member).
    pub origin: ObjectRef,
    /// The Ingresses of an IngressGroup (`group.name`), in the group's order; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<ObjectRef>,
    pub scheme: Scheme,
    /// Its own address from the scheme's pool; `None` when the pool is exhausted.
    pub address: Option<IpAddr>,
    /// `ipv4`, or IPv6 as well (`dualstack`, `dualstack-without-public-ipv4`).
    #[serde(default, skip_serializing_if = "IpAddressType::is_ipv4")]
    pub ip_address_type: IpAddressType,
    /// Its IPv6 address from the IPv6 pool when it is dual-stack; `None` otherwise or when the
    /// pool is exhausted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_v6: Option<IpAddr>,
    pub attributes: LoadBalancerAttributes,
    /// Sorted by port.
    pub listeners: Vec<Listener>,
    pub target_groups: BTreeMap<String, TargetGroup>,
}

impl LoadBalancer {
    /// The objects whose status it is: its origin, or every member of its IngressGroup.
    pub fn owners(&self) -> impl Iterator<Item = &ObjectRef> + '_ {
        let alone = self.members.is_empty().then_some(&self.origin);
        alone.into_iter().chain(&self.members)
    }

    /// Whether it is `object`'s load balancer.
    pub fn is_for(&self, object: &ObjectRef) -> bool {
        self.owners().any(|o| o == object)
    }

    /// The addresses its listeners are bound at: IPv4, then IPv6 when dual-stack.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.address.into_iter().chain(self.address_v6)
    }
}

/// A load balancer's `ip-address-type` / `ipAddressType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpAddressType {
    #[default]
    Ipv4,
    Dualstack,
    DualstackWithoutPublicIpv4,
}

impl IpAddressType {
    pub fn is_ipv4(&self) -> bool {
        *self == IpAddressType::Ipv4
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ipv4" => Some(IpAddressType::Ipv4),
            "dualstack" => Some(IpAddressType::Dualstack),
            "dualstack-without-public-ipv4" => Some(IpAddressType::DualstackWithoutPublicIpv4),
            _ => None,
        }
    }
}

/// ALB load balancer attributes Pylon honours (`alb.ingress.kubernetes.io/load-balancer-attributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerAttributes {
    /// `idle_timeout.timeout_seconds`: how long a request may wait on its target before 504.
    pub idle_timeout_seconds: u32,
}

impl Default for LoadBalancerAttributes {
    fn default() -> Self {
        // The ALB default idle timeout.
        LoadBalancerAttributes {
            idle_timeout_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Https,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    pub id: String,
    pub protocol: Protocol,
    pub port: u16,
    /// Evaluated by ascending priority; the first rule whose conditions all hold wins.
    pub rules: Vec<Rule>,
    /// What a request that matches no rule gets.
    pub default_action: Action,
    /// HTTPS: the certificates TLS is terminated with, chosen by SNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<ServerCertificate>,
}

/// A certificate an HTTPS listener serves. The key material stays out of plans and `/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerCertificate {
    /// The host name (exact, or `*.` wildcard) whose TLS handshakes get this certificate; none:
    /// every host name no other certificate of the listener names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The Secret it came from.
    pub secret: ObjectRef,
    /// The PEM certificate chain (`tls.crt`).
    #[serde(skip)]
    pub chain_pem: Vec<u8>,
    /// The PEM private key (`tls.key`).
    #[serde(skip)]
    pub key_pem: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// 1..N per listener, no gaps.
    pub priority: u32,
    /// The object (and the field in it) this rule was made from.
    pub origin: RuleOrigin,
    /// All must hold. An empty list matches every request.
    pub conditions: Vec<Condition>,
    /// Applied in order before the action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    pub action: Action,
    /// Lattice access logs: each request this rule takes is logged to these destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<lattice::RuleLog>,
    /// Lattice auth policies: each request is decided by them before the rule's action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<lattice::RuleAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleOrigin {
    pub object: ObjectRef,
    /// Such as `spec.rules[0].http.paths[1]`.
    pub field: String,
}

/// A rule condition with ALB semantics: a condition holds when any of its values matches.
/// Patterns use ALB wildcards: `*` matches any run of characters, `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "field", deny_unknown_fields)]
pub enum Condition {
    /// The request host (port removed), case-insensitive patterns.
    HostHeader { values: Vec<String> },
    /// The request path (no query), case-sensitive patterns (slashes included in `*`).
    /// `/foo` and `/foo/*` together express a path prefix.
    PathPattern { values: Vec<String> },
    /// A request header (name case-insensitive) whose value matches a case-insensitive pattern.
    #[serde(rename_all = "camelCase")]
    HttpHeader {
        http_header_name: String,
        values: Vec<String>,
    },
    /// The request method, exactly (case-sensitive).
    HttpRequestMethod { values: Vec<String> },
    /// A query parameter (key optional) matching case-insensitive patterns, after percent-decoding.
    QueryString { values: Vec<QueryStringPair> },
    /// The client's address (the connection's peer, not `X-Forwarded-For`) within a CIDR block.
    SourceIp { values: Vec<IpNet> },
    /// Gateway API path match: `Exact`, `PathPrefix` (whole segments; a trailing `/` is ignored)
    /// or `RegularExpression` (the whole path must match).
    Path { kind: MatchKind, value: String },
    /// Gateway API header match: the name is case-insensitive; an `Exact` value is compared as is.
    Header {
        name: String,
        kind: MatchKind,
        value: String,
    },
    /// Gateway API query parameter match: the name is compared exactly; the first value counts.
    QueryParam {
        name: String,
        kind: MatchKind,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MatchKind {
    Exact,
    PathPrefix,
    RegularExpression,
}

/// What a rule does to a request or response on its way (Gateway API filters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum Filter {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    /// Rewrites the request before it is forwarded.
    #[serde(rename_all = "camelCase")]
    UrlRewrite {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathModifier>,
    },
    /// Answers CORS preflight requests and adds CORS headers to responses for allowed origins.
    #[serde(rename_all = "camelCase")]
    Cors {
        /// Origins (`scheme://host[:port]`) where `*` matches any run of characters; `*` alone
        /// allows every origin.
        allow_origins: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allow_methods: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allow_headers: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        expose_headers: Vec<String>,
        allow_credentials: bool,
        max_age_seconds: u32,
    },
    /// Sends a copy of the request to another target group and ignores its answer.
    #[serde(rename_all = "camelCase")]
    RequestMirror {
        target_group: String,
        /// The share of requests mirrored, as numerator/denominator.
        numerator: u32,
        denominator: u32,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderModifier {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<HeaderValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<HeaderValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValue {
    pub name: String,
    pub value: String,
}

/// A path rewrite: the whole path, or the prefix the rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum PathModifier {
    #[serde(rename_all = "camelCase")]
    ReplaceFullPath { path: String },
    /// `matched` is the rule's PathPrefix match; it is replaced by `replacement`.
    #[serde(rename_all = "camelCase")]
    ReplacePrefixMatch {
        matched: String,
        replacement: String,
    },
}

/// Gateway API timeouts, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    /// The whole request, from the first byte received to the response sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ms: Option<u64>,
    /// One try at a target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_request_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryStringPair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", deny_unknown_fields)]
pub enum Action {
    /// Forward to target groups; with several, by weight.
    #[serde(rename_all = "camelCase")]
    Forward {
        target_groups: Vec<WeightedTargetGroup>,
        /// The weight of backends that could not be resolved: that share of requests gets 500,
        /// as the Gateway API asks.
        #[serde(default, skip_serializing_if = "is_zero")]
        unusable_weight: u32,
    },
    /// A Gateway API RequestRedirect: unset parts keep the request's own; the port is left out
    /// when it is the scheme's well-known one.
    #[serde(rename_all = "camelCase")]
    RouteRedirect {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheme: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathModifier>,
        status_code: u16,
    },
    /// Answer with a redirect built from the request, as an ALB redirect action does. Each part
    /// may use `#{protocol}`, `#{host}`, `#{port}`, `#{path}` (without its leading `/`) and
    /// `#{query}`; an unchanged part is written as the keyword alone.
    #[serde(rename_all = "camelCase")]
    Redirect {
        /// `HTTP`, `HTTPS` or `#{protocol}`.
        protocol: String,
        port: String,
        host: String,
        path: String,
        query: String,
        /// 301 or 302.
        status_code: u16,
    },
    /// Answer directly, as an ALB fixed-response action does.
    #[serde(rename_all = "camelCase")]
    FixedResponse {
        status_code: u16,
        content_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_body: Option<String>,
    },
}

impl Action {
    pub fn forward(target_group: impl Into<String>) -> Self {
        Action::Forward {
            target_groups: vec![WeightedTargetGroup {
                id: target_group.into(),
                weight: 1,
                filters: vec![],
            }],
            unusable_weight: 0,
        }
    }

    pub fn fixed(status_code: u16, message_body: Option<&str>) -> Self {
        Action::FixedResponse {
            status_code,
            content_type: "text/plain".to_string(),
            message_body: message_body.map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightedTargetGroup {
    pub id: String,
    pub weight: u32,
    /// Filters for requests sent to this target group only (Gateway API backendRef filters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Pod IPs at the container port.
    Ip,
    /// Every node at the Service's NodePort.
    Instance,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Ip => "ip",
            TargetType::Instance => "instance",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProtocolVersion {
    Http1,
    Http2,
    Grpc,
}

impl ProtocolVersion {
    /// As AWS spells it: `HTTP1`, `HTTP2`, `GRPC`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::Http1 => "HTTP1",
            ProtocolVersion::Http2 => "HTTP2",
            ProtocolVersion::Grpc => "GRPC",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetGroup {
    pub id: String,
    /// The name an ALB target group would get.
    pub name: String,
    /// The Service and port (as written) this group was made for.
    pub service: ObjectRef,
    pub service_port: String,
    pub target_type: TargetType,
    pub protocol: Protocol,
    pub protocol_version: ProtocolVersion,
    /// The traffic port: the container port (ip) or the NodePort (instance). Each target
    /// carries its own port too.
    pub port: u16,
    pub health_check: HealthCheck,
    /// How long requests in flight to a target that leaves the group may still take before they
    /// are cut (ALB `deregistration_delay.timeout_seconds`).
    #[serde(default = "TargetGroup::default_deregistration_delay")]
    pub deregistration_delay_seconds: u32,
    /// Sorted by address, then port.
    pub targets: Vec<Target>,
}

impl TargetGroup {
    /// The ALB's default deregistration delay.
    pub const DEFAULT_DEREGISTRATION_DELAY: u32 = 300;

    fn default_deregistration_delay() -> u32 {
        Self::DEFAULT_DEREGISTRATION_DELAY
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    /// The Pod (ip) or Node (instance) behind the address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    pub protocol: Protocol,
    pub port: HealthCheckPort,
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// HTTP codes that count as healthy: `200`, `200,202`, `200-299`.
    pub success_codes: String,
    /// Off: targets are never checked and stay in rotation (Lattice's `UNAVAILABLE`).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub enabled: bool,
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn is_yes(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthCheckPort {
    /// The port each target receives traffic on.
    TrafficPort,
    #[serde(untagged)]
    Port(u16),
}

impl LoadBalancer {
    pub fn target_group(&self, id: &str) -> Option<&TargetGroup> {
        self.target_groups.get(id)
    }
}
