//! Ingress → load balancer, with the AWS Load Balancer Controller's semantics: one load balancer
//! per Ingress (IngressGroups come later), a listener per `listen-ports` entry, the Ingress rules
//! as ordered ALB rules, a target group per Service and port.

mod annotations;
mod rules;

use crate::target_group::{self, Backend, BackendError, PortRef, TargetGroupSettings};
use crate::{names, Options};
use annotations::Annotations;
use pylon_ir::{
    Action, Listener, LoadBalancer, LoadBalancerAttributes, Rule, RuleOrigin, TargetType,
};
use pylon_model::k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use pylon_model::{Kind, Object, ObjectRef, Problem, Snapshot};
use std::collections::BTreeMap;

/// The controller name an IngressClass must carry for Pylon to handle its Ingresses.
pub const CONTROLLER: &str = "ingress.k8s.aws/alb";
/// The class name the ALB controller handles without an IngressClass object.
pub const CLASS: &str = "alb";
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Whether an Ingress is ours: the legacy `kubernetes.io/ingress.class: alb` annotation; or
/// `spec.ingressClassName` naming an IngressClass of controller `ingress.k8s.aws/alb` (or `alb`
/// when no such IngressClass exists); or no class at all while the default IngressClass is ours.
pub fn is_handled(ing: &Ingress, snapshot: &Snapshot) -> bool {
    let annotation = ing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
    if let Some(class) = annotation {
        return class == CLASS;
    }
    let ours = |c: &pylon_model::k8s_openapi::api::networking::v1::IngressClass| {
        c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
    };
    match ing
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
    {
        Some(name) => match snapshot.ingress_class(name) {
            Some(class) => ours(class),
            None => name == CLASS,
        },
        None => snapshot.ingress_classes().any(|c| {
            ours(c)
                && c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .map(String::as_str)
                    == Some("true")
        }),
    }
}

/// Translates one Ingress. Problems go to `problems`; `None` means the Ingress has errors that
/// stop the whole load balancer, as they stop the controller's model build.
pub fn translate_ingress(
    ing: &Ingress,
    snapshot: &Snapshot,
    options: &Options,
    problems: &mut Vec<Problem>,
) -> Option<LoadBalancer> {
    let origin = Object::Ingress(Box::new(ing.clone())).object_ref();
    let namespace = origin.namespace.clone().unwrap_or_default();
    let name = origin.name.clone();
    let id = format!("ingress/{namespace}/{name}");
    let own = Annotations::new(vec![(&origin, ing.metadata.annotations.as_ref())]);
    annotations::unsupported(&origin, ing.metadata.annotations.as_ref(), false, problems);
    let settings = match annotations::load_balancer(&own, problems) {
        Ok(s) => s,
        Err(errors) => {
            problems.extend(errors);
            return None;
        }
    };
    let mut build = Build {
        ing,
        origin: &origin,
        namespace: &namespace,
        lb_id: &id,
        snapshot,
        options,
        problems,
        failed: false,
        target_groups: BTreeMap::new(),
        settings: BTreeMap::new(),
    };
    let spec = ing.spec.clone().unwrap_or_default();
    let default_action = match &spec.default_backend {
        Some(backend) => build.action(backend, "spec.defaultBackend"),
        // The controller's default: a bare 404.
        None => Action::fixed(404, None),
    };
    let mut rules = Vec::new();
    for (r, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().filter(|h| !h.is_empty());
        if let Some(h) = host {
            if let Err(e) = rules::check_host(h) {
                build.error(format!("spec.rules[{r}].host"), e);
                continue;
            }
        }
        let Some(http) = &rule.http else { continue };
        for p in rules::sorted_path_indexes(&http.paths) {
            let path = &http.paths[p];
            let field = format!("spec.rules[{r}].http.paths[{p}]");
            let patterns = match rules::path_patterns(path.path.as_deref(), &path.path_type) {
                Ok(patterns) => patterns,
                Err(e) => {
                    build.error(format!("{field}.path"), e);
                    continue;
                }
            };
            let action = build.action(&path.backend, &format!("{field}.backend"));
            rules.push((field, rules::conditions(host, patterns), action));
        }
    }
    if build.failed {
        return None;
    }
    let target_groups = build.target_groups;
    let listeners = settings
        .listen_ports
        .iter()
        .map(|&(protocol, port)| Listener {
            id: format!("{id}/listener/{port}"),
            protocol,
            port,
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, (field, conditions, action))| Rule {
                    priority: i as u32 + 1,
                    origin: RuleOrigin {
                        object: origin.clone(),
                        field: field.clone(),
                    },
                    conditions: conditions.clone(),
                    action: action.clone(),
                })
                .collect(),
            default_action: default_action.clone(),
        })
        .collect();
    let group_id = format!("{namespace}/{name}");
    let lb_name = settings.name.clone().unwrap_or_else(|| {
        names::generated(
            &namespace,
            &name,
            &[&options.cluster_name, &group_id, settings.scheme.as_str()],
        )
    });
    Some(LoadBalancer {
        id,
        name: lb_name,
        origin,
        scheme: settings.scheme,
        address: None,
        attributes: LoadBalancerAttributes {
            idle_timeout_seconds: settings.idle_timeout_seconds,
        },
        listeners,
        target_groups,
    })
}

/// The state of one Ingress's translation.
struct Build<'a> {
    ing: &'a Ingress,
    origin: &'a ObjectRef,
    namespace: &'a str,
    lb_id: &'a str,
    snapshot: &'a Snapshot,
    options: &'a Options,
    problems: &'a mut Vec<Problem>,
    failed: bool,
    target_groups: BTreeMap<String, pylon_ir::TargetGroup>,
    /// Target group settings by Service name (`None` when its annotations are invalid).
    settings: BTreeMap<String, Option<TargetGroupSettings>>,
}

impl Build<'_> {
    fn error(&mut self, field: String, message: String) {
        self.problems.push(Problem::error(
            Some(self.origin.clone()),
            Some(field),
            message,
        ));
        self.failed = true;
    }

    /// The action for a backend: forward to its target group, or the controller's fixed 503 when
    /// the Service cannot be used.
    fn action(&mut self, backend: &IngressBackend, field: &str) -> Action {
        let Some(service) = &backend.service else {
            self.error(
                field.to_string(),
                "resource backends are not supported: use a service backend".into(),
            );
            return Action::fixed(503, Some("Backend service does not exist"));
        };
        let port = match &service.port {
            Some(p) if p.name.as_deref() == Some("use-annotation") => {
                self.error(
                    format!("{field}.service.port.name"),
                    format!(
                        "use-annotation needs alb.ingress.kubernetes.io/actions.{}, which Pylon does not support yet",
                        service.name
                    ),
                );
                return Action::fixed(503, Some("Backend action does not exist"));
            }
            Some(p) => match (&p.name, p.number) {
                (Some(name), None) if !name.is_empty() => PortRef::Name(name.clone()),
                (None, Some(number)) => PortRef::Number(number),
                _ => {
                    self.error(
                        format!("{field}.service.port"),
                        "set exactly one of port.name and port.number".into(),
                    );
                    return Action::fixed(503, Some("Backend service does not exist"));
                }
            },
            None => {
                self.error(
                    format!("{field}.service.port"),
                    "a service backend needs a port".into(),
                );
                return Action::fixed(503, Some("Backend service does not exist"));
            }
        };
        let Some(settings) = self.settings_for(&service.name) else {
            self.failed = true;
            return Action::fixed(503, Some("Backend service does not exist"));
        };
        let backend = Backend {
            lb_id: self.lb_id,
            cluster_name: &self.options.cluster_name,
            namespace: self.namespace,
            service: &service.name,
            port: &port,
        };
        let id = backend.target_group_id();
        if self.target_groups.contains_key(&id) {
            return Action::forward(id);
        }
        match target_group::build(&backend, &settings, self.snapshot) {
            Ok(tg) => {
                if tg.targets.is_empty() {
                    let why = match tg.target_type {
                        TargetType::Ip => "no ready endpoints in its EndpointSlices",
                        TargetType::Instance => "no Ready Node with an InternalIP",
                    };
                    self.problems.push(Problem::warning(
                        Some(tg.service.clone()),
                        None,
                        format!(
                            "target group {} is empty ({why}): requests to it get 503",
                            tg.name
                        ),
                    ));
                }
                self.target_groups.insert(id.clone(), tg);
                Action::forward(id)
            }
            Err(e) => {
                self.problems.push(Problem::error(
                    Some(self.origin.clone()),
                    Some(format!("{field}.service")),
                    e.to_string(),
                ));
                if let BackendError::Unusable(service, why) = &e {
                    // Said on the Service too, for whoever looks at the Service.
                    self.problems.push(Problem::error(
                        Some(service.clone()),
                        None,
                        format!("{why} (used by {})", self.origin),
                    ));
                }
                Action::fixed(503, Some("Backend service does not exist"))
            }
        }
    }

    /// Target group settings for a Service: its annotations win over the Ingress's.
    fn settings_for(&mut self, service: &str) -> Option<TargetGroupSettings> {
        if let Some(s) = self.settings.get(service) {
            return s.clone();
        }
        let service_ref = ObjectRef::namespaced(Kind::Service, self.namespace, service);
        let service_annotations = self
            .snapshot
            .service(self.namespace, service)
            .and_then(|s| s.metadata.annotations.as_ref());
        annotations::unsupported(&service_ref, service_annotations, true, self.problems);
        let layered = Annotations::new(vec![
            (&service_ref, service_annotations),
            (self.origin, self.ing.metadata.annotations.as_ref()),
        ]);
        let settings = match annotations::target_group(&layered) {
            Ok(s) => Some(s),
            Err(errors) => {
                self.problems.extend(errors);
                None
            }
        };
        self.settings.insert(service.to_string(), settings.clone());
        settings
    }
}
