//! Drives Pylon in kube mode through the API server and measures what users feel:
//!
//! - propagation: HTTPRoutes created one at a time, each polled through the Gateway until it
//!   answers 200 (time from the API server accepting the route);
//! - churn: one route re-applied every 200 ms (backend and filters alternating) under continuous
//!   traffic, counting failed requests;
//! - attached routes: routes up to a total, then all deleted; Gateway `attachedRoutes` watched until
//!   right, with the number of Gateway status writes;
//! - memory: Pylon's resident set with every route attached.
//!
//! `kube-routes <gateway ip:port> <pylon pid> <routes> <total routes>` with KUBECONFIG set; prints
//! a Markdown report.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::Client;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NS: &str = "bench";

fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench.example.com\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1)?.parse().ok()
}

fn route(name: &str, path: &str, service: &str, port: u16, filter: bool) -> DynamicObject {
    let mut rule = json!({
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "backendRefs": [{"name": service, "port": port}]
    });
    if filter {
        rule["filters"] = json!([{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Churn", "value": "on"}]}}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [rule]}
    }))
    .expect("a route")
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn attached(gateways: &Api<DynamicObject>) -> Option<(i64, String)> {
    let gw = gateways.get("gw").await.ok()?;
    let attached = gw.data["status"]["listeners"][0]["attachedRoutes"].as_i64()?;
    Some((attached, gw.metadata.resource_version.unwrap_or_default()))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: kube-routes <gateway ip:port> <pylon pid> <routes> <total routes>");
        std::process::exit(2);
    }
    let gateway: SocketAddr = args[1].parse().expect("gateway address");
    let pid: u32 = args[2].parse().expect("pid");
    let count: usize = args[3].parse().expect("routes");
    let total: usize = args[4].parse().expect("total routes");
    let client = Client::try_default().await.expect("KUBECONFIG");
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NS, &resource("HTTPRoute", "httproutes"));
    let gateways: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NS, &resource("Gateway", "gateways"));

    // Propagation.
    let mut latencies = Vec::with_capacity(count);
    let mut unexpected = 0usize;
    for i in 0..count {
        let path = format!("/r{i}");
        routes
            .create(
                &PostParams::default(),
                &route(&format!("r{i}"), &path, "web", 80, false),
            )
            .await
            .expect("create a route");
        let created = Instant::now();
        loop {
            match http_status(gateway, &path) {
                Some(200) => break,
                Some(404) => {}
                _ => unexpected += 1,
            }
            if created.elapsed() > Duration::from_secs(30) {
                panic!("route {i} never answered");
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(created.elapsed());
    }
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rss_at_count = rss_mib(pid);

    // Churn under traffic.
    routes
        .create(
            &PostParams::default(),
            &route("churn", "/churn", "web", 80, false),
        )
        .await
        .expect("create the churn route");
    while http_status(gateway, "/churn") != Some(200) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if http_status(gateway, "/churn") == Some(200) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let churn_started = Instant::now();
    let mut applies = 0;
    while churn_started.elapsed() < Duration::from_secs(20) {
        let odd = applies % 2 == 1;
        let (service, port) = if odd { ("web-alt", 81) } else { ("web", 80) };
        let patch = route("churn", "/churn", service, port, odd);
        routes
            .patch(
                "churn",
                &PatchParams::apply("kube-routes-bench").force(),
                &Patch::Apply(&patch),
            )
            .await
            .expect("re-apply the churn route");
        applies += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }

    // Attached routes at scale.
    for i in count..total.saturating_sub(1) {
        routes
            .create(
                &PostParams::default(),
                &route(&format!("r{i}"), &format!("/r{i}"), "web", 80, false),
            )
            .await
            .expect("create a route");
    }
    let expected = total.max(count + 1) as i64;
    let converge = |target: i64| {
        let gateways = gateways.clone();
        async move {
            let started = Instant::now();
            let mut versions = std::collections::BTreeSet::new();
            loop {
                if let Some((n, version)) = attached(&gateways).await {
                    versions.insert(version);
                    if n == target {
                        return (started.elapsed(), versions.len() - 1);
                    }
                }
                if started.elapsed() > Duration::from_secs(120) {
                    return (started.elapsed(), usize::MAX);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let (up_time, up_writes) = converge(expected).await;
    let rss_at_total = rss_mib(pid);
    let all = routes.list(&Default::default()).await.expect("list routes");
    for r in all.items {
        let _ = routes
            .delete(
                &r.metadata.name.unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await;
    }
    let (down_time, down_writes) = converge(0).await;

    println!("| measure | result |");
    println!("|---|---|");
    println!("| propagation, {count} routes added one at a time | mean {mean:.1?}, p50 {:.1?}, p99 {:.1?}, max {:.1?} |", pct(0.5), pct(0.99), latencies.last().copied().unwrap_or_default());
    println!("| answers other than 404 before and 200 after | {unexpected} |");
    println!("| churn: re-applies every 200 ms for 20 s under traffic | {applies} applies, {} requests ok, {} failed |", ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("| attachedRoutes reaches {expected} | {up_time:.1?}, Gateway status written {up_writes} time(s) meanwhile |");
    println!("| all routes deleted, attachedRoutes reaches 0 | {down_time:.1?}, Gateway status written {down_writes} time(s) meanwhile |");
    println!("| Pylon RSS with {count} routes | {rss_at_count:.1} MiB |");
    println!("| Pylon RSS with {expected} routes | {rss_at_total:.1} MiB |");
}
