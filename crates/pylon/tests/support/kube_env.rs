//! Kube-mode test support: a real API server of the test's own (`scripts/kube-env`), and test
//! hosts in network namespaces for backends the API server accepts in EndpointSlices.

use super::{http_get, wait_until, Env, Process, BACKEND, PYLON};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An API server of our own (its own ports and run directory), stopped when dropped.
pub struct KubeEnv {
    pub run: tempfile::TempDir,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl KubeEnv {
    /// Starts an API server; `base` picks its ports (etcd at `base`, the API server at
    /// `base + 4000`) so that tests can run side by side.
    pub fn up(base: u16) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let run = tempfile::tempdir().unwrap();
        let env = vec![
            (
                "PYLON_KUBE_RUN".to_string(),
                run.path().display().to_string(),
            ),
            ("ETCD_PORT".to_string(), base.to_string()),
            ("APISERVER_PORT".to_string(), (base + 4000).to_string()),
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

    pub fn kubeconfig(&self) -> PathBuf {
        self.run.path().join("kubeconfig")
    }

    pub fn kubectl_apply(&self, manifest: &str) {
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

impl KubeEnv {
    pub fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(self.bin.join("kubectl"))
            .args(["--kubeconfig", &self.kubeconfig().display().to_string()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `kubectl get ... -o json`, parsed.
    pub fn get(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let (ok, out) = self.kubectl(&all);
        assert!(ok, "kubectl {all:?} failed");
        serde_json::from_str(&out).unwrap()
    }
}

pub fn condition<'a>(
    conditions: &'a serde_json::Value,
    kind: &str,
) -> Option<&'a serde_json::Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

impl KubeEnv {
    /// Starts `pylon run --kube` on this API server, in its own loopback network `net`.
    pub fn pylon(&self, env: &Env, kubeconfig: &Path, extra: &[&str]) -> Process {
        let log = env
            .dir
            .path()
            .join(format!("pylon-{}.log", extra.join("-").replace('/', "_")));
        let child = Command::new(PYLON)
            .args(["run", "--kube", "--admin", &env.admin().to_string()])
            .args(["--internet-facing-pool", &format!("127.{}.1.0/24", env.net)])
            .args(["--internal-pool", &format!("127.{}.2.0/24", env.net)])
            .args(["--state-dir", &env.state().display().to_string()])
            .args(["--lattice-pool", &format!("127.{}.4.0/24", env.net)])
            .args(["--dns-listen", &env.dns().to_string()])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let process = Process { child, log };
        wait_until(
            Duration::from_secs(20),
            || http_get(env.admin(), "/healthz", None).is_ok(),
            || format!("pylon never answered; log:\n{}", process.log_text()),
        );
        process
    }

    pub fn lease_holder(&self, namespace: &str) -> String {
        let (ok, out) = self.kubectl(&[
            "get",
            "lease",
            "-n",
            namespace,
            "pylon-leader",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ]);
        if ok {
            out
        } else {
            String::new()
        }
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
pub struct TestHost {
    name: String,
    /// Processes started inside; killed with the host.
    processes: Vec<Child>,
}

impl TestHost {
    pub fn new(n: u8) -> Self {
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
        TestHost {
            name,
            processes: vec![],
        }
    }

    /// Starts a demo backend inside the namespace.
    pub fn backend(&mut self, ip: &str, name: &str) {
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
        self.processes.push(child);
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for p in &mut self.processes {
            let _ = p.kill();
            let _ = p.wait();
        }
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
