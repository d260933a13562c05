//! Server certificates from `kubernetes.io/tls` Secrets, for Gateway HTTPS listeners
//! (`certificateRefs`) and Ingress HTTPS listeners (`spec.tls`).

use pylon_ir::ServerCertificate;
use pylon_model::{Kind, ObjectRef, Snapshot};

/// The certificate chain and key of Secret `namespace/name`, checked to be PEM, for SNI name
/// `hostname` (`None`: any name). The error says what is wrong, naming the Secret.
pub fn from_secret(
    snapshot: &Snapshot,
    namespace: &str,
    name: &str,
    hostname: Option<&str>,
) -> Result<ServerCertificate, String> {
    let Some(secret) = snapshot.secret(namespace, name) else {
        return Err(format!("Secret {namespace}/{name} does not exist"));
    };
    let (chain, key) = (
        secret_value(secret, "tls.crt"),
        secret_value(secret, "tls.key"),
    );
    if secret.type_.as_deref() != Some("kubernetes.io/tls") || chain.is_empty() || key.is_empty() {
        return Err(format!(
            "Secret {namespace}/{name} is not a kubernetes.io/tls Secret with tls.crt and tls.key"
        ));
    }
    check_pem(&chain, &key).map_err(|why| format!("Secret {namespace}/{name}: {why}"))?;
    Ok(ServerCertificate {
        hostname: hostname.map(str::to_string),
        secret: ObjectRef::namespaced(Kind::Secret, namespace, name),
        chain_pem: chain,
        key_pem: key,
    })
}

/// A Secret's value under `key`, from `data` or else `stringData`; empty when it has none.
pub fn secret_value(
    secret: &pylon_model::k8s_openapi::api::core::v1::Secret,
    key: &str,
) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.clone().into_bytes())
        })
        .unwrap_or_default()
}

/// A certificate chain and key must be PEM: at least one certificate, and one private key.
fn check_pem(chain: &[u8], key: &[u8]) -> Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certificates = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "tls.crt is not a PEM certificate chain".to_string())?;
    if certificates.is_empty() {
        return Err("tls.crt holds no PEM certificate".into());
    }
    PrivateKeyDer::from_pem_slice(key)
        .map_err(|_| "tls.key is not a PEM private key".to_string())?;
    Ok(())
}
