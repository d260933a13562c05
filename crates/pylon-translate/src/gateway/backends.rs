//! Route backends: Service references (with ReferenceGrant for other namespaces) turned into
//! target groups, with the AWS TargetGroupConfiguration settings the Gateway's class applies; and
//! the route filters turned into IR filters.

use super::status::reason;
use super::Flavor;
use crate::target_group::{
    self, Backend, BackendError, HealthCheckPortSetting, Owner, PortRef, TargetGroupSettings,
};
use crate::Options;
use gateway_api::apis::standard::httproutes::{
    HttpRouteRulesFilters, HttpRouteRulesFiltersRequestHeaderModifier,
    HttpRouteRulesFiltersRequestRedirectPathType, HttpRouteRulesFiltersRequestRedirectScheme,
    HttpRouteRulesFiltersType, HttpRouteRulesFiltersUrlRewritePathType,
};
use pylon_ir::{
    Action, Condition, Filter, HeaderModifier, HeaderValue, HealthCheck, HealthCheckPort,
    PathModifier, Protocol, ProtocolVersion, TargetGroup, TargetType,
};
use pylon_model::aws::{HealthCheckConfiguration, TargetGroupProps};
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// Why a reference is not usable, as a route's ResolvedRefs reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub reason: &'static str,
    pub message: String,
}

impl RefError {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        RefError {
            reason,
            message: message.into(),
        }
    }
}

/// Everything backend resolution needs about the Gateway and the route.
pub struct Backends<'a> {
    pub snapshot: &'a Snapshot,
    pub options: &'a Options,
    pub flavor: Flavor,
    pub lb_id: &'a str,
    /// The Gateway's default TargetGroupConfiguration props (from its LoadBalancerConfiguration).
    pub default_props: Option<&'a TargetGroupProps>,
    pub route: &'a ObjectRef,
    pub route_kind: Kind,
    /// Whether the listener is plaintext HTTP: an ALB speaks HTTP/1.1 to targets behind it.
    pub plaintext: bool,
    /// Whether the load balancer is dual-stack (IPv6 targets allowed).
    pub dualstack: bool,
    pub target_groups: &'a mut BTreeMap<String, TargetGroup>,
    pub problems: &'a mut Vec<Problem>,
}

impl Backends<'_> {
    /// Resolves a backend reference to the id of its target group.
    pub fn resolve(
        &mut self,
        group: Option<&str>,
        kind: Option<&str>,
        name: &str,
        namespace: Option<&str>,
        port: Option<i32>,
    ) -> Result<String, RefError> {
        let group = group.unwrap_or("");
        let kind = kind.unwrap_or("Service");
        let route_ns = self.route.namespace.as_deref().unwrap_or_default();
        if !(group.is_empty() || group == "core") || kind != "Service" {
            return Err(RefError::new(
                reason::INVALID_KIND,
                format!("backendRef {name} is a {kind} of group {group:?}: only Services (group \"\") are supported"),
            ));
        }
        let ns = namespace.unwrap_or(route_ns);
        if ns != route_ns
            && !permitted(
                self.snapshot,
                self.route_kind,
                route_ns,
                Kind::Service,
                ns,
                name,
            )
        {
            return Err(RefError::new(
                reason::REF_NOT_PERMITTED,
                format!("backendRef to Service {ns}/{name} is not permitted: no ReferenceGrant in namespace {ns} allows {} from namespace {route_ns}", self.route_kind),
            ));
        }
        let Some(port) = port else {
            return Err(RefError::new(
                reason::BACKEND_NOT_FOUND,
                format!("backendRef to Service {ns}/{name} needs a port"),
            ));
        };
        let port = PortRef::Number(port);
        let backend = Backend {
            lb_id: self.lb_id,
            cluster_name: &self.options.cluster_name,
            namespace: ns,
            service: name,
            port: &port,
            qualify_namespace: true,
            owner: Owner::Route(self.route),
            dualstack: self.dualstack,
        };
        let mut id = backend.target_group_id();
        let mut settings = None;
        if self.downgrades() {
            // Behind an HTTP listener an ALB reaches targets over HTTP/1.1 whatever the route
            // or its TargetGroupConfiguration asks: a group of its own, so that the route's
            // HTTPS listeners keep theirs.
            let s = self.settings(ns, name, &port)?;
            if !s.app_protocol_h2c {
                id.push_str("/HTTP1");
            }
            settings = Some(s);
        }
        if self.target_groups.contains_key(&id) {
            return Ok(id);
        }
        let settings = match settings {
            Some(s) => s,
            None => self.settings(ns, name, &port)?,
        };
        match target_group::build(&backend, &settings, self.snapshot) {
            Ok(mut tg) => {
                tg.id.clone_from(&id);
                self.target_groups.insert(id.clone(), tg);
                Ok(id)
            }
            Err(BackendError::ServiceNotFound(s)) => Err(RefError::new(
                reason::BACKEND_NOT_FOUND,
                format!("{s} does not exist"),
            )),
            Err(BackendError::Unusable(s, why)) => Err(RefError::new(
                reason::BACKEND_NOT_FOUND,
                format!("{s}: {why}"),
            )),
        }
    }

    /// Target group settings: the class's defaults, then the Gateway's default
    /// TargetGroupConfiguration, then the Service's own (its defaultConfiguration, then the
    /// routeConfiguration that names this route), each field replacing the one before.
    /// Whether target groups are HTTP1 whatever is asked: behind an ALB's HTTP listener.
    fn downgrades(&self) -> bool {
        self.flavor == Flavor::Alb && self.plaintext && !self.options.alb.h2c_behind_http_listeners
    }

    /// Target group settings for a Service port; behind an ALB's HTTP listener the protocol
    /// version is HTTP1 (`app_protocol_h2c` false when that changed what was asked).
    fn settings(
        &mut self,
        namespace: &str,
        service: &str,
        port: &PortRef,
    ) -> Result<TargetGroupSettings, RefError> {
        let mut props = TargetGroupProps::default();
        let service_tgc = self.snapshot.target_group_configurations().find(|c| {
            c.metadata.namespace.as_deref() == Some(namespace)
                && c.spec.target_reference.as_ref().is_some_and(|r| {
                    r.name == service && r.kind.as_deref().unwrap_or("Service") == "Service"
                })
        });
        let route_specific = service_tgc.and_then(|c| {
            c.spec.route_configurations.iter().flatten().find(|rc| {
                let id = &rc.route_identifier;
                id.kind
                    .as_deref()
                    .is_none_or(|k| k == self.route_kind.name())
                    && id
                        .namespace
                        .as_deref()
                        .is_none_or(|n| Some(n) == self.route.namespace.as_deref())
                    && id.name.as_deref().is_none_or(|n| n == self.route.name)
            })
        });
        for layer in [
            self.default_props,
            service_tgc.and_then(|c| c.spec.default_configuration.as_ref()),
            route_specific.map(|rc| &rc.target_group_props),
        ]
        .into_iter()
        .flatten()
        {
            merge(&mut props, layer);
        }
        let target_type = match props.target_type.as_deref() {
            Some("ip") => {
                target_group::allowed(TargetType::Ip, &self.options.alb).map_err(|why| {
                    RefError::new(
                        reason::BACKEND_NOT_FOUND,
                        format!("Service {namespace}/{service}: {why}"),
                    )
                })?
            }
            Some("instance") => TargetType::Instance,
            Some(other) => {
                self.warn(format!(
                    "targetType {other:?} is not ip or instance; using the default"
                ));
                self.flavor.default_target_type()
            }
            None => self.flavor.default_target_type(),
        };
        let protocol_version = match props.protocol_version.as_deref() {
            Some("HTTP2") => ProtocolVersion::Http2,
            Some("GRPC") => ProtocolVersion::Grpc,
            _ if self.route_kind == Kind::GRPCRoute => ProtocolVersion::Grpc,
            _ => ProtocolVersion::Http1,
        };
        let asked = match protocol_version {
            ProtocolVersion::Http1
                if target_group::h2c_port(self.snapshot, namespace, service, port) =>
            {
                ProtocolVersion::Http2
            }
            v => v,
        };
        let mut app_protocol_h2c = true;
        let protocol_version = if self.downgrades() && asked != ProtocolVersion::Http1 {
            self.warn(format!(
                "Service {namespace}/{service} port {port} is reached over HTTP1 behind the HTTP listener, as on an ALB, not {asked}: {asked} needs an HTTPS listener (or Pylon's --h2c-behind-http-listeners)",
                asked = asked.as_str(),
            ));
            app_protocol_h2c = false;
            ProtocolVersion::Http1
        } else {
            protocol_version
        };
        let grpc = protocol_version == ProtocolVersion::Grpc;
        // HTTPS: TLS to targets, their certificates not verified, as an ALB does.
        let protocol = match props.protocol.as_deref() {
            None | Some("HTTP") => Protocol::Http,
            Some("HTTPS") => Protocol::Https,
            Some(other) => {
                return Err(RefError::new(
                    reason::BACKEND_NOT_FOUND,
                    format!("Service {namespace}/{service}: TargetGroupConfiguration protocol {other:?} must be HTTP or HTTPS on an ALB"),
                ))
            }
        };
        let (health_check, health_check_port) =
            health_check(props.health_check_config.as_ref(), grpc, protocol).map_err(|why| {
                RefError::new(
                    reason::BACKEND_NOT_FOUND,
                    format!("Service {namespace}/{service}: TargetGroupConfiguration healthCheckConfig {why}"),
                )
            })?;
        let (delay, ignored, invalid) = target_group::attributes(
            props
                .target_group_attributes
                .iter()
                .flatten()
                .map(|kv| (kv.key.as_str(), kv.value.as_str())),
        );
        for message in ignored {
            self.warn(format!("targetGroupAttributes: {message}; ignored"));
        }
        for message in invalid {
            self.warn(format!(
                "targetGroupAttributes: {message}; using the default"
            ));
        }
        Ok(TargetGroupSettings {
            target_type,
            protocol,
            health_check_port,
            health_check,
            protocol_version,
            app_protocol_h2c,
            deregistration_delay_seconds: delay
                .unwrap_or(pylon_ir::TargetGroup::DEFAULT_DEREGISTRATION_DELAY),
        })
    }

    fn warn(&mut self, message: String) {
        self.problems
            .push(Problem::warning(Some(self.route.clone()), None, message));
    }
}

/// Field-by-field: a set field replaces; `healthCheckConfig` is replaced as a whole, as the
/// controller merges TargetGroupConfigurations.
fn merge(into: &mut TargetGroupProps, from: &TargetGroupProps) {
    macro_rules! take {
        ($($field:ident),*) => {$(
            if from.$field.is_some() {
                into.$field = from.$field.clone();
            }
        )*};
    }
    take!(
        target_group_name,
        ip_address_type,
        health_check_config,
        node_selector,
        target_group_attributes,
        target_type,
        protocol,
        protocol_version,
        target_control_port,
        enable_multi_cluster,
        tags
    );
}

/// The Gateway defaults of the controller: HTTP on the traffic port, `/`, every 15 s with a 5 s
/// timeout, 3 passes or failures to change state, codes 200-399.
/// A TargetGroupConfiguration's health check over the controller's defaults; GRPC target groups
/// are checked with a gRPC call to `/AWS.ALB/healthcheck` that passes on gRPC status 12
/// (UNIMPLEMENTED: the server answered).
fn health_check(
    config: Option<&HealthCheckConfiguration>,
    grpc: bool,
    protocol: Protocol,
) -> Result<(HealthCheck, HealthCheckPortSetting), String> {
    let c = config.cloned().unwrap_or_default();
    let positive = |v: Option<i32>, default: u32| {
        v.and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default)
    };
    let port = match c.health_check_port.as_deref() {
        Some(p) if p != "traffic-port" => p.parse::<u16>().map_or(
            HealthCheckPortSetting::TrafficPort,
            HealthCheckPortSetting::Number,
        ),
        _ => HealthCheckPortSetting::TrafficPort,
    };
    let protocol = match c.health_check_protocol.as_deref() {
        None => protocol,
        Some("HTTP") => Protocol::Http,
        Some("HTTPS") => Protocol::Https,
        Some(other) => {
            return Err(format!(
                "healthCheckProtocol {other:?} must be HTTP or HTTPS on an ALB"
            ))
        }
    };
    Ok((
        HealthCheck {
            protocol,
            port: HealthCheckPort::TrafficPort,
            path: c
                .health_check_path
                .unwrap_or_else(|| if grpc { "/AWS.ALB/healthcheck" } else { "/" }.to_string()),
            interval_seconds: positive(c.health_check_interval, 15),
            timeout_seconds: positive(c.health_check_timeout, 5),
            healthy_threshold: positive(c.healthy_threshold_count, 3),
            unhealthy_threshold: positive(c.unhealthy_threshold_count, 3),
            success_codes: match (c.matcher, grpc) {
                (Some(m), true) => m.grpc_code,
                (Some(m), false) => m.http_code,
                (None, _) => None,
            }
            .unwrap_or_else(|| if grpc { "12" } else { "200-399" }.to_string()),
            enabled: true,
        },
        port,
    ))
}

/// Whether a ReferenceGrant in `to_namespace` lets `from_kind` objects of `from_namespace` refer
/// to the `to_kind` named `to_name`.
pub fn permitted(
    snapshot: &Snapshot,
    from_kind: Kind,
    from_namespace: &str,
    to_kind: Kind,
    to_namespace: &str,
    to_name: &str,
) -> bool {
    snapshot
        .reference_grants()
        .filter(|g| g.metadata.namespace.as_deref() == Some(to_namespace))
        .any(|g| {
            g.spec.from.iter().any(|f| {
                f.group == from_kind.group()
                    && f.kind == from_kind.name()
                    && f.namespace == from_namespace
            }) && g.spec.to.iter().any(|t| {
                t.group == to_kind.group()
                    && t.kind == to_kind.name()
                    && t.name
                        .as_deref()
                        .is_none_or(|n| n.is_empty() || n == to_name)
            })
        })
}

/// The IR form of a rule's filters.
#[derive(Debug, Default)]
pub struct RuleFilters {
    pub filters: Vec<Filter>,
    /// A RequestRedirect replaces the rule's forwarding.
    pub redirect: Option<Action>,
    /// Conditions an AWS ListenerRuleConfiguration adds (source-ip).
    pub conditions: Vec<Condition>,
    /// Mirror backends that could not be resolved.
    pub unresolved: Vec<RefError>,
    /// A ListenerRuleConfiguration action that restricts access (authentication, JWT
    /// validation), which Pylon does not enforce yet: the rule is not served.
    pub not_served: Option<String>,
}

/// Translates filters. `prefix` is the match's PathPrefix value, which ReplacePrefixMatch needs.
/// An error is a filter Pylon cannot honour: the route is not accepted (reason, message).
pub fn filters(
    list: &[HttpRouteRulesFilters],
    prefix: Option<&str>,
    backends: &mut Backends<'_>,
) -> Result<RuleFilters, RefError> {
    let mut out = RuleFilters::default();
    let header_modifier = |set: Vec<(String, String)>,
                           add: Vec<(String, String)>,
                           remove: Vec<String>| HeaderModifier {
        set: set
            .into_iter()
            .map(|(name, value)| HeaderValue { name, value })
            .collect(),
        add: add
            .into_iter()
            .map(|(name, value)| HeaderValue { name, value })
            .collect(),
        remove,
    };
    let path_modifier = |full: Option<&String>,
                         prefix_match: Option<&String>,
                         replace_prefix: bool|
     -> Result<PathModifier, RefError> {
        if replace_prefix {
            let matched = prefix.ok_or_else(|| {
                RefError::new(
                    reason::UNSUPPORTED_VALUE,
                    "ReplacePrefixMatch needs the rule to have exactly one PathPrefix match",
                )
            })?;
            Ok(PathModifier::ReplacePrefixMatch {
                matched: matched.to_string(),
                replacement: prefix_match.cloned().unwrap_or_else(|| "/".into()),
            })
        } else {
            Ok(PathModifier::ReplaceFullPath {
                path: full.cloned().unwrap_or_else(|| "/".into()),
            })
        }
    };
    for f in list {
        match f.r#type {
            HttpRouteRulesFiltersType::RequestHeaderModifier
            | HttpRouteRulesFiltersType::ResponseHeaderModifier => {
                let request = f.r#type == HttpRouteRulesFiltersType::RequestHeaderModifier;
                // Both modifiers have the same shape; read the response one as a request one.
                let m: HttpRouteRulesFiltersRequestHeaderModifier = if request {
                    f.request_header_modifier.clone().unwrap_or_default()
                } else {
                    f.response_header_modifier
                        .as_ref()
                        .and_then(super::routes::reshape)
                        .unwrap_or_default()
                };
                let pairs = |list: Option<Vec<(String, String)>>| list.unwrap_or_default();
                let (set, add, remove) = (
                    pairs(
                        m.set
                            .map(|l| l.into_iter().map(|h| (h.name, h.value)).collect()),
                    ),
                    pairs(
                        m.add
                            .map(|l| l.into_iter().map(|h| (h.name, h.value)).collect()),
                    ),
                    m.remove.unwrap_or_default(),
                );
                let m = header_modifier(set, add, remove);
                out.filters.push(if request {
                    Filter::RequestHeaderModifier(m)
                } else {
                    Filter::ResponseHeaderModifier(m)
                });
            }
            HttpRouteRulesFiltersType::RequestRedirect => {
                let r = f.request_redirect.clone().unwrap_or_default();
                let path = match &r.path {
                    Some(p) => Some(path_modifier(
                        p.replace_full_path.as_ref(),
                        p.replace_prefix_match.as_ref(),
                        p.r#type
                            == HttpRouteRulesFiltersRequestRedirectPathType::ReplacePrefixMatch,
                    )?),
                    None => None,
                };
                let status_code = r.status_code.unwrap_or(302);
                if ![301, 302, 303, 307, 308].contains(&status_code) {
                    return Err(RefError::new(
                        reason::UNSUPPORTED_VALUE,
                        format!(
                            "redirect statusCode {status_code} is not 301, 302, 303, 307 or 308"
                        ),
                    ));
                }
                out.redirect = Some(Action::RouteRedirect {
                    scheme: r.scheme.map(|s| match s {
                        HttpRouteRulesFiltersRequestRedirectScheme::Http => "http".to_string(),
                        HttpRouteRulesFiltersRequestRedirectScheme::Https => "https".to_string(),
                    }),
                    hostname: r.hostname,
                    port: r.port.and_then(|p| u16::try_from(p).ok()),
                    path,
                    status_code: status_code as u16,
                });
            }
            HttpRouteRulesFiltersType::UrlRewrite => {
                let r = f.url_rewrite.clone().unwrap_or_default();
                let path = match &r.path {
                    Some(p) => Some(path_modifier(
                        p.replace_full_path.as_ref(),
                        p.replace_prefix_match.as_ref(),
                        p.r#type == HttpRouteRulesFiltersUrlRewritePathType::ReplacePrefixMatch,
                    )?),
                    None => None,
                };
                out.filters.push(Filter::UrlRewrite {
                    hostname: r.hostname,
                    path,
                });
            }
            HttpRouteRulesFiltersType::RequestMirror => {
                let Some(m) = &f.request_mirror else { continue };
                let r = &m.backend_ref;
                let (numerator, denominator) = match (&m.fraction, m.percent) {
                    (Some(fr), _) => (fr.numerator, fr.denominator.unwrap_or(100)),
                    (None, Some(p)) => (p, 100),
                    (None, None) => (100, 100),
                };
                if numerator < 0 || denominator <= 0 || numerator > denominator {
                    return Err(RefError::new(
                        reason::UNSUPPORTED_VALUE,
                        "requestMirror fraction must be between 0 and 1",
                    ));
                }
                match backends.resolve(
                    r.group.as_deref(),
                    r.kind.as_deref(),
                    &r.name,
                    r.namespace.as_deref(),
                    r.port,
                ) {
                    Ok(target_group) => out.filters.push(Filter::RequestMirror {
                        target_group,
                        numerator: numerator as u32,
                        denominator: denominator as u32,
                    }),
                    Err(e) => out.unresolved.push(e),
                }
            }
            HttpRouteRulesFiltersType::ExtensionRef => {
                let Some(e) = &f.extension_ref else { continue };
                let ours = backends.flavor == Flavor::Alb
                    && e.group == "gateway.k8s.aws"
                    && e.kind == "ListenerRuleConfiguration";
                if !ours {
                    return Err(RefError::new(
                        reason::UNSUPPORTED_VALUE,
                        format!(
                            "extensionRef to {} {} of group {:?} is not supported",
                            e.kind, e.name, e.group
                        ),
                    ));
                }
                let ns = backends.route.namespace.clone().unwrap_or_default();
                let Some(lrc) = backends.snapshot.listener_rule_configuration(&ns, &e.name) else {
                    return Err(RefError::new(
                        reason::UNSUPPORTED_VALUE,
                        format!("ListenerRuleConfiguration {ns}/{} does not exist", e.name),
                    ));
                };
                for c in lrc.spec.conditions.iter().flatten() {
                    let values = c
                        .source_ip_config
                        .as_ref()
                        .map(|s| s.values.clone())
                        .unwrap_or_default();
                    let nets: Result<Vec<_>, _> = values.iter().map(|v| v.parse()).collect();
                    match (c.field.as_str(), nets) {
                        ("source-ip", Ok(values)) if !values.is_empty() => {
                            out.conditions.push(Condition::SourceIp { values })
                        }
                        _ => {
                            return Err(RefError::new(
                                reason::UNSUPPORTED_VALUE,
                                format!(
                                "ListenerRuleConfiguration {ns}/{}: condition {} needs CIDR values",
                                e.name, c.field
                            ),
                            ))
                        }
                    }
                }
                for (i, action) in lrc.spec.actions.iter().flatten().enumerate() {
                    let kind = action.get("type").and_then(|t| t.as_str()).unwrap_or("");
                    let restricting = [
                        "authenticate-cognito",
                        "authenticate-oidc",
                        "jwt-validation",
                    ]
                    .contains(&kind)
                        || [
                            "authenticateCognitoConfig",
                            "authenticateOIDCConfig",
                            "jwtValidationConfig",
                        ]
                        .iter()
                        .any(|k| action.get(k).is_some());
                    if restricting {
                        let setting = format!(
                            "ListenerRuleConfiguration {ns}/{} spec.actions[{i}]",
                            e.name
                        );
                        backends.problems.push(Problem::error(
                            Some(backends.route.clone()),
                            None,
                            crate::restriction::message(&setting, "this rule"),
                        ));
                        out.not_served.get_or_insert(setting);
                    } else {
                        backends.warn(format!("ListenerRuleConfiguration {ns}/{}: action {kind:?} (spec.actions[{i}]) is not supported by Pylon yet; ignored", e.name));
                    }
                }
            }
            HttpRouteRulesFiltersType::Cors => {
                let c = f.cors.clone().unwrap_or_default();
                out.filters.push(Filter::Cors {
                    allow_origins: c.allow_origins.unwrap_or_default(),
                    allow_methods: c.allow_methods.unwrap_or_default(),
                    allow_headers: c.allow_headers.unwrap_or_default(),
                    expose_headers: c.expose_headers.unwrap_or_default(),
                    allow_credentials: c.allow_credentials.unwrap_or(false),
                    // The spec's default.
                    max_age_seconds: c.max_age.and_then(|a| u32::try_from(a).ok()).unwrap_or(5),
                });
            }
        }
    }
    Ok(out)
}
