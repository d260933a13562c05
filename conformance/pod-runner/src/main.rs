//! pod-runner: what a scheduler, a kubelet and a network plugin do for the Gateway API conformance
//! suite, on a cluster that has none of them (an API server and a controller manager only).
//!
//! - one Node (`pylon-node`) whose address is the bridge's, every pending Pod bound to it;
//! - per Pod whose image is `echo-basic`: a network namespace with its own private address on a
//!   bridge, the `echo-basic` program started inside it with the Pod's environment (literal values
//!   and the downward API) and its Secret and ConfigMap volumes written to a per-Pod directory;
//!   the Pod marked Ready with its address once port 3000 answers; restarted if it exits;
//! - Pods of other images are marked Ready without a process;
//! - deleted Pods are stopped and force-deleted;
//! - Pod logs served over HTTPS on the node address, as the API server asks a kubelet for them;
//! - everything created is removed on SIGINT/SIGTERM.
//!
//! `pod-runner --echo-basic <path> --work <dir> --tls-cert <pem> --tls-key <pem>` with KUBECONFIG
//! set; needs root (network namespaces).

mod logs;
mod network;
mod spec;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use logs::Logs;
use network::{ip, network};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

const NODE: &str = "pylon-node";
const BRIDGE: &str = "pylon-br0";
const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);
const PREFIX_LEN: u8 = 16;
const LOG_PORT: u16 = 10250;
/// The port echo-basic serves plain HTTP (or gRPC) on: ready once it accepts connections.
const READY_PORT: u16 = 3000;

struct Config {
    echo_basic: PathBuf,
    work: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
}

struct Running {
    stop: watch::Sender<bool>,
}

struct Runner {
    client: Client,
    config: Config,
    /// Pods being run, by uid.
    pods: Mutex<HashMap<String, Running>>,
    logs: Arc<Logs>,
    next: AtomicU32,
}

fn usage() -> ! {
    eprintln!(
        "usage: pod-runner --echo-basic <path> --work <dir> --tls-cert <pem> --tls-key <pem>"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { usage() };
        values.insert(flag.trim_start_matches('-').to_string(), value);
    }
    let mut take = |k: &str| PathBuf::from(values.remove(k).unwrap_or_else(|| usage()));
    Config {
        echo_basic: take("echo-basic"),
        work: take("work"),
        tls_cert: take("tls-cert"),
        tls_key: take("tls-key"),
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POD_RUNNER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = parse_args();
    if let Err(e) = run(config).await {
        tracing::error!("{e}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> Result<(), String> {
    let client = Client::try_default()
        .await
        .map_err(|e| format!("KUBECONFIG: {e}"))?;
    std::fs::create_dir_all(&config.work).map_err(|e| format!("{:?}: {e}", config.work))?;
    let _ = ip(&["link", "add", BRIDGE, "type", "bridge"]).await;
    let _ = ip(&[
        "addr",
        "add",
        &format!("{NODE_IP}/{PREFIX_LEN}"),
        "dev",
        BRIDGE,
    ])
    .await;
    ip(&["link", "set", BRIDGE, "up"]).await?;
    register_node(&client).await?;
    let runner = Arc::new(Runner {
        client,
        config,
        pods: Mutex::new(HashMap::new()),
        logs: Arc::default(),
        next: AtomicU32::new(0),
    });
    let tls = logs::tls_config(&runner.config.tls_cert, &runner.config.tls_key)?;
    tokio::spawn(logs::serve(runner.logs.clone(), tls));
    tracing::info!("node {NODE} ready on {NODE_IP}; running pods");

    let pods: Api<Pod> = Api::all(runner.client.clone());
    let mut events = watcher::watcher(pods, watcher::Config::default()).boxed();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("SIGTERM handler: {e}"))?;
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => runner.reconcile(pod).await,
                Some(Ok(Event::Delete(pod))) => runner.stop(&uid(&pod)),
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!("watching pods: {e}"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("stopping every pod");
    let uids: Vec<String> = runner.pods.lock().unwrap().keys().cloned().collect();
    for u in uids {
        runner.stop(&u);
    }
    // Give the pod tasks a moment to kill their processes and remove their namespaces.
    for _ in 0..50 {
        if runner.pods.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = ip(&["link", "del", BRIDGE]).await;
    let nodes: Api<Node> = Api::all(runner.client.clone());
    let _ = nodes.delete(NODE, &DeleteParams::default()).await;
    Ok(())
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn now() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The Node every Pod is bound to, Ready, with the bridge address and the log port.
async fn register_node(client: &Client) -> Result<(), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = nodes.delete(NODE, &DeleteParams::default()).await;
    for _ in 0..50 {
        if nodes.get_opt(NODE).await.ok().flatten().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = now();
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux"}},
        "status": {
            "addresses": [{"type": "InternalIP", "address": NODE_IP.to_string()}, {"type": "Hostname", "address": NODE}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": LOG_PORT}},
            "capacity": {"cpu": "64", "memory": "64Gi", "pods": "1000"},
            "allocatable": {"cpu": "64", "memory": "64Gi", "pods": "1000"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "pod-runner is running pods", "lastHeartbeatTime": t, "lastTransitionTime": t}],
            "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "pod-runner", "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "pod-runner", "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""}
        }
    }))
    .map_err(|e| format!("node: {e}"))?;
    nodes
        .create(&PostParams::default(), &node)
        .await
        .map_err(|e| format!("cannot register node {NODE}: {e}"))?;
    Ok(())
}

impl Runner {
    async fn reconcile(self: &Arc<Self>, pod: Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            self.stop(&uid(&pod));
            // Without a kubelet nothing confirms the deletion: do it now.
            let _ = pods
                .delete(&name, &DeleteParams::default().grace_period(0))
                .await;
            return;
        }
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        match node.as_deref() {
            None => {
                let binding = json!({
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name, "namespace": ns},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}
                });
                if let Err(e) = pods
                    .create_subresource::<_, serde_json::Value>(
                        "binding",
                        &name,
                        &PostParams::default(),
                        &binding,
                    )
                    .await
                {
                    tracing::warn!(pod = %format!("{ns}/{name}"), "cannot bind: {e}");
                }
            }
            Some(NODE) => {
                let id = uid(&pod);
                let mut running = self.pods.lock().unwrap();
                if running.contains_key(&id) {
                    return;
                }
                let (stop, stopped) = watch::channel(false);
                running.insert(id.clone(), Running { stop });
                let runner = self.clone();
                tokio::spawn(async move {
                    runner.clone().run_pod(pod, stopped).await;
                    runner.pods.lock().unwrap().remove(&id);
                });
            }
            Some(_) => {}
        }
    }

    fn stop(&self, uid: &str) {
        if let Some(r) = self.pods.lock().unwrap().get(uid) {
            let _ = r.stop.send(true);
        }
    }

    async fn run_pod(self: Arc<Self>, pod: Pod, mut stopped: watch::Receiver<bool>) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(container) = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .cloned()
        else {
            return;
        };
        let image = container.image.clone().unwrap_or_default();
        if !image.contains("echo-basic") {
            tracing::info!(pod = %format!("{ns}/{name}"), %image, "not echo-basic: Ready without a process");
            self.set_status(&pod, &container, None, true, 0).await;
            // Counted as running until deleted, so its own status change does not start it again.
            let _ = stopped.changed().await;
            return;
        }
        // Like ContainerCreating: wait for the Secrets and ConfigMaps the Pod mounts.
        let dir = self.config.work.join(uid(&pod));
        let mounts = loop {
            match spec::volumes(&self.client, &pod, &dir).await {
                Ok(m) => break m,
                Err(e) => {
                    tracing::debug!(pod = %format!("{ns}/{name}"), "waiting for volumes: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
        };
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        // 10.244.1.2 onwards: the bridge holds 10.244.0.1.
        let address = Ipv4Addr::new(10, 244, 1 + (index / 250) as u8, 2 + (index % 250) as u8);
        let netns = format!("pylon-pod-{index}");
        let host_end = format!("pvh{index}");
        if let Err(e) = network(&netns, &host_end, address).await {
            tracing::error!(pod = %format!("{ns}/{name}"), "network: {e}");
            let _ = ip(&["netns", "del", &netns]).await;
            return;
        }
        let env = spec::environment(&pod, &container, address, &mounts);
        let lines = self.logs.open(&ns, &name, &container.name);
        let mut restarts = 0;
        loop {
            let mut child = match Command::new("ip")
                .args(["netns", "exec", &netns])
                .arg(&self.config.echo_basic)
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(pod = %format!("{ns}/{name}"), "cannot start echo-basic: {e}");
                    break;
                }
            };
            for stream in [
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            ]
            .into_iter()
            .flatten()
            {
                let lines = lines.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream).lines();
                    while let Ok(Some(line)) = reader.next_line().await {
                        lines.lock().unwrap().push((Timestamp::now(), line));
                    }
                });
            }
            tracing::info!(pod = %format!("{ns}/{name}"), %address, "started echo-basic");
            let ready = async {
                loop {
                    let target = SocketAddr::from((address, READY_PORT));
                    if tokio::net::TcpStream::connect(target).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                _ = ready => self.set_status(&pod, &container, Some(address), true, restarts).await,
                _ = child.wait() => {}
                _ = stopped.changed() => {}
            }
            tokio::select! {
                status = child.wait() => {
                    tracing::warn!(pod = %format!("{ns}/{name}"), "echo-basic exited ({status:?}); restarting");
                    self.set_status(&pod, &container, Some(address), false, restarts).await;
                    restarts += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stopped.changed() => break,
                    }
                }
                _ = stopped.changed() => {
                    let _ = child.kill().await;
                    break;
                }
            }
        }
        let _ = ip(&["netns", "del", &netns]).await;
        let _ = ip(&["link", "del", &host_end]).await;
        let _ = std::fs::remove_dir_all(&dir);
        tracing::info!(pod = %format!("{ns}/{name}"), "stopped");
    }

    async fn set_status(
        &self,
        pod: &Pod,
        container: &Container,
        address: Option<Ipv4Addr>,
        ready: bool,
        restarts: i32,
    ) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let t = now();
        let flag = if ready { "True" } else { "False" };
        let condition = |type_: &str, status: &str| json!({"type": type_, "status": status, "lastTransitionTime": t});
        let mut status = json!({
            "phase": "Running",
            "hostIP": NODE_IP.to_string(),
            "hostIPs": [{"ip": NODE_IP.to_string()}],
            "startTime": t,
            "conditions": [
                condition("PodScheduled", "True"),
                condition("Initialized", "True"),
                condition("ContainersReady", flag),
                condition("Ready", flag),
            ],
            "containerStatuses": [{
                "name": container.name,
                "image": container.image.clone().unwrap_or_default(),
                "imageID": "",
                "ready": ready,
                "started": ready,
                "restartCount": restarts,
                "state": {"running": {"startedAt": t}},
            }],
        });
        if let Some(a) = address {
            status["podIP"] = json!(a.to_string());
            status["podIPs"] = json!([{"ip": a.to_string()}]);
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if let Err(e) = pods
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
        {
            tracing::warn!(pod = %format!("{ns}/{name}"), "cannot write status: {e}");
        }
    }
}
