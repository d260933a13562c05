//! Listeners: binding, accepting, serving connections, and swapping configurations under them.

mod h1_server;
mod hyper_server;
mod idle;
mod request;
mod request_head;
mod tls;

pub use h1_server::decode_requests;

use crate::message::Client;
use crate::observe::access_log::AccessLog;
use crate::observe::metrics::Metrics;
use crate::route::CompiledListener;
use crate::steps::keyring;
use crate::upstream::balance::TargetGroupRuntime;
use crate::upstream::health::{CheckConfig, HealthChecks, HealthReport, HealthState};
use arc_swap::ArcSwap;
use h1_server::Rewind;
use pylon_ir::{Ir, LoadBalancer, Protocol, ProtocolVersion};
use request::Context;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tls::{Certificates, Resolver};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// How the load balancer treats clients, beyond what the configuration says.
#[derive(Clone)]
pub struct ProxyOptions {
    /// Where to write an access log line per request.
    pub access_log: Option<AccessLog>,
    /// How long a client may take to send its request headers (and a TLS handshake) before its
    /// connection is closed.
    pub header_read_timeout: Duration,
    /// Where Lattice access logs (AccessLogPolicy destinations) are written.
    pub access_log_dir: Option<std::path::PathBuf>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            access_log: None,
            header_read_timeout: request::HEADER_READ_TIMEOUT,
            access_log_dir: None,
        }
    }
}

/// The built-in load balancer. Create it inside a Tokio runtime.
pub struct Proxy {
    bound: Mutex<HashMap<SocketAddr, Bound>>,
    health: HealthChecks,
    context: Arc<Context>,
    connections: Arc<AtomicUsize>,
    metrics: Metrics,
}

/// A bound listener: its socket's accept loop and the configuration it serves.
struct Bound {
    listener_id: String,
    config: Arc<ArcSwap<CompiledListener>>,
    /// HTTPS: the certificates handshakes choose from.
    tls: Option<Arc<Resolver>>,
    /// Dropping it stops the accept loop and asks open connections to finish gracefully.
    _stop: watch::Sender<()>,
}

/// What happened to each listener of the IR, by listener id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub listeners: BTreeMap<String, ListenerState>,
    /// Lattice access-log files that could not be opened (their lines are not written).
    pub access_log_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ListenerState {
    Bound { address: SocketAddr },
    NotBound { reason: String },
}

impl Default for Proxy {
    fn default() -> Self {
        Self::new()
    }
}

impl Proxy {
    pub fn new() -> Self {
        Self::with_options(ProxyOptions::default())
    }

    pub fn with_options(options: ProxyOptions) -> Self {
        Proxy {
            bound: Mutex::new(HashMap::new()),
            health: HealthChecks::default(),
            context: Arc::new(Context {
                access_log: options.access_log,
                header_read_timeout: options.header_read_timeout,
                lattice_logs: crate::observe::lattice_log::Destinations::new(
                    options.access_log_dir,
                ),
                ..Context::default()
            }),
            connections: Arc::new(AtomicUsize::new(0)),
            metrics: Metrics::default(),
        }
    }

    /// Makes `ir` the configuration being served and reports every listener's state.
    pub fn apply(&self, ir: &Ir) -> ApplyReport {
        let served = ir.served();
        let health = self.health.reconcile(served.iter().flat_map(|lb| {
            lb.target_groups.values().flat_map(|tg| {
                tg.targets.iter().map(|t| {
                    (
                        tg.id.clone(),
                        SocketAddr::new(t.ip, t.port),
                        CheckConfig {
                            check: tg.health_check.clone(),
                            version: tg.protocol_version,
                            deregistration_delay: Duration::from_secs(u64::from(
                                tg.deregistration_delay_seconds,
                            )),
                        },
                    )
                })
            })
        }));
        let mut report = ApplyReport {
            access_log_errors: self.context.lattice_logs.open(
                served
                    .iter()
                    .flat_map(|lb| &lb.listeners)
                    .flat_map(|l| &l.rules)
                    .filter_map(|r| r.access_log.as_ref())
                    .flat_map(|log| log.destinations.iter().map(String::as_str)),
            ),
            ..ApplyReport::default()
        };
        let keyring = Arc::new(keyring(&ir.credentials));
        let mut bound = self.bound.lock().expect("listeners lock");
        let mut desired: HashMap<SocketAddr, (CompiledListener, Option<Arc<Certificates>>)> =
            HashMap::new();
        for lb in &served {
            let lb: &LoadBalancer = lb;
            let groups: HashMap<String, Arc<TargetGroupRuntime>> = lb
                .target_groups
                .values()
                .map(|tg| {
                    let targets = tg
                        .targets
                        .iter()
                        .map(|t| {
                            let addr = SocketAddr::new(t.ip, t.port);
                            (addr, health[&(tg.id.clone(), addr)].clone())
                        })
                        .collect();
                    let http2 = tg.protocol_version != ProtocolVersion::Http1;
                    (
                        tg.id.clone(),
                        Arc::new(
                            TargetGroupRuntime::new(tg.id.clone(), http2, targets)
                                .with_tls(tg.protocol == Protocol::Https),
                        ),
                    )
                })
                .collect();
            for listener in &lb.listeners {
                if lb.address.is_none() {
                    report.listeners.insert(
                        listener.id.clone(),
                        ListenerState::NotBound {
                            reason: "the load balancer has no address".into(),
                        },
                    );
                }
                // A dual-stack load balancer serves each listener at both of its addresses.
                for ip in lb.addresses() {
                    let addr = SocketAddr::new(ip, listener.port);
                    let certificates = match listener.protocol {
                        Protocol::Http => None,
                        Protocol::Https => {
                            // Keys are parsed only when the listener's certificates change.
                            let serving = bound
                                .get(&addr)
                                .and_then(|b| b.tls.as_ref())
                                .map(|r| r.current())
                                .filter(|c| c.loaded_from(&listener.certificates));
                            let loaded = match serving {
                                Some(c) => Ok(c),
                                None => Certificates::load(&listener.certificates).map(Arc::new),
                            };
                            match loaded {
                                Ok(c) => Some(c),
                                Err(e) => {
                                    report.listeners.insert(
                                        listener.id.clone(),
                                        ListenerState::NotBound {
                                            reason: format!("cannot serve TLS: {e}"),
                                        },
                                    );
                                    continue;
                                }
                            }
                        }
                    };
                    let compiled = CompiledListener::compile(lb, listener, &groups, &keyring);
                    desired.insert(addr, (compiled, certificates));
                }
            }
        }
        bound.retain(|addr, b| {
            // A listener that changes between HTTP and HTTPS is bound again.
            let keep = desired
                .get(addr)
                .is_some_and(|(_, tls)| tls.is_some() == b.tls.is_some());
            if !keep {
                tracing::info!(listener = %b.listener_id, %addr, "listener removed");
            }
            keep
        });
        let live: Vec<String> = desired
            .values()
            .map(|(c, _)| c.listener_id.clone())
            .collect();
        for (addr, (mut compiled, certificates)) in desired {
            let id = compiled.listener_id.clone();
            compiled.metrics = self.metrics.listener(&id);
            let state = if let Some(existing) = bound.get_mut(&addr) {
                existing.listener_id = id.clone();
                existing.config.store(Arc::new(compiled));
                if let (Some(resolver), Some(certificates)) = (&existing.tls, certificates) {
                    resolver.store(certificates);
                }
                ListenerState::Bound { address: addr }
            } else {
                let tls = certificates.map(Resolver::new);
                let acceptor = match tls.as_ref().map(Resolver::acceptor).transpose() {
                    Ok(a) => a,
                    Err(e) => {
                        report
                            .listeners
                            .insert(id, ListenerState::NotBound { reason: e });
                        continue;
                    }
                };
                match bind(addr) {
                    Ok(socket) => {
                        let config = Arc::new(ArcSwap::from_pointee(compiled));
                        let (stop, stopped) = watch::channel(());
                        tokio::spawn(accept_loop(
                            socket,
                            acceptor,
                            config.clone(),
                            self.context.clone(),
                            self.connections.clone(),
                            stopped,
                        ));
                        tracing::info!(listener = %id, %addr, "listener bound");
                        bound.insert(
                            addr,
                            Bound {
                                listener_id: id.clone(),
                                config,
                                tls,
                                _stop: stop,
                            },
                        );
                        ListenerState::Bound { address: addr }
                    }
                    Err(e) => {
                        tracing::warn!(listener = %id, %addr, error = %e, "listener cannot bind");
                        ListenerState::NotBound {
                            reason: format!("cannot bind {addr}: {e}"),
                        }
                    }
                }
            };
            // A listener bound at two addresses reports the one that failed, if either did.
            let failed = matches!(
                report.listeners.get(&id),
                Some(ListenerState::NotBound { .. })
            );
            if !failed {
                report.listeners.insert(id, state);
            }
        }
        self.metrics.applied(&live);
        report
    }

    /// Prometheus metrics in the text format: requests and latency per listener, open
    /// connections, target health and the configuration generation.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        self.metrics.write(&mut out);
        out.push_str(
            "# HELP pylon_active_connections Client connections open now.
# TYPE pylon_active_connections gauge
",
        );
        out.push_str(&format!(
            "pylon_active_connections {}
",
            self.connections.load(Ordering::Relaxed)
        ));
        out.push_str("# HELP pylon_target_healthy Whether a target receives traffic (1) or not (0), with its health check state.
# TYPE pylon_target_healthy gauge
");
        for (tg, target, report) in self.health.reports() {
            let state = match report.state {
                HealthState::Initial => "initial",
                HealthState::Healthy => "healthy",
                HealthState::Unhealthy => "unhealthy",
                HealthState::Unavailable => "unavailable",
                HealthState::Draining => "draining",
            };
            let up = u8::from(report.state != HealthState::Unhealthy && !report.ejected);
            out.push_str(&format!(
                "pylon_target_healthy{{target_group=\"{tg}\",target=\"{target}\",state=\"{state}\",ejected=\"{}\"}} {up}\n",
                report.ejected
            ));
        }
        out
    }

    /// The health of one target of a target group, if it is being checked.
    pub fn target_health(&self, target_group: &str, target: SocketAddr) -> Option<HealthReport> {
        self.health.report(target_group, target)
    }

    /// Targets that left `target_group` and still drain, each with its state and the time left.
    pub fn draining(&self, target_group: &str) -> Vec<(SocketAddr, HealthReport, Duration)> {
        self.health
            .draining(target_group)
            .into_iter()
            .map(|(target, left)| {
                let report = HealthReport {
                    state: HealthState::Draining,
                    ejected: false,
                    reason: Some("deregistered: draining".into()),
                };
                (target, report, left)
            })
            .collect()
    }

    /// Stops accepting on every listener, asks open connections to finish their in-flight
    /// requests, and waits for them up to `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.bound.lock().expect("listeners lock").clear();
        let deadline = tokio::time::Instant::now() + grace;
        while self.connections.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted Pylon must rebind while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    socket: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    config: Arc<ArcSwap<CompiledListener>>,
    context: Arc<Context>,
    connections: Arc<AtomicUsize>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.fetch_add(1, Ordering::Relaxed);
                    let guard = ConnectionGuard(connections.clone());
                    let (config, context, stopped) = (config.clone(), context.clone(), stopped.clone());
                    match tls.clone() {
                        None => {
                            tokio::spawn(serve_plain(stream, Client::new(peer), config, context, stopped, guard));
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                let handshake = tokio::time::timeout(context.header_read_timeout, acceptor.accept(stream));
                                match handshake.await {
                                    Ok(Ok(stream)) => {
                                        // ALPN chose h2: the connection speaks HTTP/2 only.
                                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                                        let client = Client::new(peer).with_tls(stream.get_ref().1);
                                        hyper_server::serve(stream, client, config, context, stopped, h2).await;
                                        drop(guard);
                                    }
                                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped.changed() => return,
        }
    }
}

/// Counts open connections so shutdown can wait for them.
struct ConnectionGuard(Arc<AtomicUsize>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A plaintext connection: Pylon's own HTTP/1.1 path first, hyper's server from the first request
/// it does not take.
async fn serve_plain(
    stream: tokio::net::TcpStream,
    client: Client,
    config: Arc<ArcSwap<CompiledListener>>,
    context: Arc<Context>,
    mut stopped: watch::Receiver<()>,
    guard: ConnectionGuard,
) {
    if let Some(handoff) = h1_server::serve(stream, &client, &config, &context, &mut stopped).await
    {
        hyper_server::serve(
            Rewind::from(handoff),
            client,
            config,
            context,
            stopped,
            false,
        )
        .await;
        drop(guard);
    }
}
