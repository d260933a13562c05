//! The admin endpoint (loopback by default): `GET /status`, `GET /config`, `GET /metrics`
//! (Prometheus), `GET /healthz`.

use crate::report::Published;
use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pylon_proxy::Proxy;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct Admin {
    pub published: Arc<ArcSwap<Published>>,
    pub proxy: Arc<Proxy>,
}

/// Binds the admin address (failing fast if it cannot) and serves it in the background.
pub async fn serve(addr: SocketAddr, admin: Arc<Admin>) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot bind the admin address {addr}: {e}; choose another with --admin")
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let admin = admin.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let admin = admin.clone();
                    async move { Ok::<_, Infallible>(respond(&admin, &req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}

fn respond(admin: &Admin, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    let published = admin.published.load();
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/status" => {
            json(&serde_json::to_value(published.status_view()).expect("status serializes"))
        }
        "/config" => json(&published.config_view(&admin.proxy)),
        "/metrics" => {
            let mut body = admin.proxy.metrics();
            let workers = tokio::runtime::Handle::current().metrics().num_workers();
            body.push_str(&format!(
                "# HELP pylon_workers Proxy threads serving connections.\n# TYPE pylon_workers gauge\npylon_workers {workers}\n"
            ));
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /status, /config, /metrics or /healthz\n",
        ),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    r
}

fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec_pretty(value).expect("json serializes");
    body.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
