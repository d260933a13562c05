//! The target group settings of a route's backend: the class's defaults, the Gateway's default
//! TargetGroupConfiguration and the Service's own, merged as the controller merges them, and the
//! protocol version an ALB's listener allows.

use super::backends::{Backends, RefError};
use super::status::reason;
use super::Flavor;
use crate::target_group::{self, HealthCheckPortSetting, PortRef, TargetGroupSettings};
use pylon_ir::{HealthCheck, HealthCheckPort, Protocol, ProtocolVersion, TargetType};
use pylon_model::aws::{HealthCheckConfiguration, TargetGroupProps};
use pylon_model::Kind;

impl Backends<'_> {
    /// Whether target groups are HTTP1 whatever is asked: behind an ALB's HTTP listener.
    pub(super) fn downgrades(&self) -> bool {
        self.flavor == Flavor::Alb && self.plaintext && !self.options.alb.h2c_behind_http_listeners
    }

    /// Target group settings: the class's defaults, then the Gateway's default
    /// TargetGroupConfiguration, then the Service's own (its defaultConfiguration, then the
    /// routeConfiguration that names this route), each field replacing the one before.
    /// Behind an ALB's HTTP listener the protocol
    /// version is HTTP1 (`app_protocol_h2c` false when that changed what was asked).
    pub(super) fn settings(
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
