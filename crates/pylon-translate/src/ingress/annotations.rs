//! `alb.ingress.kubernetes.io/*` annotations: parsing, validation and defaults, with the AWS Load
//! Balancer Controller's rules for where each one may be set (Service annotations win for target
//! group and health check settings).

use crate::target_group::{HealthCheckPortSetting, TargetGroupSettings};
use crate::AlbOptions;
use pylon_ir::{HealthCheck, HealthCheckPort, IpAddressType, Protocol, Scheme, TargetType};
use pylon_model::{ObjectRef, Problem};
use std::collections::BTreeMap;

pub const PREFIX: &str = "alb.ingress.kubernetes.io/";

/// Annotations Pylon implements on an Ingress (load balancer and listener settings).
const LOAD_BALANCER: &[&str] = &[
    "scheme",
    "listen-ports",
    "load-balancer-name",
    "load-balancer-attributes",
    "ssl-redirect",
    // Read in `restrictions`: they fail closed.
    "inbound-cidrs",
    "mutual-authentication",
    "certificate-arn",
    "ip-address-type",
    // Read in `group`.
    "group.name",
    "group.order",
];

/// Per-backend annotations (`actions.<service>`, `conditions.<service>`), read from the Ingress.
pub const BACKEND_PREFIXES: [&str; 2] = ["actions.", "conditions."];

/// Annotations Pylon implements on an Ingress or its Services (Service wins).
const TARGET_GROUP: &[&str] = &[
    "target-type",
    "backend-protocol",
    "backend-protocol-version",
    "target-group-attributes",
    "healthcheck-port",
    "healthcheck-protocol",
    "healthcheck-path",
    "healthcheck-interval-seconds",
    "healthcheck-timeout-seconds",
    "healthy-threshold-count",
    "unhealthy-threshold-count",
    "success-codes",
    // Read in `restrictions`: they fail closed.
    "auth-type",
    "jwt-validation",
];

/// AWS infrastructure settings that have no counterpart in a load balancer that runs on this host.
const AWS_ONLY: &[&str] = &[
    "subnets",
    "security-groups",
    "manage-backend-security-group-rules",
    "security-group-prefix-lists",
    "customer-owned-ipv4-pool",
    "ipam-ipv4-pool-id",
    "minimum-load-balancer-capacity",
    "tags",
    "wafv2-acl-arn",
    "wafv2-acl-name",
    "waf-acl-id",
    "web-acl-id",
    "shield-advanced-protection",
];

/// Load balancer attributes an ALB accepts but Pylon does not act on (yet).
const IGNORED_ATTRIBUTES: &[&str] = &[
    "deletion_protection.enabled",
    "access_logs.s3.enabled",
    "access_logs.s3.bucket",
    "access_logs.s3.prefix",
    "routing.http2.enabled",
    "routing.http.drop_invalid_header_fields.enabled",
    "routing.http.desync_mitigation_mode",
    "routing.http.preserve_host_header.enabled",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
    "routing.http.xff_client_port.enabled",
    "routing.http.xff_header_processing.mode",
    "waf.fail_open.enabled",
    "client_keep_alive.seconds",
    "connection_logs.s3.enabled",
    "connection_logs.s3.bucket",
    "connection_logs.s3.prefix",
    "zonal_shift.config.enabled",
];

/// Annotations of one or more objects, looked up in order: the first object that has a key wins.
pub struct Annotations<'a> {
    layers: Vec<(&'a ObjectRef, Option<&'a BTreeMap<String, String>>)>,
}

/// A value and the object it was read from, so an error can name both.
pub struct Found<'a> {
    pub value: &'a str,
    pub object: &'a ObjectRef,
    pub key: String,
}

impl<'a> Annotations<'a> {
    pub fn new(layers: Vec<(&'a ObjectRef, Option<&'a BTreeMap<String, String>>)>) -> Self {
        Annotations { layers }
    }

    pub fn get(&self, name: &str) -> Option<Found<'a>> {
        let key = format!("{PREFIX}{name}");
        self.layers.iter().find_map(|(object, map)| {
            map.and_then(|m| m.get(&key)).map(|v| Found {
                value: v.trim(),
                object,
                key: key.clone(),
            })
        })
    }

    fn parse<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Box<Problem>> {
        match self.get(name) {
            None => Ok(None),
            Some(found) => parse(found.value)
                .map(Some)
                .map_err(|message| Box::new(found.problem(&message))),
        }
    }
}

impl Found<'_> {
    pub fn problem(&self, message: &str) -> Problem {
        Problem::error(
            Some(self.object.clone()),
            Some(field(&self.key)),
            format!("invalid {} {:?}: {message}", self.key, self.value),
        )
    }
}

/// Errors collected while reading several annotations, so that all of them are reported at once.
#[derive(Default)]
struct Errors(Vec<Problem>);

impl Errors {
    fn take<T>(&mut self, r: Result<Option<T>, Box<Problem>>) -> Option<T> {
        r.unwrap_or_else(|p| {
            self.0.push(*p);
            None
        })
    }

    fn push(&mut self, p: Problem) {
        self.0.push(p);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The field path of an annotation, as users see it in error messages.
pub fn field(key: &str) -> String {
    format!("metadata.annotations['{key}']")
}

/// Load balancer settings from an Ingress's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerSettings {
    pub scheme: Scheme,
    pub ip_address_type: IpAddressType,
    pub listen_ports: Vec<(Protocol, u16)>,
    pub name: Option<String>,
    pub idle_timeout_seconds: u32,
    /// `ssl-redirect`: the HTTPS port every HTTP listener redirects to.
    pub ssl_redirect: Option<u16>,
}

/// Reads the load balancer annotations of an Ingress; every invalid one is reported, and its
/// default stands in for it so that the rest of the Ingress can still be checked.
/// `prefer_tls` (the Ingress has `spec.tls` or `certificate-arn`) makes the default listener
/// HTTPS:443 instead of HTTP:80, as in the controller.
pub fn load_balancer(
    a: &Annotations<'_>,
    alb: &AlbOptions,
    prefer_tls: bool,
    warnings: &mut Vec<Problem>,
) -> (LoadBalancerSettings, Vec<Problem>) {
    let mut errors = Errors::default();
    let scheme = errors
        .take(a.parse("scheme", parse_scheme))
        .unwrap_or(alb.default_scheme);
    let ip_address_type = errors
        .take(a.parse("ip-address-type", |v| {
            IpAddressType::parse(v)
                .ok_or_else(|| "must be ipv4, dualstack or dualstack-without-public-ipv4".into())
        }))
        .unwrap_or_default();
    let listen_ports = errors
        .take(a.parse("listen-ports", parse_listen_ports))
        .unwrap_or_else(|| match prefer_tls {
            true => vec![(Protocol::Https, 443)],
            false => vec![(Protocol::Http, 80)],
        });
    let name = errors.take(a.parse("load-balancer-name", parse_load_balancer_name));
    let attributes = errors
        .take(a.parse("load-balancer-attributes", parse_string_map))
        .unwrap_or_default();
    let mut idle_timeout_seconds = pylon_ir::LoadBalancerAttributes::default().idle_timeout_seconds;
    for (key, value) in &attributes {
        match key.as_str() {
            "idle_timeout.timeout_seconds" => {
                if let Some(v) = errors.take(a.parse("load-balancer-attributes", |_| {
                    parse_int(value, 1, 4000)
                        .map_err(|e| format!("idle_timeout.timeout_seconds {e}"))
                })) {
                    idle_timeout_seconds = v;
                }
            }
            known if IGNORED_ATTRIBUTES.contains(&known) => {
                if let Some(found) = a.get("load-balancer-attributes") {
                    warnings.push(Problem::warning(
                        Some(found.object.clone()),
                        Some(field(&found.key)),
                        format!("load balancer attribute {known} is not supported by Pylon yet; ignored"),
                    ));
                }
            }
            unknown => {
                if let Some(found) = a.get("load-balancer-attributes") {
                    errors
                        .push(found.problem(&format!("unknown load balancer attribute {unknown}")));
                }
            }
        }
    }
    // Checked against the group's listeners once they are known.
    let ssl_redirect = errors.take(a.parse("ssl-redirect", |v| {
        v.parse::<u16>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| "must be a port from 1 to 65535".to_string())
    }));
    let settings = LoadBalancerSettings {
        scheme,
        ip_address_type,
        listen_ports,
        name,
        idle_timeout_seconds,
        ssl_redirect,
    };
    (settings, errors.0)
}

/// Reads target group settings from a Service's and an Ingress's annotations (in that order);
/// attributes that have no effect come back in `warnings`.
pub fn target_group(
    a: &Annotations<'_>,
    alb: &AlbOptions,
    warnings: &mut Vec<Problem>,
) -> Result<TargetGroupSettings, Vec<Problem>> {
    let mut errors = Errors::default();
    // `target-group-attributes`: `key=value` pairs separated by commas.
    let mut deregistration_delay = None;
    if let Some(found) = a.get("target-group-attributes") {
        let pairs = found
            .value
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")));
        let (delay, ignored, invalid) = crate::target_group::attributes(pairs);
        deregistration_delay = delay;
        for message in ignored {
            warnings.push(Problem::warning(
                Some(found.object.clone()),
                Some(field(&found.key)),
                format!("{message}; ignored"),
            ));
        }
        errors.0.extend(invalid.iter().map(|m| found.problem(m)));
    }
    let target_type = errors
        .take(a.parse("target-type", |v| parse_target_type(v, alb)))
        .unwrap_or(TargetType::Instance);
    // HTTPS: TLS to targets, their certificates not verified, as an ALB does.
    let backend_protocol = errors
        .take(a.parse("backend-protocol", parse_protocol))
        .unwrap_or(Protocol::Http);
    // HTTP2 and GRPC target groups are reached with HTTP/2 without TLS (h2c, prior knowledge).
    let protocol_version = errors
        .take(a.parse("backend-protocol-version", |v| match v {
            "HTTP1" => Ok(pylon_ir::ProtocolVersion::Http1),
            "HTTP2" => Ok(pylon_ir::ProtocolVersion::Http2),
            "GRPC" => Ok(pylon_ir::ProtocolVersion::Grpc),
            _ => Err("must be HTTP1, HTTP2 or GRPC".into()),
        }))
        .unwrap_or(pylon_ir::ProtocolVersion::Http1);
    let protocol = errors
        .take(a.parse("healthcheck-protocol", parse_protocol))
        .unwrap_or(backend_protocol);
    let port = errors
        .take(a.parse("healthcheck-port", parse_health_check_port))
        .unwrap_or(HealthCheckPortSetting::TrafficPort);
    let path = errors
        .take(a.parse("healthcheck-path", |v| {
            if v.starts_with('/') && v.len() <= 1024 {
                Ok(v.to_string())
            } else {
                Err("must start with / and be at most 1024 characters".into())
            }
        }))
        .unwrap_or_else(|| "/".to_string());
    // The ranges ELBv2 accepts for an HTTP target group.
    let interval = errors
        .take(a.parse("healthcheck-interval-seconds", |v| parse_int(v, 5, 300)))
        .unwrap_or(15);
    let timeout = errors
        .take(a.parse("healthcheck-timeout-seconds", |v| parse_int(v, 2, 120)))
        .unwrap_or(5);
    let healthy = errors
        .take(a.parse("healthy-threshold-count", |v| parse_int(v, 2, 10)))
        .unwrap_or(2);
    let unhealthy = errors
        .take(a.parse("unhealthy-threshold-count", |v| parse_int(v, 2, 10)))
        .unwrap_or(2);
    let codes = errors
        .take(a.parse("success-codes", parse_success_codes))
        .unwrap_or_else(|| "200".into());
    if timeout >= interval && errors.is_empty() {
        if let Some(found) = a
            .get("healthcheck-timeout-seconds")
            .or_else(|| a.get("healthcheck-interval-seconds"))
        {
            errors.push(found.problem(&format!(
                "the health check timeout ({timeout}s) must be shorter than its interval ({interval}s)"
            )));
        }
    }
    if !errors.is_empty() {
        return Err(errors.0);
    }
    Ok(TargetGroupSettings {
        target_type,
        protocol: backend_protocol,
        protocol_version,
        app_protocol_h2c: true,
        deregistration_delay_seconds: deregistration_delay
            .unwrap_or(pylon_ir::TargetGroup::DEFAULT_DEREGISTRATION_DELAY),
        health_check_port: port,
        health_check: HealthCheck {
            protocol,
            port: HealthCheckPort::TrafficPort,
            path,
            interval_seconds: interval,
            timeout_seconds: timeout,
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            success_codes: codes,
            enabled: true,
        },
    })
}

/// Warns about every `alb.ingress.kubernetes.io/*` annotation Pylon does not act on, so nothing is
/// dropped silently. `target_group_only` is set for Services, where only target group settings apply.
pub fn unsupported(
    object: &ObjectRef,
    map: Option<&BTreeMap<String, String>>,
    target_group_only: bool,
    warnings: &mut Vec<Problem>,
) {
    for key in map.into_iter().flat_map(|m| m.keys()) {
        let Some(name) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let per_backend = BACKEND_PREFIXES.iter().any(|p| name.starts_with(p));
        let supported = TARGET_GROUP.contains(&name)
            || (!target_group_only && (LOAD_BALANCER.contains(&name) || per_backend));
        if supported {
            continue;
        }
        let message = if AWS_ONLY.contains(&name) {
            format!("{key} configures AWS infrastructure and has no effect on Pylon's load balancer; ignored")
        } else if name.starts_with("auth-") {
            format!("{key} configures authentication, which Pylon does not enforce yet; it takes effect only with auth-type, and rules with auth-type cognito or oidc answer 503")
        } else if target_group_only && (LOAD_BALANCER.contains(&name) || per_backend) {
            format!("{key} is read from the Ingress, not from a Service; ignored")
        } else {
            format!("{key} is not supported by Pylon yet; ignored")
        };
        warnings.push(Problem::warning(
            Some(object.clone()),
            Some(field(key)),
            message,
        ));
    }
}

fn parse_scheme(v: &str) -> Result<Scheme, String> {
    match v {
        "internal" => Ok(Scheme::Internal),
        "internet-facing" => Ok(Scheme::InternetFacing),
        _ => Err("must be internal or internet-facing".into()),
    }
}

fn parse_protocol(v: &str) -> Result<Protocol, String> {
    match v {
        "HTTP" => Ok(Protocol::Http),
        "HTTPS" => Ok(Protocol::Https),
        _ => Err("must be HTTP or HTTPS".into()),
    }
}

fn parse_target_type(v: &str, alb: &AlbOptions) -> Result<TargetType, String> {
    match v {
        "ip" => crate::target_group::allowed(TargetType::Ip, alb),
        "instance" => Ok(TargetType::Instance),
        _ => Err("must be ip or instance".into()),
    }
}

/// `[{"HTTP": 80}, {"HTTPS": 443}]`: sorted by port; one protocol a port.
fn parse_listen_ports(v: &str) -> Result<Vec<(Protocol, u16)>, String> {
    let entries: Vec<BTreeMap<String, i64>> = serde_json::from_str(v).map_err(|e| {
        format!("must be a JSON list like [{{\"HTTP\": 80}}, {{\"HTTPS\": 443}}] ({e})")
    })?;
    let mut ports: BTreeMap<u16, Protocol> = BTreeMap::new();
    for (protocol, port) in entries.iter().flatten() {
        let protocol = match protocol.as_str() {
            "HTTP" => Protocol::Http,
            "HTTPS" => Protocol::Https,
            other => return Err(format!("listen protocol {other} must be HTTP or HTTPS")),
        };
        let port = u16::try_from(*port)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| format!("listen port {port} must be between 1 and 65535"))?;
        if let Some(previous) = ports.insert(port, protocol) {
            if previous != protocol {
                return Err(format!("port {port} is listed as both HTTP and HTTPS"));
            }
        }
    }
    if ports.is_empty() {
        return Err("lists no port".into());
    }
    Ok(ports
        .into_iter()
        .map(|(port, protocol)| (protocol, port))
        .collect())
}

/// ELBv2 names: 1–32 alphanumerics and hyphens, not starting or ending with a hyphen, not
/// starting with `internal-`.
fn parse_load_balancer_name(v: &str) -> Result<String, String> {
    let valid = !v.is_empty()
        && v.len() <= 32
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-')
        && !v.starts_with("internal-");
    if valid {
        Ok(v.to_string())
    } else {
        Err("must be 1-32 letters, digits and hyphens, not starting or ending with a hyphen or starting with internal-".into())
    }
}

/// `k1=v1,k2=v2`.
pub fn parse_string_map(v: &str) -> Result<BTreeMap<String, String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("{kv:?} is not key=value")),
        })
        .collect()
}

fn parse_int(v: &str, min: u32, max: u32) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from {min} to {max}"))
}

fn parse_health_check_port(v: &str) -> Result<HealthCheckPortSetting, String> {
    if v == "traffic-port" {
        return Ok(HealthCheckPortSetting::TrafficPort);
    }
    if let Ok(n) = v.parse::<u16>() {
        return if n >= 1 {
            Ok(HealthCheckPortSetting::Number(n))
        } else {
            Err("must be traffic-port, a port from 1 to 65535, or a Service port name".into())
        };
    }
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(HealthCheckPortSetting::Named(v.to_string()))
    } else {
        Err("must be traffic-port, a port from 1 to 65535, or a Service port name".into())
    }
}

/// ALB HTTP matchers: `200`, `200,202`, `200-299`; codes from 200 to 499.
fn parse_success_codes(v: &str) -> Result<String, String> {
    let code = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (200..=499).contains(c))
    };
    for part in v.split(',') {
        let ok = match part.split_once('-') {
            Some((lo, hi)) => matches!((code(lo), code(hi)), (Some(l), Some(h)) if l <= h),
            None => code(part).is_some(),
        };
        if !ok {
            return Err("must be HTTP codes from 200 to 499, as 200, 200,202 or 200-299".into());
        }
    }
    Ok(v.split(',').map(str::trim).collect::<Vec<_>>().join(","))
}
