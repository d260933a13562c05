//! An Ingress's server certificates: `spec.tls` Secrets, and what `certificate-arn` means here.

use super::annotations;
use crate::certificates;
use pylon_ir::ServerCertificate;
use pylon_model::k8s_openapi::api::networking::v1::IngressSpec;
use pylon_model::{ObjectRef, Problem, Snapshot};

/// The certificates an Ingress brings to its HTTPS listeners: each `spec.tls` entry's Secret,
/// for each of its hosts (SNI picks among them; the first serves names no entry lists). A Secret
/// that cannot be used is reported on its field and left out.
pub fn certificates(
    spec: &IngressSpec,
    snapshot: &Snapshot,
    origin: &ObjectRef,
    problems: &mut Vec<Problem>,
) -> Vec<ServerCertificate> {
    let namespace = origin.namespace.as_deref().unwrap_or_default();
    let mut found = Vec::new();
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        let Some(secret) = &tls.secret_name else {
            problems.push(Problem::error(
                Some(origin.clone()),
                Some(format!("spec.tls[{i}].secretName")),
                "Pylon reads certificates from kubernetes.io/tls Secrets: name one (certificates cannot be discovered from ACM)",
            ));
            continue;
        };
        let hosts: Vec<Option<&str>> = match tls.hosts.as_deref() {
            Some(hosts) if !hosts.is_empty() => hosts.iter().map(|h| Some(h.as_str())).collect(),
            _ => vec![None],
        };
        for host in hosts {
            match certificates::from_secret(snapshot, namespace, secret, host) {
                Ok(certificate) => found.push(certificate),
                Err(why) => {
                    problems.push(Problem::error(
                        Some(origin.clone()),
                        Some(format!("spec.tls[{i}].secretName")),
                        why,
                    ));
                    break;
                }
            }
        }
    }
    found
}

/// What an Ingress is told about an HTTPS listener it declares, by whether the listener has any
/// certificate (its own or another member's of its group). `certificate-arn` names ACM
/// certificates, which cannot be read here: with certificates the listener serves them; without,
/// it is not served.
pub fn report(
    origin: &ObjectRef,
    certificate_arn: Option<&str>,
    has_certificates: bool,
    problems: &mut Vec<Problem>,
) {
    match (!has_certificates, certificate_arn) {
        (true, Some(key)) => problems.push(Problem::error(
            Some(origin.clone()),
            Some(annotations::field(key)),
            "ACM certificates cannot be read here, so the HTTPS listeners have no certificate and are not served: add spec.tls with a kubernetes.io/tls Secret",
        )),
        (true, None) => problems.push(Problem::error(
            Some(origin.clone()),
            Some("spec.tls".into()),
            "the HTTPS listeners have no usable certificate and are not served: add spec.tls with a kubernetes.io/tls Secret",
        )),
        (false, Some(key)) => problems.push(Problem::warning(
            Some(origin.clone()),
            Some(annotations::field(key)),
            "ACM certificates cannot be read here; the HTTPS listeners serve the certificates of spec.tls",
        )),
        (false, None) => {}
    }
}
