//! The `pylon` command: serve, plan, validate and inspect load balancers made from Kubernetes
//! manifests.

mod admin;
mod clusters;
mod dns;
mod kube_status;
mod leader;
mod plan;
mod report;
mod run;
mod state;

use clap::{Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use pylon_dns::RecordType;
use pylon_model::Snapshot;
use pylon_proxy::{AccessLog, ProxyOptions};
use pylon_source::FileSource;
use pylon_translate::{translate_clusters, AddressPools, Memo, Options, Translation};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: translation and the proxy allocate many small, short-lived objects. It asks for
/// transparent huge pages, which speed up translating a large cluster and multiply the resident
/// memory of a small process: see [`small_heap`].
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Pylon reads Kubernetes manifests (Ingress with AWS Load Balancer Controller annotations,
/// Services, EndpointSlices, Nodes) and serves them with its built-in L7 load balancer.
#[derive(Parser)]
#[command(name = "pylon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the manifests: bind every load balancer listener and follow edits to the files.
    Run {
        #[command(flatten)]
        translate: TranslateArgs,
        /// The admin endpoint (/status, /config, /healthz). Keep it on loopback.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: SocketAddr,
        /// Kube mode: the namespace of the Lease that elects the replica writing statuses.
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        leader_election_namespace: String,
        /// Kube mode: this replica's name in the election [default: host name and process id].
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Kube mode: how long a leader's Lease lasts without renewal before another replica takes it.
        #[arg(long, default_value_t = 15)]
        lease_duration_seconds: u64,
        /// Write a JSON access log line per request to this file (`-`: standard output).
        #[arg(long)]
        access_log: Option<PathBuf>,
        /// Seconds a client may take to send its request headers (or finish a TLS handshake)
        /// before its connection is closed.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        header_read_timeout: u64,
        /// Proxy threads serving connections [default: one per core].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        workers: Option<u16>,
        /// Where DNS (UDP and TCP) answers for the Lattice services' names, or `off`. Keep it on
        /// loopback, or point a resolver's `on.aws` stub at it.
        #[arg(long, default_value = "127.0.0.1:5353", value_parser = dns_listen)]
        dns_listen: DnsListen,
        /// Where Lattice access logs (AccessLogPolicy) are written: a CloudWatch log group as
        /// cloudwatch/<group>.log, an S3 bucket as s3/<bucket>/access.log, a Firehose stream as
        /// firehose/<stream>.log [default: access-logs in --state-dir].
        #[arg(long)]
        access_log_dir: Option<PathBuf>,
    },
    /// Print the load balancers the manifests make, as a tree (or as JSON or YAML).
    Plan {
        #[command(flatten)]
        translate: TranslateArgs,
        #[arg(short, long, value_enum, default_value_t = Format::Tree)]
        output: Format,
    },
    /// Check the manifests; exits non-zero if any has an error, listing every problem.
    Validate {
        #[command(flatten)]
        translate: TranslateArgs,
    },
    /// Print the CustomResourceDefinitions Pylon reads beyond the Gateway API (the gateway.k8s.aws
    /// configuration kinds and the application-networking.k8s.aws Lattice kinds), as YAML to
    /// `kubectl apply -f -`. The Gateway API CRDs come from the upstream standard install.
    Crds,
    /// Show the status of every object a running Pylon handles.
    Status {
        /// The admin endpoint of the running Pylon.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: SocketAddr,
        #[arg(short, long, value_enum, default_value_t = StatusFormat::Text)]
        output: StatusFormat,
    },
    /// Ask a DNS server (by default `pylon run`'s, see --dns-listen) for a name's addresses, like
    /// `dig +short`: one address per line; exits non-zero with the response code otherwise.
    Resolve {
        name: String,
        #[arg(long, default_value = "127.0.0.1:5353")]
        server: SocketAddr,
        /// Over TCP instead of UDP.
        #[arg(long)]
        tcp: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Tree,
    Json,
    Yaml,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusFormat {
    Text,
    Json,
}

/// Where the manifests are and how load balancers get their addresses.
#[derive(clap::Args)]
pub struct TranslateArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml and .json).
    #[arg(required_unless_present = "kube")]
    paths: Vec<PathBuf>,
    /// Read the objects from a Kubernetes API server instead (KUBECONFIG, ~/.kube/config or the
    /// in-cluster service account).
    #[arg(long, conflicts_with = "paths")]
    kube: bool,
    /// Addresses for internet-facing load balancers.
    #[arg(long, default_value = "127.1.0.0/24")]
    internet_facing_pool: IpNet,
    /// Addresses for internal load balancers.
    #[arg(long, default_value = "127.2.0.0/24")]
    internal_pool: IpNet,
    /// Where addresses are remembered across restarts [default: $XDG_STATE_HOME/pylon or ~/.local/state/pylon].
    #[arg(long, env = "PYLON_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Mixed into generated load balancer and target group names, like the ALB controller's --cluster-name.
    #[arg(long, default_value = "pylon")]
    cluster_name: String,
    /// IPv6 addresses for dual-stack load balancers (ip-address-type dualstack), of either
    /// scheme; a pool wider than ::1/128 must be routed to this host (ip -6 route add local
    /// POOL dev lo).
    #[arg(long, default_value = pylon_translate::DEFAULT_IPV6_POOL)]
    ipv6_pool: IpNet,
    /// Addresses for VPC Lattice service networks (one per network; every service of it is served there).
    #[arg(long, default_value = pylon_translate::DEFAULT_LATTICE_POOL)]
    lattice_pool: IpNet,
    /// The AWS region Lattice names, ARNs and DNS names carry.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// The AWS account id Lattice ARNs carry.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// The cluster's VPC id, as Lattice headers carry it [default: vpc- and a hash of --cluster-name].
    #[arg(long)]
    vpc_id: Option<String>,
    /// Where the Secrets of type pylon-project.github.io/aws-credentials are: the access keys
    /// signed Lattice requests are checked against.
    #[arg(long, default_value = "pylon-system")]
    credentials_namespace: String,
    /// Another cluster whose Lattice objects are read too (repeatable): NAME=PATH (manifests) or
    /// NAME=kubeconfig:PATH (its API server), optionally followed by ,vpc-id=VPC [default VPC:
    /// vpc- and a hash of NAME]. Its Gateways join the service networks of their names, its
    /// routes are their services, its ServiceExports can be imported; nothing is written to it.
    #[arg(long = "remote-cluster", value_parser = clusters::parse)]
    remote_clusters: Vec<clusters::RemoteSpec>,
    /// The scheme of Ingresses and ALB Gateways that set none, like the ALB controller's flag.
    #[arg(long, default_value = "internal", value_parser = ["internal", "internet-facing"])]
    default_load_balancer_scheme: String,
    /// Whether target type ip may be asked for, like the ALB controller's flag (false: an error).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    enable_ip_target_type: bool,
    /// Keep HTTP2 and GRPC target groups behind ALB Gateways' HTTP listeners as HTTP/2 without
    /// TLS (h2c); an ALB speaks HTTP/1.1 to targets behind HTTP listeners.
    #[arg(long)]
    h2c_behind_http_listeners: bool,
}

impl TranslateArgs {
    fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(state::default_dir)
    }

    fn options(&self) -> Result<Options, String> {
        clusters::check(&self.remote_clusters, &self.cluster_name)?;
        let mut pools = AddressPools::new(self.internet_facing_pool, self.internal_pool)
            .map_err(|e| e.to_string())?;
        for (name, other) in [
            ("internet-facing", self.internet_facing_pool),
            ("internal", self.internal_pool),
        ] {
            if other.contains(&self.lattice_pool.network())
                || self.lattice_pool.contains(&other.network())
            {
                return Err(format!(
                    "the Lattice pool {} and the {name} pool {other} overlap",
                    self.lattice_pool
                ));
            }
        }
        pools.lattice = self.lattice_pool;
        if !matches!(self.ipv6_pool, IpNet::V6(_)) {
            return Err(format!(
                "--ipv6-pool {} is not an IPv6 range",
                self.ipv6_pool
            ));
        }
        pools.ipv6 = self.ipv6_pool;
        Ok(Options {
            cluster_name: self.cluster_name.clone(),
            pools,
            reserved: state::load_addresses(&self.state_dir())?,
            lattice: pylon_translate::LatticeOptions {
                region: self.region.clone(),
                account: self.account_id.clone(),
                vpc_id: self.vpc_id.clone(),
                credentials_namespace: self.credentials_namespace.clone(),
            },
            alb: pylon_translate::AlbOptions {
                default_scheme: match self.default_load_balancer_scheme.as_str() {
                    "internet-facing" => pylon_ir::Scheme::InternetFacing,
                    _ => pylon_ir::Scheme::Internal,
                },
                enable_ip_target_type: self.enable_ip_target_type,
                h2c_behind_http_listeners: self.h2c_behind_http_listeners,
            },
        })
    }

    /// Reads the objects once (this cluster's and the remote clusters') and translates them
    /// (addresses as a run would give them).
    fn translate_once(&self) -> Result<Translation, String> {
        let options = self.options()?;
        let runtime =
            tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
        let snapshot: Snapshot = if self.kube {
            runtime.block_on(async {
                let source = pylon_source::KubeSource::connect().await?;
                let snapshots = source.watch(std::time::Duration::from_millis(50)).await;
                let snapshot = snapshots.borrow().as_ref().clone();
                Ok::<_, String>(snapshot)
            })?
        } else {
            // A path that does not exist is a mistake on the command line, not an empty plan.
            if let Some(missing) = self.paths.iter().find(|p| !p.exists()) {
                return Err(format!("{}: no such file or directory", missing.display()));
            }
            FileSource::new(self.paths.clone()).load()
        };
        let remotes = runtime.block_on(clusters::load(&self.remote_clusters))?;
        let views = clusters::views(&self.remote_clusters, &remotes);
        Ok(translate_clusters(
            &snapshot,
            &views,
            &options,
            &mut Memo::default(),
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PYLON_LOG")
                // hickory logs every DNS query at info.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Standalone mode serves manifests from files, usually few: transparent huge pages would only
/// multiply its resident memory (18 → 11 MiB idle without them). Kube mode keeps them: it holds the
/// cluster's objects, and translating thousands of routes is a quarter faster with them.
#[cfg(target_os = "linux")]
fn small_heap() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(error = %e, "transparent huge pages could not be turned off");
    }
}

#[cfg(not(target_os = "linux"))]
fn small_heap() {}

/// `--dns-listen`: an address, or `off`.
#[derive(Clone, Debug)]
struct DnsListen(Option<SocketAddr>);

fn dns_listen(value: &str) -> Result<DnsListen, String> {
    if value == "off" {
        return Ok(DnsListen(None));
    }
    value
        .parse()
        .map(|a| DnsListen(Some(a)))
        .map_err(|e| format!("{value:?} is neither an address (127.0.0.1:5353) nor off: {e}"))
}

fn dispatch(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Run {
            translate,
            admin,
            leader_election_namespace,
            identity,
            lease_duration_seconds,
            workers,
            access_log,
            header_read_timeout,
            dns_listen,
            access_log_dir,
        } => {
            if !translate.kube {
                small_heap();
            }
            let access_log = match access_log {
                None => None,
                Some(path) if path.as_os_str() == "-" => {
                    Some(AccessLog::new(Box::new(std::io::stdout())))
                }
                Some(path) => {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(|e| {
                            format!("cannot open the access log {}: {e}", path.display())
                        })?;
                    Some(AccessLog::new(Box::new(std::io::BufWriter::new(file))))
                }
            };
            // One worker: a single-threaded scheduler, with no work stealing to pay for.
            let mut builder = match workers {
                Some(1) => tokio::runtime::Builder::new_current_thread(),
                Some(n) => {
                    let mut b = tokio::runtime::Builder::new_multi_thread();
                    b.worker_threads(usize::from(n));
                    b
                }
                None => tokio::runtime::Builder::new_multi_thread(),
            };
            let runtime = builder
                .thread_name("pylon-worker")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            let election = leader::Election {
                namespace: leader_election_namespace,
                identity: identity.unwrap_or_else(default_identity),
                lease_duration: std::time::Duration::from_secs(lease_duration_seconds.max(1)),
            };
            let proxy = ProxyOptions {
                access_log,
                header_read_timeout: std::time::Duration::from_secs(header_read_timeout),
                access_log_dir: Some(
                    access_log_dir.unwrap_or_else(|| translate.state_dir().join("access-logs")),
                ),
            };
            runtime.block_on(run::run(&translate, admin, election, proxy, dns_listen.0))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { translate, output } => {
            let translation = translate.translate_once()?;
            let text = match output {
                Format::Tree => plan::render(&translation),
                Format::Json => {
                    serde_json::to_string_pretty(&translation).expect("serializes") + "\n"
                }
                Format::Yaml => serde_saphyr::to_string(&translation).expect("serializes"),
            };
            emit(&text);
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { translate } => {
            let translation = translate.translate_once()?;
            for p in &translation.problems {
                emit(&format!("{p}\n"));
            }
            let errors = translation.problems.iter().filter(|p| p.is_error()).count();
            if errors > 0 {
                emit(&format!("{errors} error(s) found.\n"));
                Ok(ExitCode::from(1))
            } else {
                emit(&format!(
                    "OK: {} load balancer(s), {} service network(s), {} warning(s).\n",
                    translation.ir.load_balancers.len(),
                    translation.ir.service_networks.len(),
                    translation.problems.len()
                ));
                Ok(ExitCode::SUCCESS)
            }
        }
        Command::Crds => {
            for crd in pylon_model::aws::crds()
                .into_iter()
                .chain(pylon_model::lattice::crds())
            {
                emit(&format!(
                    "---\n{}",
                    serde_saphyr::to_string(&crd).expect("CRDs serialize")
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { admin, output } => {
            let view = fetch_status(admin)?;
            match output {
                StatusFormat::Json => emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&view).expect("serializes")
                )),
                StatusFormat::Text => emit(&report::render_status(&view)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Resolve { name, server, tcp } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            let mut answers = Vec::new();
            let mut code = None;
            for record_type in [RecordType::A, RecordType::AAAA] {
                let answer = runtime
                    .block_on(pylon_dns::client::ask(server, tcp, &name, record_type))
                    .map_err(|e| format!("cannot ask {server}: {e}"))?;
                answers.extend(pylon_dns::client::addresses(&answer));
                code.get_or_insert(answer.metadata.response_code);
            }
            if answers.is_empty() {
                return Err(format!(
                    "{name}: no address ({})",
                    code.map_or(String::new(), |c| c.to_string())
                ));
            }
            for address in answers {
                emit(&format!("{address}\n"));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `<host name>-<process id>`: unique among replicas on one node and across nodes.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "pylon".to_string());
    format!("{host}-{}", std::process::id())
}

/// Writes to standard output; a reader that went away (`pylon plan | head`) ends the program
/// quietly instead of with a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// `GET /status` from a running Pylon's admin endpoint.
fn fetch_status(admin: SocketAddr) -> Result<serde_json::Value, String> {
    use std::io::{Read, Write};
    let unreachable = |e: std::io::Error| {
        format!("cannot reach Pylon's admin endpoint at {admin}: {e}; is `pylon run` running (see --admin)?")
    };
    let mut stream =
        std::net::TcpStream::connect_timeout(&admin, std::time::Duration::from_secs(3))
            .map_err(unreachable)?;
    stream
        .write_all(
            format!("GET /status HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .map_err(unreachable)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(unreachable)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).map_err(|e| {
        format!("the admin endpoint at {admin} answered something other than a status ({e})")
    })
}
