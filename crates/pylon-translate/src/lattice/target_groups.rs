//! Lattice target groups: one per (route, Service port), of IP targets from the EndpointSlices,
//! with Lattice's defaults or a TargetGroupPolicy's protocol, version and health check; and the
//! standalone target groups of ServiceExports, which ServiceImports resolve to.

use super::names::{self, Arns};
use super::policies::{self, CONFLICTED, TARGET_NOT_FOUND};
use super::ANNOTATION;
use crate::gateway::status::reason;
use crate::status::ObjectStatus;
use crate::target_group::{self, HealthCheckPortSetting, PortRef, TargetGroupSettings};
use pylon_ir::lattice::LatticeTargetGroup;
use pylon_ir::{HealthCheck, HealthCheckPort, Protocol, ProtocolVersion, TargetType};
use pylon_model::lattice::{LatticeHealthCheck, ServiceExport, ServiceImport, TargetGroupPolicy};
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// The group Lattice kinds belong to.
pub const GROUP: &str = "application-networking.k8s.aws";

/// Lattice's target group defaults: IP targets, HTTP/1.1, health checks every 30 s (timeout 5 s,
/// healthy after 5, unhealthy after 2, code 200, path `/`), five minutes of draining. Checks are
/// on by default only for HTTP1 target groups.
pub fn defaults(version: ProtocolVersion) -> TargetGroupSettings {
    TargetGroupSettings {
        target_type: TargetType::Ip,
        health_check_port: HealthCheckPortSetting::TrafficPort,
        health_check: HealthCheck {
            protocol: Protocol::Http,
            port: HealthCheckPort::TrafficPort,
            path: "/".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            success_codes: "200".into(),
            enabled: version == ProtocolVersion::Http1,
        },
        protocol: Protocol::Http,
        protocol_version: version,
        app_protocol_h2c: true,
        deregistration_delay_seconds: 300,
    }
}

/// The TargetGroupPolicies in effect, by what they target (a Service or a ServiceExport), each
/// validated once; invalid and conflicting ones are reported and not applied.
pub struct Policies<'s> {
    by_target: BTreeMap<ObjectRef, &'s TargetGroupPolicy>,
}

impl<'s> Policies<'s> {
    pub fn read(
        snapshot: &'s Snapshot,
        problems: &mut Vec<Problem>,
        statuses: &mut Vec<ObjectStatus>,
    ) -> Self {
        let mut by_target: BTreeMap<ObjectRef, &'s TargetGroupPolicy> = BTreeMap::new();
        let each = snapshot.target_group_policies();
        policies::each(
            each,
            |p| &p.metadata,
            Kind::TargetGroupPolicy,
            problems,
            statuses,
            |policy, reading| {
                let target = &policy.spec.target_ref;
                let kind = match (target.group.as_str(), target.kind.as_str()) {
                    ("" | "core", "Service") => Kind::Service,
                    (GROUP, "ServiceExport") => Kind::ServiceExport,
                    (group, kind) => {
                        reading.verdict(false, reason::INVALID, Some("spec.targetRef"), format!("a TargetGroupPolicy targets a Service or a ServiceExport, not {kind} of group {group:?}"));
                        return;
                    }
                };
                if let Err(why) = validate(&policy.spec) {
                    reading.verdict(false, reason::INVALID, None, why);
                    return;
                }
                let key = ObjectRef::namespaced(kind, &reading.namespace, &target.name);
                if snapshot.get(&key).is_none() {
                    reading.verdict(
                        false,
                        TARGET_NOT_FOUND,
                        Some("spec.targetRef"),
                        format!("{key} does not exist"),
                    );
                    return;
                }
                match by_target.get(&key) {
                    Some(first) => {
                        let first = first.metadata.name.clone().unwrap_or_default();
                        reading.verdict(
                            false,
                            CONFLICTED,
                            Some("spec.targetRef"),
                            format!("TargetGroupPolicy {first} already targets {key}"),
                        );
                    }
                    None => {
                        reading.verdict(true, reason::ACCEPTED, None, format!("applies to {key}"));
                        by_target.insert(key, policy);
                    }
                }
            },
        );
        Policies { by_target }
    }

    /// The settings of a target group for `target` (a Service or ServiceExport) of `version`;
    /// an error when the policy asks for what Pylon does not serve.
    pub fn settings(&self, target: &ObjectRef, grpc: bool) -> Result<TargetGroupSettings, String> {
        let Some(policy) = self.by_target.get(target) else {
            return Ok(defaults(if grpc {
                ProtocolVersion::Grpc
            } else {
                ProtocolVersion::Http1
            }));
        };
        let spec = &policy.spec;
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        // HTTPS: TLS to targets, their certificates not verified.
        let protocol = match spec.protocol.as_deref().unwrap_or("HTTP") {
            "HTTP" => Protocol::Http,
            "HTTPS" => Protocol::Https,
            other => {
                return Err(format!(
                    "TargetGroupPolicy {name}: protocol {other} to targets is not served yet (HTTP and HTTPS only)"
                ))
            }
        };
        // GRPCRoute backends are GRPC whatever the policy says, as the controller makes them.
        let version = match (grpc, spec.protocol_version.as_deref()) {
            (true, _) => ProtocolVersion::Grpc,
            (false, None | Some("HTTP1")) => ProtocolVersion::Http1,
            (false, Some(_)) => ProtocolVersion::Http2,
        };
        let mut settings = defaults(version);
        settings.protocol = protocol;
        settings.health_check.protocol = protocol;
        if let Some(hc) = &spec.health_check {
            apply_health_check(&mut settings, hc);
        }
        Ok(settings)
    }
}

fn apply_health_check(settings: &mut TargetGroupSettings, hc: &LatticeHealthCheck) {
    let check = &mut settings.health_check;
    let seconds = |v: Option<i64>, default: u32| v.map_or(default, |v| v as u32);
    if let Some(enabled) = hc.enabled {
        check.enabled = enabled;
    }
    check.interval_seconds = seconds(hc.interval_seconds, check.interval_seconds);
    check.timeout_seconds = seconds(hc.timeout_seconds, check.timeout_seconds);
    check.healthy_threshold = seconds(hc.healthy_threshold_count, check.healthy_threshold);
    check.unhealthy_threshold = seconds(hc.unhealthy_threshold_count, check.unhealthy_threshold);
    if let Some(codes) = &hc.status_match {
        check.success_codes = codes.clone();
    }
    if let Some(path) = &hc.path {
        check.path = path.clone();
    }
    match hc.protocol.as_deref() {
        Some("HTTP") => check.protocol = Protocol::Http,
        Some("HTTPS") => check.protocol = Protocol::Https,
        _ => {}
    }
    if let Some(port) = hc.port {
        check.port = HealthCheckPort::Port(port as u16);
        settings.health_check_port = HealthCheckPortSetting::Number(port as u16);
    }
}

/// The ranges the CRD's schema sets.
fn validate(spec: &pylon_model::lattice::TargetGroupPolicySpec) -> Result<(), String> {
    if let Some(p) = spec.protocol.as_deref() {
        if !matches!(p, "HTTP" | "HTTPS" | "TCP") {
            return Err(format!("spec.protocol {p:?} must be HTTP, HTTPS or TCP"));
        }
    }
    if let Some(v) = spec.protocol_version.as_deref() {
        if !matches!(v, "HTTP1" | "HTTP2") {
            return Err(format!("spec.protocolVersion {v:?} must be HTTP1 or HTTP2"));
        }
    }
    let Some(hc) = &spec.health_check else {
        return Ok(());
    };
    let range = |field: &str, v: Option<i64>, lo: i64, hi: i64| match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(format!(
            "spec.healthCheck.{field} {v} must be from {lo} to {hi}"
        )),
        _ => Ok(()),
    };
    range("intervalSeconds", hc.interval_seconds, 5, 300)?;
    range("timeoutSeconds", hc.timeout_seconds, 1, 120)?;
    range("healthyThresholdCount", hc.healthy_threshold_count, 2, 10)?;
    range(
        "unhealthyThresholdCount",
        hc.unhealthy_threshold_count,
        2,
        10,
    )?;
    range("port", hc.port, 1, 65535)?;
    if let Some(codes) = &hc.status_match {
        if codes.is_empty()
            || !codes
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b'-')
        {
            return Err(format!(
                "spec.healthCheck.statusMatch {codes:?} must be codes like 200, 200,202 or 200-299"
            ));
        }
    }
    if let Some(path) = &hc.path {
        if !path.starts_with('/') {
            return Err(format!("spec.healthCheck.path {path:?} must start with /"));
        }
    }
    Ok(())
}

/// One Lattice target group of a Service port; `owner` is the route's (or export's) service id,
/// which makes the id unique.
pub fn service_target_group(
    owner: &str,
    (namespace, service): (&str, &str),
    port: i32,
    settings: &TargetGroupSettings,
    snapshot: &Snapshot,
    options: &crate::Options,
    arns: &Arns<'_>,
) -> Result<LatticeTargetGroup, String> {
    let port_ref = PortRef::Number(port);
    let backend = target_group::Backend {
        lb_id: owner,
        cluster_name: &options.cluster_name,
        namespace,
        service,
        port: &port_ref,
        qualify_namespace: true,
        owner: target_group::Owner::LoadBalancer,
        // Lattice target groups may be IPv6.
        dualstack: true,
    };
    let group = target_group::build(&backend, settings, snapshot).map_err(|e| match e {
        // Lattice has no 503 for it: the rule answers 500 once no backend is left.
        target_group::BackendError::ServiceNotFound(service) => format!("{service} does not exist"),
        other => other.to_string(),
    })?;
    Ok(LatticeTargetGroup {
        cluster: None,
        arn: arns.arn(&format!(
            "targetgroup/tg-{}",
            names::hex17(&[owner, &group.id])
        )),
        group,
    })
}

/// Every ServiceExport's target groups of a cluster, one per exported port (`exportedPorts`,
/// else the legacy `port` annotation, else every port of the Service), by export.
pub fn exports(
    cluster: &super::cluster::Cluster<'_>,
    policies: &Policies<'_>,
    arns: &Arns<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<Export> {
    let (snapshot, options) = (cluster.snapshot, &cluster.options);
    let mut out = Vec::new();
    for export in snapshot.service_exports() {
        let namespace = export.metadata.namespace.as_deref().unwrap_or("default");
        let name = export.metadata.name.as_deref().unwrap_or_default();
        let me = ObjectRef::namespaced(Kind::ServiceExport, namespace, name);
        let annotation = |key: &str| {
            export
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(&format!("{ANNOTATION}{key}")))
        };
        let service = annotation("service-name").map_or(name, String::as_str);
        let ports = match ports(export, annotation("port"), snapshot, namespace, service) {
            Ok(p) => p,
            Err(why) => {
                problems.push(Problem::error(Some(me), None, why));
                continue;
            }
        };
        // Ids are unique across clusters: another cluster's export of the same name has its own.
        let owner = match &cluster.remote {
            None => format!("export/{namespace}/{name}"),
            Some(remote) => format!("export/{remote}/{namespace}/{name}"),
        };
        let mut groups = Vec::new();
        for (port, route_type) in ports {
            let grpc = route_type == "GRPC";
            let settings = match policies.settings(&me, grpc) {
                Ok(s) => s,
                Err(why) => {
                    problems.push(Problem::error(Some(me.clone()), None, why));
                    continue;
                }
            };
            match service_target_group(
                &owner,
                (namespace, service),
                port,
                &settings,
                snapshot,
                options,
                arns,
            ) {
                Ok(mut tg) => {
                    tg.cluster.clone_from(&cluster.remote);
                    groups.push((route_type, tg));
                }
                Err(why) => problems.push(Problem::error(Some(me.clone()), None, why)),
            }
        }
        out.push(Export {
            object: me,
            export_name: name.to_string(),
            cluster: options.cluster_name.clone(),
            vpc: cluster.vpc.clone(),
            groups,
        });
    }
    out
}

/// A ServiceExport and its target groups with their route types.
pub struct Export {
    pub object: ObjectRef,
    pub export_name: String,
    /// The exporting cluster's name and VPC.
    pub cluster: String,
    pub vpc: String,
    pub groups: Vec<(String, LatticeTargetGroup)>,
}

fn ports(
    export: &ServiceExport,
    legacy: Option<&String>,
    snapshot: &Snapshot,
    namespace: &str,
    service: &str,
) -> Result<Vec<(i32, String)>, String> {
    if let Some(ports) = &export.spec.exported_ports {
        let mut out = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            if !matches!(p.route_type.as_str(), "HTTP" | "GRPC" | "TLS") {
                return Err(format!(
                    "spec.exportedPorts[{i}].routeType {:?} must be HTTP, GRPC or TLS",
                    p.route_type
                ));
            }
            if p.route_type == "TLS" {
                return Err(format!(
                    "spec.exportedPorts[{i}]: TLS exports wait for TLSRoute support"
                ));
            }
            out.push((p.port as i32, p.route_type.clone()));
        }
        return Ok(out);
    }
    if let Some(list) = legacy {
        return list
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<i32>()
                    .map(|p| (p, "HTTP".to_string()))
                    .map_err(|_| {
                        format!("{ANNOTATION}port {list:?} must be a comma-separated list of ports")
                    })
            })
            .collect();
    }
    let svc = snapshot
        .service(namespace, service)
        .ok_or_else(|| format!("Service {namespace}/{service} does not exist"))?;
    Ok(svc
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| (p.port, "HTTP".to_string()))
        .collect())
}

/// The exported target group a ServiceImport stands for, for a route of `route_type`: by
/// `target-group-arn`, else the export named by `export-name` (default: the import's own name)
/// in the import's namespace, in the cluster `aws-eks-cluster-name` and the VPC `aws-vpc` name
/// (when set), of any cluster otherwise (this one first, then the remote ones in order). Among
/// the export's groups, the first of the route's type, else the first.
pub fn import<'e>(
    import: &ServiceImport,
    exports: &'e [Export],
    route_type: &str,
) -> Result<&'e LatticeTargetGroup, String> {
    let namespace = import.metadata.namespace.as_deref().unwrap_or("default");
    let name = import.metadata.name.as_deref().unwrap_or_default();
    let annotation = |key: &str| {
        import
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(&format!("{ANNOTATION}{key}")))
    };
    if let Some(arn) = annotation("target-group-arn") {
        return exports
            .iter()
            .flat_map(|e| &e.groups)
            .map(|(_, tg)| tg)
            .find(|tg| tg.arn == *arn)
            .ok_or_else(|| {
                format!(
                    "ServiceImport {namespace}/{name}: no target group known here has ARN {arn}"
                )
            });
    }
    let export_name = annotation("export-name").map_or(name, String::as_str);
    let (cluster, vpc) = (annotation("aws-eks-cluster-name"), annotation("aws-vpc"));
    let export = exports
        .iter()
        .find(|e| {
            e.object.namespace.as_deref() == Some(namespace)
                && e.export_name == export_name
                && cluster.is_none_or(|c| *c == e.cluster)
                && vpc.is_none_or(|v| *v == e.vpc)
        })
        .ok_or_else(|| {
            let mut where_ = String::new();
            if let Some(c) = cluster {
                where_.push_str(&format!(" in cluster {c}"));
            }
            if let Some(v) = vpc {
                where_.push_str(&format!(" in VPC {v}"));
            }
            format!("ServiceImport {namespace}/{name}: no ServiceExport {namespace}/{export_name}{where_} is known (clusters read: this one and --remote-cluster)")
        })?;
    export
        .groups
        .iter()
        .find(|(t, _)| t == route_type)
        .or_else(|| export.groups.first())
        .map(|(_, tg)| tg)
        .ok_or_else(|| format!("ServiceImport {namespace}/{name}: ServiceExport {namespace}/{export_name} has no usable port"))
}
