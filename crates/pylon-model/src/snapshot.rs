//! The immutable set of objects a source publishes, with typed lookups for the translator.

use crate::aws::{ListenerRuleConfiguration, LoadBalancerConfiguration, TargetGroupConfiguration};
use crate::lattice::{
    AccessLogPolicy, IAMAuthPolicy, ServiceExport, ServiceImport, ServiceNetwork,
    TargetGroupPolicy, VpcAssociationPolicy,
};
use crate::{Kind, Object, ObjectRef, Problem};
use gateway_api::apis::standard::gatewayclasses::GatewayClass;
use gateway_api::apis::standard::gateways::Gateway;
use gateway_api::apis::standard::grpcroutes::GrpcRoute;
use gateway_api::apis::standard::httproutes::HttpRoute;
use gateway_api::apis::standard::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything Pylon knows about the outside world at one moment. Sources build a new one on every
/// change; nothing downstream knows which source it came from.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Objects by kind, then by reference: a kind's objects are found without walking the others.
    /// Shared: successive snapshots of a source hold the same unchanged objects.
    objects: BTreeMap<Kind, BTreeMap<ObjectRef, Arc<Object>>>,
    /// EndpointSlices by the namespace and name of their Service.
    slices: BTreeMap<(String, String), Vec<ObjectRef>>,
    /// Problems the source found while reading (malformed documents, duplicates, skipped kinds).
    pub problems: Vec<Problem>,
}

impl PartialEq for Snapshot {
    /// Shared objects compare by pointer first, so comparing two snapshots of a big cluster that
    /// differ in one object costs little.
    fn eq(&self, other: &Self) -> bool {
        self.problems == other.problems
            && self.slices == other.slices
            && self.objects.len() == other.objects.len()
            && self
                .objects
                .iter()
                .zip(&other.objects)
                .all(|((ka, a), (kb, b))| {
                    ka == kb
                        && a.len() == b.len()
                        && a.iter().zip(b).all(|((ra, oa), (rb, ob))| {
                            ra == rb && (Arc::ptr_eq(oa, ob) || oa == ob)
                        })
                })
    }
}

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

impl Snapshot {
    /// Builds a snapshot. A later object with the same kind/namespace/name replaces an earlier one;
    /// sources report such duplicates before they get here.
    pub fn new(objects: impl IntoIterator<Item = Object>, problems: Vec<Problem>) -> Self {
        Self::from_shared(objects.into_iter().map(Arc::new), problems)
    }

    /// Builds a snapshot of objects shared with other snapshots.
    pub fn from_shared(
        objects: impl IntoIterator<Item = Arc<Object>>,
        problems: Vec<Problem>,
    ) -> Self {
        let mut by_kind: BTreeMap<Kind, BTreeMap<ObjectRef, Arc<Object>>> = BTreeMap::new();
        let mut slices: BTreeMap<(String, String), Vec<ObjectRef>> = BTreeMap::new();
        for object in objects {
            let r = object.object_ref();
            if let Object::EndpointSlice(s) = &*object {
                let service = s
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL));
                if let (Some(ns), Some(service)) = (&s.metadata.namespace, service) {
                    slices
                        .entry((ns.clone(), service.clone()))
                        .or_default()
                        .push(r.clone());
                }
            }
            by_kind.entry(object.kind()).or_default().insert(r, object);
        }
        for refs in slices.values_mut() {
            refs.sort();
            refs.dedup();
        }
        Snapshot {
            objects: by_kind,
            slices,
            problems,
        }
    }

    pub fn len(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects
            .values()
            .flat_map(BTreeMap::values)
            .map(|o| &**o)
    }

    pub fn get(&self, r: &ObjectRef) -> Option<&Object> {
        self.objects
            .get(&Kind::from_name(&r.kind)?)?
            .get(r)
            .map(|o| &**o)
    }

    /// A kind's objects as shared with other snapshots, in namespace/name order: what a consumer
    /// keeps to recognise an object it has seen before (`Arc::ptr_eq`).
    pub fn shared(&self, kind: Kind) -> impl Iterator<Item = &Arc<Object>> {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|o| &**o)
    }

    /// Ingresses in namespace/name order.
    pub fn ingresses(&self) -> impl Iterator<Item = &Ingress> {
        self.of_kind(Kind::Ingress).filter_map(|o| match o {
            Object::Ingress(i) => Some(&**i),
            _ => None,
        })
    }

    pub fn ingress_classes(&self) -> impl Iterator<Item = &IngressClass> {
        self.of_kind(Kind::IngressClass).filter_map(|o| match o {
            Object::IngressClass(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn ingress_class(&self, name: &str) -> Option<&IngressClass> {
        match self.get(&ObjectRef::new(Kind::IngressClass, None, name)) {
            Some(Object::IngressClass(c)) => Some(&**c),
            _ => None,
        }
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        match self.get(&ObjectRef::namespaced(Kind::Service, namespace, name)) {
            Some(Object::Service(s)) => Some(&**s),
            _ => None,
        }
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        match self.get(&ObjectRef::namespaced(Kind::Secret, namespace, name)) {
            Some(Object::Secret(s)) => Some(&**s),
            _ => None,
        }
    }

    /// Secrets in namespace/name order.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.of_kind(Kind::Secret).filter_map(|o| match o {
            Object::Secret(s) => Some(&**s),
            _ => None,
        })
    }

    /// The EndpointSlices of a Service: same namespace, labelled `kubernetes.io/service-name`.
    pub fn endpoint_slices_for<'a>(
        &'a self,
        namespace: &'a str,
        service: &'a str,
    ) -> impl Iterator<Item = &'a EndpointSlice> + 'a {
        self.slices
            .get(&(namespace.to_string(), service.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|r| match self.get(r) {
                Some(Object::EndpointSlice(s)) => Some(&**s),
                _ => None,
            })
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        match self.get(&ObjectRef::new(Kind::Namespace, None, name)) {
            Some(Object::Namespace(n)) => Some(&**n),
            _ => None,
        }
    }

    pub fn gateway_classes(&self) -> impl Iterator<Item = &GatewayClass> {
        self.of_kind(Kind::GatewayClass).filter_map(|o| match o {
            Object::GatewayClass(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn gateway_class(&self, name: &str) -> Option<&GatewayClass> {
        match self.get(&ObjectRef::new(Kind::GatewayClass, None, name)) {
            Some(Object::GatewayClass(c)) => Some(&**c),
            _ => None,
        }
    }

    /// Gateways in namespace/name order.
    pub fn gateways(&self) -> impl Iterator<Item = &Gateway> {
        self.of_kind(Kind::Gateway).filter_map(|o| match o {
            Object::Gateway(g) => Some(&**g),
            _ => None,
        })
    }

    pub fn http_routes(&self) -> impl Iterator<Item = &HttpRoute> {
        self.of_kind(Kind::HTTPRoute).filter_map(|o| match o {
            Object::HTTPRoute(r) => Some(&**r),
            _ => None,
        })
    }

    pub fn grpc_routes(&self) -> impl Iterator<Item = &GrpcRoute> {
        self.of_kind(Kind::GRPCRoute).filter_map(|o| match o {
            Object::GRPCRoute(r) => Some(&**r),
            _ => None,
        })
    }

    pub fn reference_grants(&self) -> impl Iterator<Item = &ReferenceGrant> {
        self.of_kind(Kind::ReferenceGrant).filter_map(|o| match o {
            Object::ReferenceGrant(g) => Some(&**g),
            _ => None,
        })
    }

    pub fn load_balancer_configuration(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&LoadBalancerConfiguration> {
        match self.get(&ObjectRef::namespaced(
            Kind::LoadBalancerConfiguration,
            namespace,
            name,
        )) {
            Some(Object::LoadBalancerConfiguration(c)) => Some(&**c),
            _ => None,
        }
    }

    pub fn target_group_configuration(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&TargetGroupConfiguration> {
        match self.get(&ObjectRef::namespaced(
            Kind::TargetGroupConfiguration,
            namespace,
            name,
        )) {
            Some(Object::TargetGroupConfiguration(c)) => Some(&**c),
            _ => None,
        }
    }

    pub fn target_group_policies(&self) -> impl Iterator<Item = &TargetGroupPolicy> {
        self.of_kind(Kind::TargetGroupPolicy)
            .filter_map(|o| match o {
                Object::TargetGroupPolicy(c) => Some(&**c),
                _ => None,
            })
    }

    pub fn vpc_association_policies(&self) -> impl Iterator<Item = &VpcAssociationPolicy> {
        self.of_kind(Kind::VpcAssociationPolicy)
            .filter_map(|o| match o {
                Object::VpcAssociationPolicy(c) => Some(&**c),
                _ => None,
            })
    }

    pub fn iam_auth_policies(&self) -> impl Iterator<Item = &IAMAuthPolicy> {
        self.of_kind(Kind::IAMAuthPolicy).filter_map(|o| match o {
            Object::IAMAuthPolicy(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn access_log_policies(&self) -> impl Iterator<Item = &AccessLogPolicy> {
        self.of_kind(Kind::AccessLogPolicy).filter_map(|o| match o {
            Object::AccessLogPolicy(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn service_exports(&self) -> impl Iterator<Item = &ServiceExport> {
        self.of_kind(Kind::ServiceExport).filter_map(|o| match o {
            Object::ServiceExport(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn service_imports(&self) -> impl Iterator<Item = &ServiceImport> {
        self.of_kind(Kind::ServiceImport).filter_map(|o| match o {
            Object::ServiceImport(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn service_networks(&self) -> impl Iterator<Item = &ServiceNetwork> {
        self.of_kind(Kind::ServiceNetwork).filter_map(|o| match o {
            Object::ServiceNetwork(c) => Some(&**c),
            _ => None,
        })
    }

    pub fn target_group_configurations(&self) -> impl Iterator<Item = &TargetGroupConfiguration> {
        self.of_kind(Kind::TargetGroupConfiguration)
            .filter_map(|o| match o {
                Object::TargetGroupConfiguration(c) => Some(&**c),
                _ => None,
            })
    }

    pub fn listener_rule_configuration(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<&ListenerRuleConfiguration> {
        match self.get(&ObjectRef::namespaced(
            Kind::ListenerRuleConfiguration,
            namespace,
            name,
        )) {
            Some(Object::ListenerRuleConfiguration(c)) => Some(&**c),
            _ => None,
        }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.of_kind(Kind::Node).filter_map(|o| match o {
            Object::Node(n) => Some(&**n),
            _ => None,
        })
    }
}
