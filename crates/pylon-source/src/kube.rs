//! The kube source: a watcher per kind Pylon reads, on a real API server, and one debounced
//! snapshot of everything after changes. Objects the server returns that Pylon cannot read are
//! reported, never fatal; a kind the server does not serve (CRDs not installed) is reported and
//! watched again with back-off.

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use pylon_model::{decode_api_object, Kind, Object, Problem, Snapshot};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// One object as read: decoded once when it arrives, not on every snapshot.
#[derive(Clone)]
struct Entry {
    object: Option<Arc<Object>>,
    /// The object without its status and bookkeeping (resourceVersion, managedFields): what
    /// translation depends on.
    spec: serde_json::Value,
    problems: Vec<Problem>,
}

/// What the watchers have seen, by kind, then by namespace/name.
#[derive(Default)]
struct Store {
    objects: BTreeMap<Kind, BTreeMap<(String, String), Entry>>,
    /// The last watch error of each kind, cleared when the kind lists again.
    errors: BTreeMap<Kind, String>,
}

/// How long the API server must be quiet before a burst of events is translated.
const QUIET: Duration = Duration::from_millis(1);

pub struct KubeSource {
    client: Client,
}

impl KubeSource {
    /// Connects with the kubeconfig named by `$KUBECONFIG` (or `~/.kube/config`), or the
    /// in-cluster service account.
    pub async fn connect() -> Result<Self, String> {
        let client = Client::try_default()
            .await
            .map_err(|e| format!("cannot connect to the Kubernetes API server: {e} (set KUBECONFIG, or run in a cluster)"))?;
        Ok(KubeSource { client })
    }

    /// Connects with the kubeconfig at `path` (its current context): a remote cluster's.
    pub async fn connect_kubeconfig(path: &std::path::Path) -> Result<Self, String> {
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("the kubeconfig {} cannot be used: {e}", path.display()))?;
        let client = Client::try_from(config).map_err(|e| {
            format!(
                "cannot connect to the API server of {}: {e}",
                path.display()
            )
        })?;
        Ok(KubeSource { client })
    }

    /// The client, for writing statuses back.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Starts a watcher for every kind and publishes a snapshot after each burst of changes
    /// (a burst ends after a short quiet gap, or after `debounce` at most). The first snapshot is sent once every kind has
    /// listed (or failed to).
    pub async fn watch(self, debounce: Duration) -> watch::Receiver<Arc<Snapshot>> {
        let store = Arc::new(Mutex::new(Store::default()));
        let changed = Arc::new(Notify::new());
        let (listed_tx, mut listed_rx) = tokio::sync::mpsc::channel::<Kind>(Kind::ALL.len());
        for kind in Kind::ALL {
            tokio::spawn(watch_kind(
                self.client.clone(),
                kind,
                store.clone(),
                changed.clone(),
                listed_tx.clone(),
            ));
        }
        drop(listed_tx);
        // Wait for the initial lists, but not for ever: a kind that keeps failing is reported.
        let mut listed = 0;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        while listed < Kind::ALL.len() {
            tokio::select! {
                got = listed_rx.recv() => match got {
                    Some(_) => listed += 1,
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        let (tx, rx) = watch::channel(Arc::new(snapshot(&store)));
        tokio::spawn(async move {
            loop {
                changed.notified().await;
                // Coalesce a burst: wait for a short quiet gap, but never longer than `debounce`,
                // so one change is served within milliseconds and a flood costs one translation.
                let burst = tokio::time::Instant::now();
                loop {
                    tokio::select! {
                        _ = changed.notified() => {
                            if burst.elapsed() >= debounce {
                                break;
                            }
                        }
                        _ = tokio::time::sleep(QUIET) => break,
                    }
                }
                let next = snapshot(&store);
                if tx.is_closed() {
                    return;
                }
                tx.send_if_modified(|current| {
                    if **current == next {
                        false
                    } else {
                        *current = Arc::new(next);
                        true
                    }
                });
            }
        });
        rx
    }
}

/// The API resource of a kind, at the version Pylon reads and writes.
pub fn resource(kind: Kind) -> ApiResource {
    let api_version = kind.api_versions()[0];
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.to_string(),
        kind: kind.name().to_string(),
        plural: kind.plural(),
    }
}

async fn watch_kind(
    client: Client,
    kind: Kind,
    store: Arc<Mutex<Store>>,
    changed: Arc<Notify>,
    listed: tokio::sync::mpsc::Sender<Kind>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &resource(kind));
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut initial: Option<BTreeMap<(String, String), Entry>> = None;
    let mut announced = false;
    while let Some(event) = events.next().await {
        let mut s = store.lock().expect("store lock");
        match event {
            Ok(Event::Init) => initial = Some(BTreeMap::new()),
            Ok(Event::InitApply(o)) => {
                if let Some(map) = initial.as_mut() {
                    map.insert(key(&o), decode(kind, o));
                }
            }
            Ok(Event::InitDone) => {
                s.objects.insert(kind, initial.take().unwrap_or_default());
                s.errors.remove(&kind);
                changed.notify_one();
                if !announced {
                    announced = true;
                    let _ = listed.try_send(kind);
                }
            }
            Ok(Event::Apply(o)) => {
                let entry = decode(kind, o.clone());
                let objects = s.objects.entry(kind).or_default();
                // A change of status alone (Pylon's own writes, mostly) does not change what is
                // served: keep the newer object for the status writer, translate nothing again.
                let unchanged = objects
                    .get(&key(&o))
                    .is_some_and(|old| old.spec == entry.spec);
                objects.insert(key(&o), entry);
                if !unchanged {
                    tracing::trace!(%kind, name = o.metadata.name.as_deref(), "changed");
                    changed.notify_one();
                }
            }
            Ok(Event::Delete(o)) => {
                s.objects.entry(kind).or_default().remove(&key(&o));
                changed.notify_one();
            }
            // 410 Gone: the watch fell behind the API server's history. The watcher lists again
            // by itself; nothing is wrong with the kind.
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                tracing::debug!(%kind, "watch expired; listing again");
            }
            Err(e) => {
                let message = format!("cannot watch {kind} ({}): {e}", kind.api_versions()[0]);
                if s.errors.get(&kind) != Some(&message) {
                    tracing::warn!("{message}");
                    s.errors.insert(kind, message);
                    changed.notify_one();
                }
                if !announced {
                    announced = true;
                    let _ = listed.try_send(kind);
                }
            }
        }
    }
}

fn key(o: &DynamicObject) -> (String, String) {
    (
        o.metadata.namespace.clone().unwrap_or_default(),
        o.metadata.name.clone().unwrap_or_default(),
    )
}

/// Decodes the object as the API server sent it, with `apiVersion` and `kind` filled in (list
/// items may leave them out).
fn decode(kind: Kind, o: DynamicObject) -> Entry {
    let source = match (&o.metadata.namespace, &o.metadata.name) {
        (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
        (_, name) => format!("{kind} {}", name.as_deref().unwrap_or_default()),
    };
    let mut value = serde_json::to_value(o).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), kind.api_versions()[0].into());
        map.insert("kind".into(), kind.name().into());
    }
    let mut spec = value.clone();
    if let Some(map) = spec.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("resourceVersion");
            meta.remove("managedFields");
        }
    }
    let decoded = decode_api_object(value, &source);
    Entry {
        object: decoded
            .objects
            .into_iter()
            .next()
            .map(|o| Arc::new(o.object)),
        spec,
        problems: decoded.problems,
    }
}

fn snapshot(store: &Mutex<Store>) -> Snapshot {
    let s = store.lock().expect("store lock");
    let mut objects: Vec<Arc<Object>> = Vec::new();
    let mut problems: Vec<Problem> = s
        .errors
        .values()
        .map(|m| Problem::warning(None, None, m.clone()))
        .collect();
    for entry in s.objects.values().flat_map(BTreeMap::values) {
        objects.extend(entry.object.clone());
        problems.extend(entry.problems.iter().cloned());
    }
    Snapshot::from_shared(objects, problems)
}
