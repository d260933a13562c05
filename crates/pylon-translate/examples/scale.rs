//! Translation at scale: one Gateway with N HTTPRoutes (as in `bench/kube-routes.sh`), translated
//! repeatedly; prints the mean time per translation.
//!
//! `cargo run --release -p pylon-translate --example scale -- [routes] [iterations]`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pylon_model::{decode_manifests, Snapshot};
use pylon_translate::{translate, translate_with, Memo, Options};
use std::fmt::Write;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let routes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let iterations: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: pylon}
spec: {controllerName: pylon-project.github.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: bench}
spec:
  gatewayClassName: pylon
  listeners: [{name: http, protocol: HTTP, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: bench, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.244.90.2], conditions: {ready: true}}]
",
    );
    for i in 0..routes {
        write!(
            text,
            "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r{i}, namespace: bench}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{matches: [{{path: {{type: PathPrefix, value: /r{i}}}}}], backendRefs: [{{name: web, port: 80}}]}}]
"
        )
        .unwrap();
    }
    let decoded = decode_manifests(&text, "scale.yaml");
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let snapshot = Snapshot::new(decoded.objects.into_iter().map(|o| o.object), vec![]);
    let options = Options::default();
    let first = translate(&snapshot, &options);
    let rules: usize = first
        .ir
        .load_balancers
        .iter()
        .flat_map(|lb| &lb.listeners)
        .map(|l| l.rules.len())
        .sum();
    let started = Instant::now();
    let cold_runs = if std::env::var_os("WARM_ONLY").is_some() {
        0
    } else {
        iterations
    };
    for _ in 0..cold_runs {
        std::hint::black_box(translate(&snapshot, &options));
    }
    let cold = started.elapsed() / iterations;
    let mut memo = Memo::default();
    translate_with(&snapshot, &options, &mut memo);
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(translate_with(&snapshot, &options, &mut memo));
    }
    let warm = started.elapsed() / iterations;
    let shared: Vec<_> = pylon_model::Kind::ALL
        .iter()
        .flat_map(|k| snapshot.shared(*k).cloned())
        .collect();
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(Snapshot::from_shared(shared.iter().cloned(), vec![]));
    }
    println!(
        "snapshot of {} objects built in {:?}",
        shared.len(),
        started.elapsed() / iterations
    );
    println!("{routes} routes, {rules} rules: {cold:?} per translation, {warm:?} with a memo");
}
