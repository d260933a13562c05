//! Container logs: kept line by line with the time each was read, and served over HTTPS as a
//! kubelet serves them to the API server for `pods/log`.

use crate::{LOG_PORT, NODE_IP};
use bytes::Bytes;
use http_body_util::Full;
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;

/// One container's lines, with when each was read.
pub type LogLines = Arc<Mutex<Vec<(Timestamp, String)>>>;

/// Every container's log, by (namespace, pod, container).
#[derive(Default)]
pub struct Logs(Mutex<HashMap<(String, String, String), LogLines>>);

impl Logs {
    /// A new, empty log for a container (replacing an earlier one of the same name).
    pub fn open(&self, namespace: &str, pod: &str, container: &str) -> LogLines {
        let lines = LogLines::default();
        self.0.lock().unwrap().insert(
            (
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            ),
            lines.clone(),
        );
        lines
    }
}

pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{:?}: {e}", cert))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{:?}: {e}", cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{:?}: {e}", key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(Arc::new(tls))
}

/// `GET /containerLogs/<namespace>/<pod>/<container>?sinceTime=<RFC 3339>`, as the API server
/// asks a kubelet for `pods/log`.
pub async fn serve(logs: Arc<Logs>, tls: Arc<rustls::ServerConfig>) {
    let listener = match tokio::net::TcpListener::bind((NODE_IP, LOG_PORT)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot serve logs on {NODE_IP}:{LOG_PORT}: {e}");
            return;
        }
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, logs) = (acceptor.clone(), logs.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let logs = logs.clone();
                async move { Ok::<_, std::convert::Infallible>(response(&logs, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response<B>(logs: &Logs, req: &hyper::Request<B>) -> hyper::Response<Full<Bytes>> {
    let parts: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let reply = |code: u16, body: String| {
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or_default();
        r
    };
    let ["containerLogs", ns, pod, container] = parts.as_slice() else {
        return reply(404, "not found\n".into());
    };
    let since: Option<Timestamp> = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "sinceTime")
            .and_then(|(_, v)| v.replace("%3A", ":").parse().ok())
    });
    let key = (ns.to_string(), pod.to_string(), container.to_string());
    let Some(lines) = logs.0.lock().unwrap().get(&key).cloned() else {
        return reply(404, format!("no logs for {ns}/{pod}/{container}\n"));
    };
    let body: String = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| since.is_none_or(|s| *t >= s))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    reply(200, body)
}
