//! Service backends → target groups: which targets (pod IPs or node ports) and which health check.

use crate::names;
use crate::AlbOptions;
use pylon_ir::{
    HealthCheck, HealthCheckPort, Protocol, ProtocolVersion, Target, TargetGroup, TargetType,
};
use pylon_model::k8s_openapi::api::core::v1::{Service, ServicePort};
use pylon_model::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pylon_model::{Kind, ObjectRef, Snapshot};
use std::fmt;
use std::net::IpAddr;

/// A Service port as a backend names it: by number or by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortRef {
    Number(i32),
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

/// `healthcheck-port` before it is resolved against the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheckPortSetting {
    TrafficPort,
    Number(u16),
    /// A Service port name: its NodePort (instance) or numeric targetPort (ip).
    Named(String),
}

/// Target group settings after annotations and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSettings {
    pub target_type: TargetType,
    /// HTTP, or HTTPS: TLS to targets (certificates not verified, as an ALB).
    pub protocol: Protocol,
    pub health_check_port: HealthCheckPortSetting,
    pub health_check: HealthCheck,
    pub protocol_version: ProtocolVersion,
    /// Whether a Service port of `appProtocol: kubernetes.io/h2c` makes an HTTP1 group HTTP2
    /// (the Gateway API's backend protocol selection); not behind an ALB's HTTP listener.
    pub app_protocol_h2c: bool,
    pub deregistration_delay_seconds: u32,
}

/// Target group attributes (`key=value` pairs, as the ALB takes them): the deregistration delay is
/// read; other attributes have no effect and come back as warnings. An invalid delay is an error.
pub fn attributes<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Option<u32>, Vec<String>, Vec<String>) {
    let (mut delay, mut warnings, mut errors) = (None, Vec::new(), Vec::new());
    for (key, value) in pairs {
        match key.trim() {
            "deregistration_delay.timeout_seconds" => match value.trim().parse::<u32>() {
                Ok(v) if v <= 3600 => delay = Some(v),
                _ => errors.push(format!(
                    "deregistration_delay.timeout_seconds {value:?} must be a number of seconds from 0 to 3600"
                )),
            },
            other => warnings.push(format!(
                "target group attribute {other} has no effect in Pylon"
            )),
        }
    }
    (delay, warnings, errors)
}

/// A target type as the controller's `--enable-ip-target-type` allows it.
pub fn allowed(target_type: TargetType, alb: &AlbOptions) -> Result<TargetType, String> {
    match target_type {
        TargetType::Ip if !alb.enable_ip_target_type => Err(
            "unsupported targetType: ip when EnableIPTargetType is false (--enable-ip-target-type)"
                .into(),
        ),
        t => Ok(t),
    }
}

/// Why a backend could not become a target group. The message names the Service and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The Service does not exist: the ALB controller answers 503 for such paths.
    ServiceNotFound(ObjectRef),
    /// Anything else about the Service or port that makes the backend unusable.
    Unusable(ObjectRef, String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::ServiceNotFound(s) => {
                write!(
                    f,
                    "backend {s} does not exist: requests to it get 503 until it is created"
                )
            }
            BackendError::Unusable(s, why) => write!(f, "backend {s}: {why}"),
        }
    }
}

/// What a target group is for: its load balancer, the Service and port, and the names that go
/// into its id and generated name.
pub struct Backend<'a> {
    pub lb_id: &'a str,
    pub cluster_name: &'a str,
    pub namespace: &'a str,
    pub service: &'a str,
    pub port: &'a PortRef,
    /// Whether the id names the Service's namespace (Gateway API backends may cross namespaces).
    pub qualify_namespace: bool,
    /// Whose target group it is, which its id and generated name say.
    pub owner: Owner<'a>,
    /// Whether its load balancer is dual-stack: only then may ip targets be IPv6, as the
    /// controller has it.
    pub dualstack: bool,
}

/// Whose target group a backend's is: the controllers make them per route (ALB Gateways) or
/// per Ingress of an IngressGroup, Lattice per Service port of a service.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    LoadBalancer,
    Route(&'a ObjectRef),
    Ingress {
        ingress: &'a ObjectRef,
        /// The IngressGroup's id (`ns/name` for an Ingress alone, the group name otherwise).
        group: &'a str,
        /// Whether the id names the Ingress (explicit groups, whose members may share Services).
        in_id: bool,
    },
}

impl Backend<'_> {
    /// `<lb>/tg/[<namespace>/]<service>:<port>`, built without the formatting machinery: it is
    /// computed for every backend reference of every rule.
    pub fn target_group_id(&self) -> String {
        use std::fmt::Write;
        let mut id = String::with_capacity(
            self.lb_id.len() + self.namespace.len() + self.service.len() + 16,
        );
        id.push_str(self.lb_id);
        id.push_str("/tg/");
        let named = match self.owner {
            Owner::Route(route) => Some(route),
            Owner::Ingress {
                ingress,
                in_id: true,
                ..
            } => Some(ingress),
            _ => None,
        };
        if let Some(object) = named {
            id.push_str(&object.kind);
            id.push('/');
            id.push_str(object.namespace.as_deref().unwrap_or_default());
            id.push('/');
            id.push_str(&object.name);
            id.push('/');
        }
        if self.qualify_namespace {
            id.push_str(self.namespace);
            id.push('/');
        }
        id.push_str(self.service);
        id.push(':');
        match self.port {
            PortRef::Name(name) => id.push_str(name),
            PortRef::Number(n) => {
                let _ = write!(id, "{n}");
            }
        }
        id
    }

    fn service_ref(&self) -> ObjectRef {
        ObjectRef::namespaced(Kind::Service, self.namespace, self.service)
    }
}

/// Builds the target group for one backend.
pub fn build(
    backend: &Backend<'_>,
    settings: &TargetGroupSettings,
    snapshot: &Snapshot,
) -> Result<TargetGroup, BackendError> {
    let service_ref = backend.service_ref();
    let service = snapshot
        .service(backend.namespace, backend.service)
        .ok_or_else(|| BackendError::ServiceNotFound(service_ref.clone()))?;
    let unusable = |why: String| BackendError::Unusable(service_ref.clone(), why);
    let port = find_port(service, backend.port)
        .ok_or_else(|| unusable(format!("has no port {} in spec.ports", backend.port)))?;
    // An ip target group takes the Service's first IP family, as the controller does.
    let ipv6 = settings.target_type == TargetType::Ip && first_family_is_ipv6(service);
    if ipv6 && !backend.dualstack {
        return Err(unusable(
            "unsupported IPv6 configuration, lb not dual-stack (the Service's first ipFamily is IPv6: make the load balancer dualstack)".into(),
        ));
    }
    let (tg_port, targets) = match settings.target_type {
        TargetType::Ip => (ip_port(port), ip_targets(snapshot, backend, port, ipv6)),
        TargetType::Instance => {
            let node_port = instance_port(service, port).map_err(unusable)?;
            (node_port, instance_targets(snapshot, node_port))
        }
    };
    let mut health_check = settings.health_check.clone();
    health_check.port = match &settings.health_check_port {
        HealthCheckPortSetting::TrafficPort => HealthCheckPort::TrafficPort,
        HealthCheckPortSetting::Number(n) => HealthCheckPort::Port(*n),
        HealthCheckPortSetting::Named(name) => {
            let named = find_port(service, &PortRef::Name(name.clone())).ok_or_else(|| {
                unusable(format!(
                    "healthcheck-port {name} is not a port of the Service"
                ))
            })?;
            HealthCheckPort::Port(match settings.target_type {
                TargetType::Instance => instance_port(service, named).map_err(unusable)?,
                TargetType::Ip => match &named.target_port {
                    Some(IntOrString::String(_)) => {
                        return Err(unusable(format!(
                            "healthcheck-port {name} has a named targetPort, which ip targets cannot resolve: use a number"
                        )))
                    }
                    _ => ip_port(named),
                },
            })
        }
    };
    let port_text = backend.port.to_string();
    let protocol_version = match (settings.protocol_version, is_h2c(port)) {
        (ProtocolVersion::Http1, true) if settings.app_protocol_h2c => ProtocolVersion::Http2,
        (v, _) => v,
    };
    let tg_port_text = tg_port.to_string();
    let name = match backend.owner {
        // The Gateway controller's `k8s-<routeNs>-<routeName>-<hash>`, over the cluster, the
        // Gateway, the route and its kind, the Service port, target type, protocol and version.
        Owner::Route(route) => names::generated(
            route.namespace.as_deref().unwrap_or_default(),
            &route.name,
            &[
                backend.cluster_name,
                backend.lb_id,
                route.namespace.as_deref().unwrap_or_default(),
                &route.name,
                &route.kind,
                backend.namespace,
                backend.service,
                &port_text,
                settings.target_type.as_str(),
                settings.protocol.as_str(),
                protocol_version.as_str(),
            ],
        ),
        // The Ingress controller's `k8s-<svcNs>-<svcName>-<hash>`, over the cluster, the
        // IngressGroup, the Ingress, the Service's UID, its port, the target group's port,
        // target type, protocol and version (`buildTargetGroupName`).
        Owner::Ingress { ingress, group, .. } => names::generated(
            backend.namespace,
            backend.service,
            &[
                backend.cluster_name,
                group,
                ingress.namespace.as_deref().unwrap_or_default(),
                &ingress.name,
                service.metadata.uid.as_deref().unwrap_or_default(),
                &port_text,
                &tg_port_text,
                settings.target_type.as_str(),
                settings.protocol.as_str(),
                protocol_version.as_str(),
            ],
        ),
        Owner::LoadBalancer => names::generated(
            backend.namespace,
            backend.service,
            &[
                backend.cluster_name,
                backend.lb_id,
                backend.namespace,
                backend.service,
                &port_text,
                &tg_port_text,
                settings.target_type.as_str(),
                settings.protocol.as_str(),
            ],
        ),
    };
    Ok(TargetGroup {
        id: backend.target_group_id(),
        name,
        service: service_ref,
        service_port: port_text,
        target_type: settings.target_type,
        protocol: settings.protocol,
        // A Service port of `appProtocol: kubernetes.io/h2c` speaks HTTP/2 without TLS (the
        // Gateway API's backend protocol selection) unless HTTP2 or GRPC is set already.
        protocol_version,
        port: tg_port,
        health_check,
        deregistration_delay_seconds: settings.deregistration_delay_seconds,
        targets,
    })
}

/// Whether a Service's first IP family is IPv6 (`spec.ipFamilies`, else its cluster IP).
fn first_family_is_ipv6(service: &Service) -> bool {
    let Some(spec) = service.spec.as_ref() else {
        return false;
    };
    match spec.ip_families.as_ref().and_then(|f| f.first()) {
        Some(family) => family == "IPv6",
        None => spec
            .cluster_ip
            .as_deref()
            .is_some_and(|ip| ip.contains(':')),
    }
}

fn is_h2c(port: &ServicePort) -> bool {
    port.app_protocol.as_deref() == Some("kubernetes.io/h2c")
}

/// Whether the Service port speaks HTTP/2 without TLS by its `appProtocol`.
pub fn h2c_port(snapshot: &Snapshot, namespace: &str, service: &str, port: &PortRef) -> bool {
    snapshot
        .service(namespace, service)
        .and_then(|s| find_port(s, port))
        .is_some_and(is_h2c)
}

fn find_port<'s>(service: &'s Service, port: &PortRef) -> Option<&'s ServicePort> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    ports.iter().find(|p| match port {
        PortRef::Number(n) => p.port == *n,
        PortRef::Name(name) => p.name.as_deref() == Some(name.as_str()),
    })
}

/// The target group port for ip targets: the numeric targetPort (defaulting to the port), or 1
/// for a named targetPort, as the ALB controller registers it (each target has its own port).
fn ip_port(port: &ServicePort) -> u16 {
    match &port.target_port {
        Some(IntOrString::Int(n)) => *n as u16,
        Some(IntOrString::String(_)) => 1,
        None => port.port as u16,
    }
}

fn instance_port(service: &Service, port: &ServicePort) -> Result<u16, String> {
    let kind = service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP");
    match port.node_port {
        Some(n) if kind == "NodePort" || kind == "LoadBalancer" => Ok(n as u16),
        _ => Err(format!(
            "target-type instance needs a NodePort, but the Service is type {kind} with no spec.ports[].nodePort for port {}: make it type NodePort or use alb.ingress.kubernetes.io/target-type: ip",
            port.port
        )),
    }
}

/// The ready endpoints of the Service's EndpointSlices, at the slice port named like the Service
/// port (EndpointSlice ports carry the Service port's name and the resolved targetPort).
fn ip_targets(
    snapshot: &Snapshot,
    backend: &Backend<'_>,
    port: &ServicePort,
    ipv6: bool,
) -> Vec<Target> {
    let port_name = port.name.as_deref().unwrap_or_default();
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let mut targets = Vec::new();
    for slice in snapshot.endpoint_slices_for(backend.namespace, backend.service) {
        // The target group's family only (FQDN slices never).
        if slice.address_type != family {
            continue;
        }
        let slice_port = slice.ports.iter().flatten().find_map(|p| {
            (p.name.as_deref().unwrap_or_default() == port_name)
                .then_some(p.port)
                .flatten()
        });
        let Some(target_port) = slice_port.or(match &port.target_port {
            Some(IntOrString::Int(n)) if slice.ports.as_ref().is_none_or(Vec::is_empty) => Some(*n),
            _ => None,
        }) else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            // An unset `ready` means unknown, which consumers treat as ready; terminating
            // endpoints leave the target group, as the ALB controller deregisters them.
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            if !ready || terminating {
                continue;
            }
            for address in &endpoint.addresses {
                if let Ok(ip) = address.parse::<IpAddr>() {
                    targets.push(Target {
                        ip,
                        port: target_port as u16,
                        name: endpoint.target_ref.as_ref().and_then(|r| r.name.clone()),
                    });
                }
            }
        }
    }
    targets.sort();
    targets.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
    targets
}

/// Every Ready node's InternalIP at the NodePort, except nodes excluded from load balancers.
fn instance_targets(snapshot: &Snapshot, node_port: u16) -> Vec<Target> {
    const EXCLUDE: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
    let mut targets: Vec<Target> = snapshot
        .nodes()
        .filter(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_none_or(|l| !l.contains_key(EXCLUDE))
        })
        .filter_map(|node| {
            let status = node.status.as_ref()?;
            let not_ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status != "True");
            if not_ready {
                return None;
            }
            let ip = status
                .addresses
                .iter()
                .flatten()
                .find(|a| a.type_ == "InternalIP")?
                .address
                .parse()
                .ok()?;
            Some(Target {
                ip,
                port: node_port,
                name: node.metadata.name.clone(),
            })
        })
        .collect();
    targets.sort();
    targets
}
