//! Kube mode against a real API server (`scripts/kube-env`, built from the official Go modules):
//! the seed's manifests applied with kubectl are served as in standalone mode, by backends that
//! run as test hosts in network namespaces (the API server refuses loopback EndpointSlices), and
//! an EndpointSlice edit re-targets live traffic.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// An API server of our own (its own ports and run directory), stopped when dropped.
struct KubeEnv {
    run: tempfile::TempDir,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl KubeEnv {
    fn up() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let run = tempfile::tempdir().unwrap();
        let env = vec![
            (
                "PYLON_KUBE_RUN".to_string(),
                run.path().display().to_string(),
            ),
            ("ETCD_PORT".to_string(), "22379".to_string()),
            ("APISERVER_PORT".to_string(), "26443".to_string()),
            ("PYLON_BIN".to_string(), PYLON.to_string()),
        ];
        let out = Command::new(root.join("scripts/kube-env"))
            .arg("up")
            .envs(env.iter().cloned())
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/kube-env");
        assert!(out.status.success(), "scripts/kube-env up failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let path_line = text
            .lines()
            .find(|l| l.starts_with("export PATH="))
            .expect("kube-env prints PATH");
        let bin = PathBuf::from(
            path_line
                .trim_start_matches("export PATH=")
                .split(':')
                .next()
                .unwrap(),
        );
        KubeEnv { run, bin, env }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.run.path().join("kubeconfig")
    }

    fn kubectl_apply(&self, manifest: &str) {
        let mut child = Command::new(self.bin.join("kubectl"))
            .args([
                "--kubeconfig",
                &self.kubeconfig().display().to_string(),
                "apply",
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(manifest.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "kubectl apply failed for:\n{manifest}"
        );
    }
}

impl Drop for KubeEnv {
    fn drop(&mut self) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let _ = Command::new(root.join("scripts/kube-env"))
            .arg("down")
            .envs(self.env.iter().cloned())
            .status();
    }
}

/// A test host: a network namespace joined to this one by a veth pair, `10.244.<n>.2` inside,
/// `10.244.<n>.1` outside; removed when dropped.
struct TestHost {
    name: String,
}

impl TestHost {
    fn new(n: u8) -> Self {
        let name = format!("pylon-test-{n}");
        let sh = |cmd: &str| {
            let ok = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                ok,
                "{cmd} failed (the kube tests need root for network namespaces)"
            );
        };
        // Leftovers of an earlier run that was killed.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &format!("pyh{n}")])
            .stderr(Stdio::null())
            .status();
        sh(&format!("ip netns add {name}"));
        sh(&format!("ip link add pyh{n} type veth peer name pyn{n}"));
        sh(&format!("ip link set pyn{n} netns {name}"));
        sh(&format!(
            "ip addr add 10.244.{n}.1/24 dev pyh{n} && ip link set pyh{n} up"
        ));
        sh(&format!("ip netns exec {name} sh -c 'ip addr add 10.244.{n}.2/24 dev pyn{n} && ip link set pyn{n} up && ip link set lo up'"));
        TestHost { name }
    }

    /// Starts a demo backend inside the namespace.
    fn backend(&self, ip: &str, name: &str) -> Child {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                BACKEND,
                "--listen",
                &format!("{ip}:8080"),
                "--name",
                name,
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("{ip}:8080").parse().unwrap();
        wait_until(
            Duration::from_secs(10),
            || std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
            || format!("{name} never listened"),
        );
        child
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn the_seed_applied_to_an_api_server_is_served_and_follows_endpoint_changes() {
    let kube = KubeEnv::up();
    let (host_a, host_b) = (TestHost::new(71), TestHost::new(72));
    let mut pod_a = host_a.backend("10.244.71.2", "pod-a");
    let mut pod_b = host_b.backend("10.244.72.2", "pod-b");

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/eks-seed");
    let backends = std::fs::read_to_string(format!("{example}/00-nginx-backend.yaml"))
        .unwrap()
        .replace("127.0.0.11", "10.244.71.2")
        .replace("127.0.0.12", "10.244.72.2");
    kube.kubectl_apply(&backends);
    kube.kubectl_apply(&std::fs::read_to_string(format!("{example}/01-ingress-alb.yaml")).unwrap());
    kube.kubectl_apply(&std::fs::read_to_string(format!("{example}/02-gateway-alb.yaml")).unwrap());

    let env = Env::new(51);
    let log = env.dir.path().join("pylon.log");
    let pylon = Command::new(PYLON)
        .args(["run", "--kube", "--admin", &env.admin().to_string()])
        .args([
            "--internet-facing-pool",
            "127.51.1.0/24",
            "--internal-pool",
            "127.51.2.0/24",
        ])
        .args(["--state-dir", &env.state().display().to_string()])
        .env("KUBECONFIG", kube.kubeconfig())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _pylon = Process { child: pylon, log };
    wait_until(
        Duration::from_secs(20),
        || http_get(env.admin(), "/healthz", None).is_ok(),
        || format!("pylon never answered; log:\n{}", _pylon.log_text()),
    );
    let started = Instant::now();
    let ingress = env.wait_for_address("demo", "nginx-ingress");
    eprintln!(
        "kube mode served the seed {:?} after start",
        started.elapsed()
    );
    let gateway = env.wait_for_gateway("demo", "nginx-gateway-ip", 80);
    for lb in [ingress, gateway] {
        let seen: std::collections::BTreeSet<String> = (0..4)
            .map(|_| http_get(lb, "/", None).unwrap().backend())
            .collect();
        assert_eq!(
            seen,
            ["pod-a".to_string(), "pod-b".to_string()].into(),
            "both pods behind {lb}"
        );
    }

    // The EndpointSlice loses pod-a: live traffic follows within a second or so.
    let only_b = backends.replace("- addresses: [\"10.244.71.2\"]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, namespace: demo, name: nginx-576c6b7b6-tsgvn}\n", "");
    assert_ne!(only_b, backends, "the edit removes pod-a");
    let edited = Instant::now();
    kube.kubectl_apply(&only_b);
    wait_until(
        Duration::from_secs(5),
        || (0..4).all(|_| http_get(gateway, "/", None).unwrap().backend() == "pod-b"),
        || "traffic never left pod-a".into(),
    );
    let took = edited.elapsed();
    assert!(took < Duration::from_secs(3), "re-targeting took {took:?}");
    assert!((0..4).all(|_| http_get(ingress, "/", None).unwrap().backend() == "pod-b"));

    let _ = pod_a.kill();
    let _ = pod_b.kill();
    let _ = (pod_a.wait(), pod_b.wait());
}
