//! The AWS Load Balancer Controller's Gateway configuration CRDs (`gateway.k8s.aws`):
//! LoadBalancerConfiguration, TargetGroupConfiguration and ListenerRuleConfiguration, with the
//! fields of `apis/gateway/v1beta1`. Fields that configure AWS infrastructure are kept as written
//! so manifests load unchanged; the translator says which ones it ignores.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Load balancer settings for a Gateway (`spec.infrastructure.parametersRef`) or a GatewayClass
/// (`spec.parametersRef`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1beta1",
    kind = "LoadBalancerConfiguration",
    plural = "loadbalancerconfigurations",
    namespaced,
    derive = "Default",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfigurationSpec {
    /// `prefer-gateway-class` (default) or `prefer-gateway`; read from the GatewayClass's one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merging_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    /// `internal` (default) or `internet-facing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_security_group_inbound_rules_on_private_link_traffic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_owned_ipv4_pool: Option<String>,
    #[serde(
        default,
        rename = "ipv4IPAMPoolId",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_ipam_pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_objects")]
    pub load_balancer_subnets: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_subnets_selector: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_configurations: Option<Vec<ListenerConfiguration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_security_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_prefixes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ranges: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_attributes: Option<Vec<KeyValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        rename = "enableICMP",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_icmp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_backend_security_group_rules: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub minimum_load_balancer_capacity: Option<serde_json::Value>,
    #[serde(default, rename = "wafV2", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub waf_v2: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub shield_configuration: Option<serde_json::Value>,
    /// A TargetGroupConfiguration without `targetReference`, in the same namespace, used for every
    /// backend that has no TargetGroupConfiguration of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_target_group_configuration: Option<NameRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerConfiguration {
    /// `HTTP:80`, `HTTPS:443`.
    pub protocol_port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_stickiness: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub mutual_authentication: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_attributes: Option<Vec<KeyValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_enabled: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct NameRef {
    pub name: String,
}

/// Target group settings for a Service's backends (`targetReference`), or a default for a
/// Gateway when referenced from its LoadBalancerConfiguration.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupConfiguration",
    plural = "targetgroupconfigurations",
    namespaced,
    derive = "Default",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupConfigurationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reference: Option<TargetReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_configuration: Option<TargetGroupProps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_configurations: Option<Vec<RouteConfiguration>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TargetReference {
    /// `""` (core) by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `Service` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteConfiguration {
    pub route_identifier: RouteIdentifier,
    pub target_group_props: TargetGroupProps,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RouteIdentifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_config: Option<HealthCheckConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_attributes: Option<Vec<KeyValue>>,
    /// `instance` (default for Gateways) or `ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `HTTP1`, `HTTP2` or `GRPC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_control_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_multi_cluster: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_interval: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    /// `traffic-port` or a port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<HealthCheckMatcher>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckMatcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
}

/// Extra conditions and actions for a route rule, referenced from an `ExtensionRef` filter.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "gateway.k8s.aws",
    version = "v1beta1",
    kind = "ListenerRuleConfiguration",
    plural = "listenerruleconfigurations",
    namespaced,
    derive = "Default",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ListenerRuleConfigurationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ListenerRuleCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_objects")]
    pub actions: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerRuleCondition {
    /// Only `source-ip`.
    pub field: String,
    #[serde(
        default,
        rename = "sourceIPConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_config: Option<SourceIpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_indexes: Option<Vec<i32>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SourceIpConfig {
    pub values: Vec<String>,
}

/// Fields Pylon keeps as written: an object the API server stores as given (a structural schema
/// needs a type).
fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "nullable": true, "x-kubernetes-preserve-unknown-fields": true})
}

fn any_objects(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "nullable": true,
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

/// The CustomResourceDefinitions of the `gateway.k8s.aws` kinds, generated from these types.
pub fn crds(
) -> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![
        LoadBalancerConfiguration::crd(),
        TargetGroupConfiguration::crd(),
        ListenerRuleConfiguration::crd(),
    ]
}
