//! One Ingress of an IngressGroup: its backends as actions and target groups (the Service's
//! annotations over the Ingress's), its `actions.*` and `conditions.*` annotations.

use super::actions::{self, ExtraConditions};
use super::annotations::{self, Annotations, PREFIX};
use super::restrictions;
use super::rules::{self, PendingRule};
use crate::target_group::{self, Backend, BackendError, Owner, PortRef, TargetGroupSettings};
use crate::Options;
use pylon_ir::{Action, TargetType, WeightedTargetGroup};
use pylon_model::k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressSpec};
use pylon_model::{Kind, ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

/// The state of one Ingress's translation.
pub struct Build<'a> {
    pub ing: &'a Ingress,
    pub origin: &'a ObjectRef,
    pub namespace: &'a str,
    pub lb_id: &'a str,
    /// The IngressGroup's id, as target group names hash it.
    pub group: &'a str,
    /// Whether the group is explicit: target group ids then name the Ingress.
    pub explicit: bool,
    pub snapshot: &'a Snapshot,
    pub options: &'a Options,
    pub problems: &'a mut Vec<Problem>,
    pub failed: bool,
    /// Whether the load balancer is dual-stack (IPv6 targets allowed).
    pub dualstack: bool,
    /// The group's target groups, shared by its members.
    pub target_groups: &'a mut BTreeMap<String, pylon_ir::TargetGroup>,
    /// Target group settings by Service name (`None` when its annotations are invalid).
    pub settings: BTreeMap<String, Option<TargetGroupSettings>>,
    /// The `actions.*` and `conditions.*` annotations some backend used.
    pub used: BTreeSet<String>,
    /// The access restrictions already reported, by object and annotation.
    pub restricted: BTreeSet<(ObjectRef, String)>,
}

/// The fixed responses the controller gives backends it cannot resolve.
const NO_SERVICE: &str = "Backend service does not exist";
const NO_ACTION: &str = "Backend action does not exist";

impl Build<'_> {
    /// The Ingress's rules in the controller's order: `spec.rules` as written, each one's paths
    /// sorted (Exact, then Prefix longest first, then the rest).
    pub fn rules(&mut self, spec: &IngressSpec) -> Vec<PendingRule> {
        let mut out = Vec::new();
        for (r, rule) in spec.rules.iter().flatten().enumerate() {
            let host = rule.host.as_deref().filter(|h| !h.is_empty());
            if let Some(h) = host {
                if let Err(e) = rules::check_host(h) {
                    self.error(format!("spec.rules[{r}].host"), e);
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
                        let at = if ["Exact", "Prefix", "ImplementationSpecific", ""]
                            .contains(&path.path_type.as_str())
                        {
                            "path"
                        } else {
                            "pathType"
                        };
                        self.error(format!("{field}.{at}"), e);
                        continue;
                    }
                };
                let (action, extra) = self.backend(&path.backend, &format!("{field}.backend"));
                out.push(PendingRule {
                    origin: self.origin.clone(),
                    conditions: rules::conditions(host, patterns, extra),
                    field,
                    action,
                });
            }
        }
        out
    }

    pub fn error(&mut self, field: String, message: String) {
        self.problems.push(Problem::error(
            Some(self.origin.clone()),
            Some(field),
            message,
        ));
        self.failed = true;
    }

    /// The action for a backend and the extra conditions its `conditions.<service>` annotation
    /// adds. A backend on port `use-annotation` takes its action from `actions.<service>`.
    pub fn backend(&mut self, backend: &IngressBackend, field: &str) -> (Action, ExtraConditions) {
        let Some(service) = &backend.service else {
            self.error(
                field.to_string(),
                "resource backends are not supported: use a service backend".into(),
            );
            return (
                Action::fixed(503, Some(NO_SERVICE)),
                ExtraConditions::default(),
            );
        };
        let extra = self.extra_conditions(&service.name);
        let action = self.service_backend(service, field);
        match self.restriction(&service.name) {
            Some(setting) => (crate::restriction::not_served(&setting), extra),
            None => (action, extra),
        }
    }

    /// The setting (`auth-type`, `jwt-validation`) that restricts the rules of a backend, from
    /// its Service's annotations and the Ingress's (Service first); reported once per object.
    fn restriction(&mut self, service: &str) -> Option<String> {
        let service_ref = ObjectRef::namespaced(Kind::Service, self.namespace, service);
        let service_annotations = self
            .snapshot
            .service(self.namespace, service)
            .and_then(|s| s.metadata.annotations.as_ref());
        let layered = Annotations::new(vec![
            (&service_ref, service_annotations),
            (self.origin, self.ing.metadata.annotations.as_ref()),
        ]);
        let (key, problem, invalid) = match restrictions::backend(&layered) {
            Ok(None) => return None,
            Ok(Some((key, problem))) => (key, problem, false),
            Err(problem) => ("auth-type".to_string(), *problem, true),
        };
        let object = problem
            .object
            .clone()
            .unwrap_or_else(|| self.origin.clone());
        if self.restricted.insert((object, key.clone())) {
            self.problems.push(problem);
        }
        self.failed |= invalid;
        (!invalid).then_some(key)
    }

    /// The action of a Service backend (without restrictions).
    fn service_backend(
        &mut self,
        service: &pylon_model::k8s_openapi::api::networking::v1::IngressServiceBackend,
        field: &str,
    ) -> Action {
        let port = match &service.port {
            Some(p) if p.name.as_deref() == Some("use-annotation") => {
                return self.annotation_action(&service.name, field);
            }
            Some(p) => match (&p.name, p.number) {
                (Some(name), None) if !name.is_empty() => PortRef::Name(name.clone()),
                (None, Some(number)) => PortRef::Number(number),
                _ => {
                    self.error(
                        format!("{field}.service.port"),
                        "set exactly one of port.name and port.number".into(),
                    );
                    return Action::fixed(503, Some(NO_SERVICE));
                }
            },
            None => {
                self.error(
                    format!("{field}.service.port"),
                    "a service backend needs a port".into(),
                );
                return Action::fixed(503, Some(NO_SERVICE));
            }
        };
        self.forward(
            &[(service.name.clone(), port, 1)],
            &format!("{field}.service"),
        )
    }

    /// Forwards to one or more Services (by weight). An unusable Service turns the action into the
    /// controller's fixed 503, with the problem reported.
    fn forward(&mut self, backends: &[(String, PortRef, u32)], field: &str) -> Action {
        let mut target_groups = Vec::new();
        for (service, port, weight) in backends {
            let Some(settings) = self.settings_for(service) else {
                self.failed = true;
                return Action::fixed(503, Some(NO_SERVICE));
            };
            let backend = Backend {
                lb_id: self.lb_id,
                cluster_name: &self.options.cluster_name,
                namespace: self.namespace,
                service,
                port,
                qualify_namespace: false,
                owner: Owner::Ingress {
                    ingress: self.origin,
                    group: self.group,
                    in_id: self.explicit,
                },
                dualstack: self.dualstack,
            };
            let id = backend.target_group_id();
            if !self.target_groups.contains_key(&id) {
                match target_group::build(&backend, &settings, self.snapshot) {
                    Ok(tg) => {
                        self.warn_if_empty(&tg);
                        self.target_groups.insert(id.clone(), tg);
                    }
                    Err(e) => {
                        self.problems.push(Problem::error(
                            Some(self.origin.clone()),
                            Some(field.to_string()),
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
                        return Action::fixed(503, Some(NO_SERVICE));
                    }
                }
            }
            target_groups.push(WeightedTargetGroup {
                id,
                weight: *weight,
                filters: vec![],
            });
        }
        Action::Forward {
            target_groups,
            unusable_weight: 0,
        }
    }

    fn warn_if_empty(&mut self, tg: &pylon_ir::TargetGroup) {
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
    }

    /// The raw value of an `actions.*`/`conditions.*` annotation of this Ingress, marked used.
    fn backend_annotation(&mut self, name: &str) -> Option<String> {
        self.used.insert(name.to_string());
        self.ing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(&format!("{PREFIX}{name}")))
            .cloned()
    }

    fn annotation_error(&mut self, name: &str, message: String) {
        self.error(annotations::field(&format!("{PREFIX}{name}")), message);
    }

    fn warn_unknown_fields(&mut self, name: &str, unknown: &[String]) {
        if !unknown.is_empty() {
            self.problems.push(Problem::warning(
                Some(self.origin.clone()),
                Some(annotations::field(&format!("{PREFIX}{name}"))),
                format!("unknown fields ignored: {}", unknown.join(", ")),
            ));
        }
    }

    /// `conditions.<service>`: extra conditions for every path that uses this backend name.
    fn extra_conditions(&mut self, service: &str) -> ExtraConditions {
        let name = format!("conditions.{service}");
        let Some(raw) = self.backend_annotation(&name) else {
            return ExtraConditions::default();
        };
        let parsed = match actions::parse::<Vec<actions::RuleCondition>>(&raw) {
            Ok(p) => p,
            Err(e) => {
                self.annotation_error(&name, format!("{e}; expected a JSON list of conditions"));
                return ExtraConditions::default();
            }
        };
        self.warn_unknown_fields(&name, &parsed.unknown);
        actions::conditions(parsed.value).unwrap_or_else(|e| {
            self.annotation_error(&name, e);
            ExtraConditions::default()
        })
    }

    /// `actions.<service>`: the action of a backend on port `use-annotation`.
    fn annotation_action(&mut self, service: &str, field: &str) -> Action {
        let name = format!("actions.{service}");
        let Some(raw) = self.backend_annotation(&name) else {
            self.problems.push(Problem::error(
                Some(self.origin.clone()),
                Some(format!("{field}.service.port.name")),
                format!("port use-annotation needs the annotation {PREFIX}{name}: requests to it get 503"),
            ));
            return Action::fixed(503, Some(NO_ACTION));
        };
        let parsed = match actions::parse::<actions::ActionConfig>(&raw) {
            Ok(p) => p,
            Err(e) => {
                self.annotation_error(&name, e);
                return Action::fixed(503, Some(NO_ACTION));
            }
        };
        self.warn_unknown_fields(&name, &parsed.unknown);
        let config = parsed.value;
        let result = match config.kind.as_str() {
            "fixed-response" => config
                .fixedresponseconfig
                .as_ref()
                .ok_or_else(|| "missing fixedResponseConfig".to_string())
                .and_then(actions::fixed_response),
            "redirect" => config
                .redirectconfig
                .as_ref()
                .ok_or_else(|| "missing redirectConfig".to_string())
                .and_then(actions::redirect),
            "forward" => return self.annotation_forward(&name, &config),
            other => Err(format!(
                "unknown action type {other:?}: fixed-response, redirect or forward"
            )),
        };
        result.unwrap_or_else(|e| {
            self.annotation_error(&name, e);
            Action::fixed(503, Some(NO_ACTION))
        })
    }

    fn annotation_forward(&mut self, name: &str, config: &actions::ActionConfig) -> Action {
        let by_arn = config.targetgrouparn.is_some()
            || config.targetgroupname.is_some()
            || config
                .forwardconfig
                .iter()
                .flat_map(|f| &f.targetgroups)
                .any(|t| t.targetgrouparn.is_some() || t.targetgroupname.is_some());
        if by_arn {
            self.annotation_error(
                name,
                "targetGroupARN and targetGroupName name AWS target groups; Pylon forwards to Services: use serviceName and servicePort".into(),
            );
            return Action::fixed(503, Some(NO_ACTION));
        }
        let Some(forward) = &config.forwardconfig else {
            self.annotation_error(name, "missing forwardConfig".into());
            return Action::fixed(503, Some(NO_ACTION));
        };
        if forward.targetgroupstickinessconfig.is_some() {
            self.problems.push(Problem::warning(
                Some(self.origin.clone()),
                Some(annotations::field(&format!("{PREFIX}{name}"))),
                "targetGroupStickinessConfig is not supported by Pylon yet; ignored",
            ));
        }
        let several = forward.targetgroups.len() > 1;
        let mut backends = Vec::new();
        for (i, t) in forward.targetgroups.iter().enumerate() {
            let service = t.servicename.clone().filter(|s| !s.is_empty());
            let port = match &t.serviceport {
                Some(serde_json::Value::Number(n)) => n.as_i64().map(|n| PortRef::Number(n as i32)),
                Some(serde_json::Value::String(s)) => Some(match s.parse::<i32>() {
                    Ok(n) => PortRef::Number(n),
                    Err(_) => PortRef::Name(s.clone()),
                }),
                _ => None,
            };
            let weight = match t.weight {
                Some(w) if (0..=999).contains(&w) => Some(w as u32),
                Some(w) => {
                    self.annotation_error(
                        name,
                        format!("targetGroups[{i}].weight {w} must be from 0 to 999"),
                    );
                    return Action::fixed(503, Some(NO_ACTION));
                }
                None if several => {
                    self.annotation_error(
                        name,
                        "weight must be set when route to multiple target groups".into(),
                    );
                    return Action::fixed(503, Some(NO_ACTION));
                }
                None => Some(1),
            };
            match (service, port, weight) {
                (Some(service), Some(port), Some(weight)) => backends.push((service, port, weight)),
                _ => {
                    self.annotation_error(
                        name,
                        format!("targetGroups[{i}] needs serviceName and servicePort"),
                    );
                    return Action::fixed(503, Some(NO_ACTION));
                }
            }
        }
        if backends.is_empty() {
            self.annotation_error(name, "forwardConfig.targetGroups is empty".into());
            return Action::fixed(503, Some(NO_ACTION));
        }
        let field = annotations::field(&format!("{PREFIX}{name}"));
        self.forward(&backends, &field)
    }

    /// `actions.*` and `conditions.*` annotations that name no backend of this Ingress do nothing;
    /// say so.
    pub fn warn_unused_backend_annotations(&mut self) {
        let keys: Vec<String> = self
            .ing
            .metadata
            .annotations
            .iter()
            .flat_map(|a| a.keys())
            .filter_map(|k| k.strip_prefix(PREFIX))
            .filter(|k| {
                annotations::BACKEND_PREFIXES
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .filter(|k| !self.used.contains(*k))
            .map(str::to_string)
            .collect();
        for key in keys {
            let (_, service) = key.split_once('.').unwrap_or_default();
            self.problems.push(Problem::warning(
                Some(self.origin.clone()),
                Some(annotations::field(&format!("{PREFIX}{key}"))),
                format!("no backend of this Ingress uses the service name {service:?}; ignored"),
            ));
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
        let settings = match annotations::target_group(&layered, &self.options.alb, self.problems) {
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
