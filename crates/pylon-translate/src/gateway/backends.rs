//! Route backends: Service references (with ReferenceGrant for other namespaces) turned into
//! target groups, with the AWS TargetGroupConfiguration settings the Gateway's class applies; and
//! the route filters turned into IR filters.

use super::status::reason;
use super::Flavor;
use crate::target_group::{self, Backend, BackendError, Owner, PortRef};
use crate::Options;
use gateway_api::apis::standard::httproutes::{
    HttpRouteRulesFilters, HttpRouteRulesFiltersRequestHeaderModifier,
    HttpRouteRulesFiltersRequestRedirectPathType, HttpRouteRulesFiltersRequestRedirectScheme,
    HttpRouteRulesFiltersType, HttpRouteRulesFiltersUrlRewritePathType,
};
use pylon_ir::{Action, Condition, Filter, HeaderModifier, HeaderValue, PathModifier, TargetGroup};
use pylon_model::aws::TargetGroupProps;
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// Why a reference is not usable, as a route's ResolvedRefs reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub reason: &'static str,
    pub message: String,
}

impl RefError {
    pub(super) fn new(reason: &'static str, message: impl Into<String>) -> Self {
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

    pub(super) fn warn(&mut self, message: String) {
        self.problems
            .push(Problem::warning(Some(self.route.clone()), None, message));
    }
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
