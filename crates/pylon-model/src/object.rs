//! The kinds Pylon reads and how an object is named: `ObjectRef` is kind/namespace/name.

use crate::aws::{ListenerRuleConfiguration, LoadBalancerConfiguration, TargetGroupConfiguration};
use crate::lattice::{
    AccessLogPolicy, IAMAuthPolicy, ServiceExport, ServiceImport, ServiceNetwork,
    TargetGroupPolicy, VpcAssociationPolicy,
};
use gateway_api::apis::standard::gatewayclasses::GatewayClass;
use gateway_api::apis::standard::gateways::Gateway;
use gateway_api::apis::standard::grpcroutes::GrpcRoute;
use gateway_api::apis::standard::httproutes::HttpRoute;
use gateway_api::apis::standard::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind Pylon understands, with the `apiVersion`s it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Namespace,
    Node,
    Service,
    EndpointSlice,
    Secret,
    IngressClass,
    Ingress,
    GatewayClass,
    Gateway,
    HTTPRoute,
    GRPCRoute,
    ReferenceGrant,
    LoadBalancerConfiguration,
    TargetGroupConfiguration,
    ListenerRuleConfiguration,
    TargetGroupPolicy,
    VpcAssociationPolicy,
    IAMAuthPolicy,
    AccessLogPolicy,
    ServiceExport,
    ServiceImport,
    ServiceNetwork,
}

const GATEWAY_API: &[&str] = &[
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1beta1",
];
const GATEWAY_K8S_AWS: &[&str] = &["gateway.k8s.aws/v1beta1", "gateway.k8s.aws/v1"];
const APPLICATION_NETWORKING: &[&str] = &["application-networking.k8s.aws/v1alpha1"];

impl Kind {
    pub const ALL: [Kind; 22] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Secret,
        Kind::IngressClass,
        Kind::Ingress,
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::HTTPRoute,
        Kind::GRPCRoute,
        Kind::ReferenceGrant,
        Kind::LoadBalancerConfiguration,
        Kind::TargetGroupConfiguration,
        Kind::ListenerRuleConfiguration,
        Kind::TargetGroupPolicy,
        Kind::VpcAssociationPolicy,
        Kind::IAMAuthPolicy,
        Kind::AccessLogPolicy,
        Kind::ServiceExport,
        Kind::ServiceImport,
        Kind::ServiceNetwork,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Secret => "Secret",
            Kind::IngressClass => "IngressClass",
            Kind::Ingress => "Ingress",
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::HTTPRoute => "HTTPRoute",
            Kind::GRPCRoute => "GRPCRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::LoadBalancerConfiguration => "LoadBalancerConfiguration",
            Kind::TargetGroupConfiguration => "TargetGroupConfiguration",
            Kind::ListenerRuleConfiguration => "ListenerRuleConfiguration",
            Kind::TargetGroupPolicy => "TargetGroupPolicy",
            Kind::VpcAssociationPolicy => "VpcAssociationPolicy",
            Kind::IAMAuthPolicy => "IAMAuthPolicy",
            Kind::AccessLogPolicy => "AccessLogPolicy",
            Kind::ServiceExport => "ServiceExport",
            Kind::ServiceImport => "ServiceImport",
            Kind::ServiceNetwork => "ServiceNetwork",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        let version = self.api_versions()[0];
        version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The `apiVersion`s a document of this kind may carry; the first is the one Pylon writes.
    /// Older versions still served by the API server are read the same way.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::Namespace | Kind::Node | Kind::Service | Kind::Secret => &["v1"],
            Kind::EndpointSlice => &["discovery.k8s.io/v1"],
            Kind::IngressClass | Kind::Ingress => &["networking.k8s.io/v1"],
            Kind::GatewayClass | Kind::Gateway | Kind::HTTPRoute | Kind::ReferenceGrant => {
                GATEWAY_API
            }
            Kind::GRPCRoute => &GATEWAY_API[..1],
            Kind::LoadBalancerConfiguration
            | Kind::TargetGroupConfiguration
            | Kind::ListenerRuleConfiguration => GATEWAY_K8S_AWS,
            Kind::TargetGroupPolicy
            | Kind::VpcAssociationPolicy
            | Kind::IAMAuthPolicy
            | Kind::AccessLogPolicy
            | Kind::ServiceExport
            | Kind::ServiceImport
            | Kind::ServiceNetwork => APPLICATION_NETWORKING,
        }
    }

    /// The resource name in API paths.
    pub fn plural(self) -> String {
        match self {
            Kind::Ingress => "ingresses".to_string(),
            Kind::IngressClass => "ingressclasses".to_string(),
            Kind::GatewayClass => "gatewayclasses".to_string(),
            _ => match self.name().to_ascii_lowercase().strip_suffix("policy") {
                Some(stem) => format!("{stem}policies"),
                None => format!("{}s", self.name().to_ascii_lowercase()),
            },
        }
    }

    /// Cluster-scoped kinds have no namespace.
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace
                | Kind::Node
                | Kind::IngressClass
                | Kind::GatewayClass
                | Kind::ServiceNetwork
        )
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kind, namespace and name: how an object is named in statuses, problems and rule origins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            kind: kind.name().to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    pub fn namespaced(kind: Kind, namespace: &str, name: &str) -> Self {
        Self::new(kind, Some(namespace), name)
    }
}

impl fmt::Display for ObjectRef {
    /// `Ingress demo/nginx-ingress`, or `Node ip-10-0-1-1` for cluster-scoped kinds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One typed object of a kind Pylon reads (boxed: the kinds differ a lot in size).
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Namespace(Box<Namespace>),
    Node(Box<Node>),
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Secret(Box<Secret>),
    IngressClass(Box<IngressClass>),
    Ingress(Box<Ingress>),
    GatewayClass(Box<GatewayClass>),
    Gateway(Box<Gateway>),
    HTTPRoute(Box<HttpRoute>),
    GRPCRoute(Box<GrpcRoute>),
    ReferenceGrant(Box<ReferenceGrant>),
    LoadBalancerConfiguration(Box<LoadBalancerConfiguration>),
    TargetGroupConfiguration(Box<TargetGroupConfiguration>),
    ListenerRuleConfiguration(Box<ListenerRuleConfiguration>),
    TargetGroupPolicy(Box<TargetGroupPolicy>),
    VpcAssociationPolicy(Box<VpcAssociationPolicy>),
    IAMAuthPolicy(Box<IAMAuthPolicy>),
    AccessLogPolicy(Box<AccessLogPolicy>),
    ServiceExport(Box<ServiceExport>),
    ServiceImport(Box<ServiceImport>),
    ServiceNetwork(Box<ServiceNetwork>),
}

/// Applies `$body` to the object inside whichever variant `$object` is.
macro_rules! each_variant {
    ($object:expr, $o:ident => $body:expr) => {
        match $object {
            Object::Namespace($o) => $body,
            Object::Node($o) => $body,
            Object::Service($o) => $body,
            Object::EndpointSlice($o) => $body,
            Object::Secret($o) => $body,
            Object::IngressClass($o) => $body,
            Object::Ingress($o) => $body,
            Object::GatewayClass($o) => $body,
            Object::Gateway($o) => $body,
            Object::HTTPRoute($o) => $body,
            Object::GRPCRoute($o) => $body,
            Object::ReferenceGrant($o) => $body,
            Object::LoadBalancerConfiguration($o) => $body,
            Object::TargetGroupConfiguration($o) => $body,
            Object::ListenerRuleConfiguration($o) => $body,
            Object::TargetGroupPolicy($o) => $body,
            Object::VpcAssociationPolicy($o) => $body,
            Object::IAMAuthPolicy($o) => $body,
            Object::AccessLogPolicy($o) => $body,
            Object::ServiceExport($o) => $body,
            Object::ServiceImport($o) => $body,
            Object::ServiceNetwork($o) => $body,
        }
    };
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::Node(_) => Kind::Node,
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Secret(_) => Kind::Secret,
            Object::IngressClass(_) => Kind::IngressClass,
            Object::Ingress(_) => Kind::Ingress,
            Object::GatewayClass(_) => Kind::GatewayClass,
            Object::Gateway(_) => Kind::Gateway,
            Object::HTTPRoute(_) => Kind::HTTPRoute,
            Object::GRPCRoute(_) => Kind::GRPCRoute,
            Object::ReferenceGrant(_) => Kind::ReferenceGrant,
            Object::LoadBalancerConfiguration(_) => Kind::LoadBalancerConfiguration,
            Object::TargetGroupConfiguration(_) => Kind::TargetGroupConfiguration,
            Object::ListenerRuleConfiguration(_) => Kind::ListenerRuleConfiguration,
            Object::TargetGroupPolicy(_) => Kind::TargetGroupPolicy,
            Object::VpcAssociationPolicy(_) => Kind::VpcAssociationPolicy,
            Object::IAMAuthPolicy(_) => Kind::IAMAuthPolicy,
            Object::AccessLogPolicy(_) => Kind::AccessLogPolicy,
            Object::ServiceExport(_) => Kind::ServiceExport,
            Object::ServiceImport(_) => Kind::ServiceImport,
            Object::ServiceNetwork(_) => Kind::ServiceNetwork,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        each_variant!(self, o => &o.metadata)
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        each_variant!(self, o => &mut o.metadata)
    }

    /// Namespaced objects written without `metadata.namespace` land in `default`, as with
    /// `kubectl apply`; cluster-scoped objects carry no namespace.
    pub(crate) fn normalize_namespace(&mut self) {
        let namespaced = self.kind().namespaced();
        let meta = self.metadata_mut();
        if namespaced {
            if meta.namespace.as_deref().is_none_or(str::is_empty) {
                meta.namespace = Some("default".to_string());
            }
        } else {
            meta.namespace = None;
        }
    }

    pub fn object_ref(&self) -> ObjectRef {
        let meta = self.metadata();
        ObjectRef::new(
            self.kind(),
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn plurals_are_the_api_servers() {
        let plural = |k: Kind| k.plural();
        assert_eq!(plural(Kind::Gateway), "gateways");
        assert_eq!(plural(Kind::Ingress), "ingresses");
        assert_eq!(plural(Kind::GatewayClass), "gatewayclasses");
        assert_eq!(plural(Kind::IAMAuthPolicy), "iamauthpolicies");
        assert_eq!(plural(Kind::TargetGroupPolicy), "targetgrouppolicies");
        assert_eq!(plural(Kind::ServiceNetwork), "servicenetworks");
    }

    #[test]
    fn plurals_match_the_crds() {
        for crd in crate::aws::crds().into_iter().chain(crate::lattice::crds()) {
            let kind = Kind::from_name(&crd.spec.names.kind).expect("a kind Pylon reads");
            assert_eq!(kind.plural(), crd.spec.names.plural);
            assert_eq!(kind.group(), crd.spec.group);
            assert_eq!(kind.namespaced(), crd.spec.scope == "Namespaced");
        }
    }
}
