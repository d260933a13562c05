//! TLS termination with rustls: each HTTPS listener holds its certificates in a swappable set,
//! chosen per handshake by SNI, so a rotated Secret takes effect without rebinding or dropping
//! connections.

use arc_swap::ArcSwap;
use pylon_ir::ServerCertificate;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::rustls;

/// A listener's certificates, by the host name each answers.
#[derive(Debug)]
pub struct Certificates {
    entries: Vec<(Option<String>, Arc<CertifiedKey>)>,
    /// What they were loaded from: an unchanged list is not parsed again.
    source: Vec<ServerCertificate>,
}

impl Certificates {
    /// Parses every certificate; the first one that cannot be used is the error.
    pub fn load(list: &[ServerCertificate]) -> Result<Self, String> {
        if list.is_empty() {
            return Err("no certificate".into());
        }
        let provider = rustls::crypto::ring::default_provider();
        let mut entries = Vec::new();
        for c in list {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&c.chain_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: tls.crt: {e}", c.secret))?;
            let key = PrivateKeyDer::from_pem_slice(&c.key_pem)
                .map_err(|e| format!("{}: tls.key: {e}", c.secret))?;
            let signing = provider
                .key_provider
                .load_private_key(key)
                .map_err(|e| format!("{}: tls.key: {e}", c.secret))?;
            let certified = CertifiedKey::new(chain, signing);
            certified
                .keys_match()
                .map_err(|e| format!("{}: tls.key does not match tls.crt: {e}", c.secret))?;
            entries.push((
                c.hostname.as_ref().map(|h| h.to_ascii_lowercase()),
                Arc::new(certified),
            ));
        }
        Ok(Certificates {
            entries,
            source: list.to_vec(),
        })
    }

    /// Whether these were loaded from exactly `list`.
    pub fn loaded_from(&self, list: &[ServerCertificate]) -> bool {
        self.source == list
    }

    /// The certificate for a handshake: the exact host name, else the longest wildcard that
    /// covers it, else one named for no host, else the first.
    fn choose(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let sni = sni.map(str::to_ascii_lowercase);
        if let Some(sni) = &sni {
            if let Some((_, c)) = self.entries.iter().find(|(h, _)| h.as_ref() == Some(sni)) {
                return Some(c.clone());
            }
            let wildcard = self
                .entries
                .iter()
                .filter_map(|(h, c)| {
                    let suffix = h.as_deref()?.strip_prefix('*')?;
                    (sni.ends_with(suffix) && sni.len() > suffix.len()).then_some((suffix.len(), c))
                })
                .max_by_key(|(len, _)| *len);
            if let Some((_, c)) = wildcard {
                return Some(c.clone());
            }
        }
        self.entries
            .iter()
            .find(|(h, _)| h.is_none())
            .or_else(|| self.entries.first())
            .map(|(_, c)| c.clone())
    }
}

/// Chooses from the certificates currently stored; `store` swaps them.
#[derive(Debug)]
pub struct Resolver(ArcSwap<Certificates>);

impl Resolver {
    pub fn new(certificates: Arc<Certificates>) -> Arc<Self> {
        Arc::new(Resolver(ArcSwap::new(certificates)))
    }

    pub fn store(&self, certificates: Arc<Certificates>) {
        self.0.store(certificates);
    }

    /// The certificates handshakes choose from now.
    pub fn current(&self) -> Arc<Certificates> {
        self.0.load_full()
    }

    /// A server configuration that asks this resolver on every handshake.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.load().choose(hello.server_name())
    }
}
