//! `pylon run`: watch the manifests, translate every change, apply it to the built-in load
//! balancer, and publish statuses on the admin endpoint.

use crate::admin::{self, Admin};
use crate::dns::{self, Dns};
use crate::report::Published;
use crate::{clusters, kube_status, leader, state, TranslateArgs};
use arc_swap::ArcSwap;
use pylon_model::Problem;
use pylon_proxy::{ApplyReport, ListenerState, Proxy, ProxyOptions};
use pylon_source::{FileSource, KubeSource};
use pylon_translate::{translate_clusters, Memo, Translation};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a burst of API server events may last before the whole snapshot is translated again.
const KUBE_DEBOUNCE: Duration = Duration::from_millis(100);
/// How often the manifest paths are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// How often listeners that could not bind are tried again.
const REBIND_INTERVAL: Duration = Duration::from_secs(1);
/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(
    args: &TranslateArgs,
    admin_addr: SocketAddr,
    election: leader::Election,
    proxy_options: ProxyOptions,
    dns_listen: Option<SocketAddr>,
) -> Result<(), String> {
    let mut options = args.options()?;
    let state_dir = args.state_dir();
    let proxy = Arc::new(Proxy::with_options(proxy_options));
    let published = Arc::new(ArcSwap::from_pointee(Published {
        generation: 0,
        translation: Arc::new(Translation::default()),
        apply: ApplyReport::default(),
    }));
    let admin = Arc::new(Admin {
        published: published.clone(),
        proxy: proxy.clone(),
    });
    let admin_addr = admin::serve(admin_addr, admin).await?;
    tracing::info!("admin endpoint on http://{admin_addr} (/status, /config, /healthz)");
    // In kube mode statuses go back to the API server too.
    let (desired_tx, desired_rx) = watch::channel(None);
    let mut release = None;
    let mut snapshots = if args.kube {
        let source = KubeSource::connect().await?;
        release = Some(source.client());
        tracing::info!("reading objects from the Kubernetes API server");
        let (leading_tx, leading_rx) = watch::channel(false);
        tokio::spawn(leader::run(source.client(), election.clone(), leading_tx));
        tokio::spawn(kube_status::write_statuses(
            source.client(),
            desired_rx,
            leading_rx,
        ));
        source.watch(KUBE_DEBOUNCE).await
    } else {
        drop(desired_rx);
        FileSource::new(args.paths.clone()).watch(WATCH_INTERVAL)
    };
    let mut remotes = clusters::watch(&args.remote_clusters, WATCH_INTERVAL, KUBE_DEBOUNCE).await?;
    let mut snapshot = Arc::new(pylon_model::Snapshot::default());
    let mut reported: BTreeSet<Problem> = BTreeSet::new();
    let mut listening: BTreeSet<(String, String)> = BTreeSet::new();
    let mut generation = 0;
    let mut translation = Arc::new(Translation::default());
    let mut retranslate = true;
    let mut memo = Memo::default();
    let mut dns = Dns::new(dns_listen);
    let zones = vec![dns::lattice_zone(&options.lattice.region)];
    loop {
        if retranslate {
            snapshot = snapshots.borrow_and_update().clone();
            let remote: Vec<_> = remotes
                .iter_mut()
                .map(|r| r.borrow_and_update().clone())
                .collect();
            let views = clusters::views(&args.remote_clusters, &remote);
            let started = std::time::Instant::now();
            translation = Arc::new(translate_clusters(&snapshot, &views, &options, &mut memo));
            tracing::debug!(objects = snapshot.len(), elapsed = ?started.elapsed(), "translated");
            generation += 1;
            if translation.reserved != options.reserved {
                if let Err(e) = state::save_addresses(&state_dir, &translation.reserved) {
                    tracing::error!("{e}; addresses may change after a restart");
                }
                options.reserved = translation.reserved.clone();
            }
        }
        let started = std::time::Instant::now();
        let apply = proxy.apply(&translation.ir);
        tracing::debug!(elapsed = ?started.elapsed(), "applied");
        let dns_bound = dns.serve(&translation.ir, zones.clone()).await;
        let unbound = !dns_bound || apply.listeners.values().any(|s| matches!(s, ListenerState::NotBound { reason } if reason.starts_with("cannot bind")));
        let next = Published {
            generation,
            translation: translation.clone(),
            apply,
        };
        announce(&next, &mut listening);
        let problems: BTreeSet<Problem> = next.problems().into_iter().collect();
        for p in problems.difference(&reported) {
            if p.is_error() {
                tracing::error!("{p}");
            } else {
                tracing::warn!("{p}");
            }
        }
        reported = problems;
        if !desired_tx.is_closed() {
            let statuses = next
                .status_view()
                .objects
                .into_iter()
                .map(|o| o.status)
                .collect();
            let _ = desired_tx.send(Some(Arc::new(kube_status::Desired {
                statuses,
                problems: reported.iter().cloned().collect(),
                snapshot: snapshot.clone(),
                annotations: next.translation.annotations.clone(),
            })));
        }
        // The previous translation is freed on another thread: a large one takes milliseconds.
        let previous = published.swap(Arc::new(next));
        tokio::task::spawn_blocking(move || drop(previous));
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Err("the source of objects stopped".into());
                }
                retranslate = true;
            }
            changed = clusters::changed(&mut remotes) => {
                if changed.is_err() {
                    return Err("the source of a remote cluster's objects stopped".into());
                }
                retranslate = true;
            }
            // A port someone else held may be free now: try the same configuration again.
            _ = tokio::time::sleep(REBIND_INTERVAL), if unbound => retranslate = false,
            _ = shutdown_signal() => break,
        }
    }
    tracing::info!("shutting down: finishing in-flight requests");
    if let Some(client) = release {
        leader::release(client, &election).await;
    }
    proxy.shutdown(SHUTDOWN_GRACE).await;
    dns.shutdown().await;
    Ok(())
}

/// Logs each load balancer listener once when it starts serving, with its URL.
fn announce(p: &Published, listening: &mut BTreeSet<(String, String)>) {
    let mut now = BTreeSet::new();
    for lb in &p.translation.ir.served() {
        for l in &lb.listeners {
            if let Some(ListenerState::Bound { address }) = p.apply.listeners.get(&l.id) {
                let entry = (l.id.clone(), address.to_string());
                if !listening.contains(&entry) {
                    tracing::info!(
                        "load balancer {} ({}, {}) serving {}:{} on http://{address}",
                        lb.name,
                        lb.origin,
                        lb.scheme.as_str(),
                        l.protocol.as_str(),
                        l.port
                    );
                }
                now.insert(entry);
            }
        }
    }
    *listening = now;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
