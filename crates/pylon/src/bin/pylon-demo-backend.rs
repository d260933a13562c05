//! A small HTTP backend for the quickstart and the end-to-end tests: it answers every request
//! with a JSON line naming itself and echoing what it received, over HTTP/1.1 or h2c (prior
//! knowledge).
//!
//! `pylon-demo-backend --listen 127.0.0.11:8080 --name pod-a`
//!
//! With `--tls-cert` and `--tls-key` (PEM files) it serves TLS instead, offering `h2` and
//! `http/1.1` by ALPN, and says so in every answer (`"tls": true`).
//!
//! Paths with a meaning: `/sleep/<ms>` answers after a delay; `/status/<code>` answers with that
//! code; `POST /health/<code>` makes `/healthz` answer `<code>` from then on; `/__requests` lists
//! the method and path of every request received so far (itself excluded); `/header/<bytes>`
//! answers with an `x-big` header of that many bytes.

use bytes::Bytes;
use clap::Parser;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "A demo HTTP backend that names itself in every answer")]
struct Args {
    #[arg(long)]
    listen: SocketAddr,
    #[arg(long)]
    name: String,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

struct State {
    name: String,
    listen: SocketAddr,
    health: AtomicU16,
    seen: std::sync::Mutex<Vec<String>>,
    tls: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    let state = Arc::new(State {
        name: args.name,
        listen: args.listen,
        health: AtomicU16::new(200),
        seen: std::sync::Mutex::new(Vec::new()),
        tls: args.tls_cert.is_some(),
    });
    let acceptor = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match tls_acceptor(cert, key) {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    eprintln!("{} listening on {}", state.name, state.listen);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(&state, req, peer).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let _ = match acceptor {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
                    Err(_) => return,
                },
            };
        });
    }
}

async fn answer(state: &State, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if path == "/__requests" {
        let seen = state.seen.lock().expect("seen lock").clone();
        return Response::new(Full::new(Bytes::from(
            serde_json::json!(seen).to_string() + "\n",
        )));
    }
    state
        .seen
        .lock()
        .expect("seen lock")
        .push(format!("{} {}", req.method(), req.uri()));
    let mut status = StatusCode::OK;
    if let Some(ms) = path
        .strip_prefix("/sleep/")
        .and_then(|s| s.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = path
        .strip_prefix("/status/")
        .and_then(|s| s.parse::<u16>().ok())
    {
        status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    }
    if path == "/healthz" {
        status =
            StatusCode::from_u16(state.health.load(Ordering::Relaxed)).unwrap_or(StatusCode::OK);
    }
    if req.method() == http::Method::POST {
        if let Some(code) = path
            .strip_prefix("/health/")
            .and_then(|s| s.parse::<u16>().ok())
        {
            state.health.store(code, Ordering::Relaxed);
        }
    }
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    // An HTTP/2 request's `:authority` (HTTP/1.1 requests name theirs in `Host`).
    let authority = req.uri().authority().map(|a| a.to_string());
    let version = format!("{:?}", req.version());
    let body_len = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    let body = serde_json::json!({
        "backend": state.name,
        "address": state.listen.to_string(),
        "peer": peer.to_string(),
        "method": method,
        "uri": uri,
        "authority": authority,
        "version": version,
        "tls": state.tls,
        "headers": headers,
        "bodyBytes": body_len,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string() + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(bytes) = path
        .strip_prefix("/header/")
        .and_then(|s| s.parse::<usize>().ok())
    {
        let big = http::HeaderValue::try_from("x".repeat(bytes)).expect("letters are a value");
        response.headers_mut().insert("x-big", big);
    }
    response
}

/// A TLS acceptor for the certificate chain and key in PEM files, offering h2 and http/1.1.
fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("cannot use the certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}
