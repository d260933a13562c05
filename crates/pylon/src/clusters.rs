//! Remote clusters (`--remote-cluster`): clusters whose Lattice objects Pylon reads, from a
//! manifest directory or a kubeconfig's API server, and never writes to.

use pylon_model::Snapshot;
use pylon_source::{FileSource, KubeSource};
use pylon_translate::RemoteCluster;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One `--remote-cluster NAME=PATH` or `NAME=kubeconfig:PATH`, with an optional
/// `,vpc-id=VPC`.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    pub name: String,
    pub vpc_id: Option<String>,
    pub source: RemoteSource,
}

#[derive(Debug, Clone)]
pub enum RemoteSource {
    Files(PathBuf),
    Kubeconfig(PathBuf),
}

pub fn parse(value: &str) -> Result<RemoteSpec, String> {
    let usage = "NAME=PATH or NAME=kubeconfig:PATH, optionally followed by ,vpc-id=VPC";
    let (name, rest) = value
        .split_once('=')
        .ok_or_else(|| format!("{value:?} is not {usage}"))?;
    let valid = |n: &str| {
        !n.is_empty()
            && n.len() <= 100
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    if !valid(name) {
        return Err(format!(
            "{name:?} is not a cluster name (letters, digits, '-', '_' and '.')"
        ));
    }
    let (source, vpc_id) = match rest.rsplit_once(",vpc-id=") {
        Some((source, vpc)) if vpc.starts_with("vpc-") && vpc.len() > 4 => {
            (source, Some(vpc.to_string()))
        }
        Some((_, vpc)) => return Err(format!("{vpc:?} is not a VPC id (vpc-…)")),
        None => (rest, None),
    };
    if source.is_empty() {
        return Err(format!("{value:?} is not {usage}"));
    }
    let source = match source.strip_prefix("kubeconfig:") {
        Some(path) => RemoteSource::Kubeconfig(PathBuf::from(path)),
        None => RemoteSource::Files(PathBuf::from(source)),
    };
    Ok(RemoteSpec {
        name: name.to_string(),
        vpc_id,
        source,
    })
}

/// Checks that names are unique and differ from this cluster's.
pub fn check(specs: &[RemoteSpec], local: &str) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::from([local]);
    for spec in specs {
        if !seen.insert(&spec.name) {
            return Err(format!(
                "--remote-cluster {}: the name is this cluster's (--cluster-name) or another remote's",
                spec.name
            ));
        }
    }
    Ok(())
}

/// Watches every remote cluster: a snapshot of each, renewed on every change.
pub async fn watch(
    specs: &[RemoteSpec],
    interval: Duration,
    debounce: Duration,
) -> Result<Vec<watch::Receiver<Arc<Snapshot>>>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let rx = match &spec.source {
            RemoteSource::Files(path) => {
                missing(path)?;
                FileSource::new(vec![path.clone()]).watch(interval)
            }
            RemoteSource::Kubeconfig(path) => {
                let source = KubeSource::connect_kubeconfig(path)
                    .await
                    .map_err(|e| format!("--remote-cluster {}: {e}", spec.name))?;
                source.watch(debounce).await
            }
        };
        tracing::info!(
            "reading Lattice objects of cluster {} from {}",
            spec.name,
            spec.source
        );
        out.push(rx);
    }
    Ok(out)
}

/// Every remote cluster's objects, read once.
pub async fn load(specs: &[RemoteSpec]) -> Result<Vec<Arc<Snapshot>>, String> {
    let mut out = Vec::new();
    for spec in specs {
        out.push(match &spec.source {
            RemoteSource::Files(path) => {
                missing(path)?;
                Arc::new(FileSource::new(vec![path.clone()]).load())
            }
            RemoteSource::Kubeconfig(path) => {
                let source = KubeSource::connect_kubeconfig(path)
                    .await
                    .map_err(|e| format!("--remote-cluster {}: {e}", spec.name))?;
                let snapshots = source.watch(Duration::from_millis(50)).await;
                let snapshot = snapshots.borrow().clone();
                snapshot
            }
        });
    }
    Ok(out)
}

fn missing(path: &std::path::Path) -> Result<(), String> {
    match path.exists() {
        true => Ok(()),
        false => Err(format!("{}: no such file or directory", path.display())),
    }
}

/// The remote clusters as the translation takes them.
pub fn views<'a>(
    specs: &'a [RemoteSpec],
    snapshots: &'a [Arc<Snapshot>],
) -> Vec<RemoteCluster<'a>> {
    specs
        .iter()
        .zip(snapshots)
        .map(|(spec, snapshot)| RemoteCluster {
            name: &spec.name,
            vpc_id: spec.vpc_id.as_deref(),
            snapshot,
        })
        .collect()
}

/// Waits until any receiver sees a change (never, when there are none); `Err` when a source
/// stopped.
pub async fn changed(receivers: &mut [watch::Receiver<Arc<Snapshot>>]) -> Result<(), ()> {
    if receivers.is_empty() {
        return std::future::pending().await;
    }
    let waits = receivers.iter_mut().map(|r| Box::pin(r.changed()));
    futures::future::select_all(waits).await.0.map_err(|_| ())
}

impl std::fmt::Display for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteSource::Files(p) => write!(f, "{}", p.display()),
            RemoteSource::Kubeconfig(p) => {
                write!(f, "the API server of kubeconfig {}", p.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = parse("east=/srv/east").unwrap();
        assert_eq!(s.name, "east");
        assert!(matches!(s.source, RemoteSource::Files(ref p) if p == &PathBuf::from("/srv/east")));
        let s = parse("west=kubeconfig:/k/west.yaml,vpc-id=vpc-0abc").unwrap();
        assert_eq!(s.vpc_id.as_deref(), Some("vpc-0abc"));
        assert!(matches!(s.source, RemoteSource::Kubeconfig(_)));
        assert!(parse("east").is_err());
        assert!(parse("=x").is_err());
        assert!(parse("a b=x").is_err());
        assert!(parse("east=").is_err());
        assert!(parse("east=/x,vpc-id=nope").is_err());
        let two = [parse("a=/x").unwrap(), parse("a=/y").unwrap()];
        assert!(check(&two, "pylon").is_err());
        assert!(check(&[parse("pylon=/x").unwrap()], "pylon").is_err());
        assert!(check(&two[..1], "pylon").is_ok());
    }
}
