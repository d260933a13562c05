//! The file source: files and directories of multi-document YAML, re-read when they change.
//!
//! A file that turns invalid keeps serving its objects' last good version (and says so); a
//! duplicate object is reported with both places it was found, and the first one is kept.

use pylon_model::{decode_manifests, Object, ObjectRef, Problem, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// Manifest files and directories (searched recursively for `*.yaml`, `*.yml` and `*.json`).
pub struct FileSource {
    paths: Vec<PathBuf>,
    files: BTreeMap<PathBuf, FileState>,
}

/// What a file held the last time it was read.
struct FileState {
    stamp: Stamp,
    text: Option<String>,
    /// Objects with where they were found (`file#doc`).
    objects: Vec<(Object, String)>,
    problems: Vec<Problem>,
}

/// Cheap change detection: modification time, size and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<SystemTime>, u64, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp(meta.modified().ok(), meta.len(), inode))
}

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

impl FileSource {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        FileSource {
            paths,
            files: BTreeMap::new(),
        }
    }

    /// Every manifest file under the configured paths, sorted, and problems with the paths.
    fn discover(&self) -> (BTreeSet<PathBuf>, Vec<Problem>) {
        let mut files = BTreeSet::new();
        let mut problems = Vec::new();
        for path in &self.paths {
            if path.is_file() {
                files.insert(path.clone());
            } else if path.is_dir() {
                walk(path, &mut files);
            } else {
                problems.push(
                    Problem::error(None, None, "no such file or directory")
                        .with_source(path.display().to_string()),
                );
            }
        }
        (files, problems)
    }

    /// Re-reads what changed and returns the current snapshot.
    pub fn load(&mut self) -> Snapshot {
        let (paths, mut problems) = self.discover();
        self.files.retain(|p, _| paths.contains(p));
        for path in &paths {
            let current = stamp(path);
            let unchanged = self
                .files
                .get(path)
                .is_some_and(|s| Some(&s.stamp) == current.as_ref());
            if !unchanged {
                self.reload(path, current);
            }
        }
        let mut seen: BTreeMap<ObjectRef, &str> = BTreeMap::new();
        let mut objects = Vec::new();
        for state in self.files.values() {
            problems.extend(state.problems.iter().cloned());
            for (object, at) in &state.objects {
                let r = object.object_ref();
                match seen.get(&r) {
                    Some(first) => problems.push(
                        Problem::error(
                            Some(r.clone()),
                            None,
                            format!("defined twice, in {first} and in {at}: the first is used; remove one"),
                        )
                        .with_source(at.clone()),
                    ),
                    None => {
                        seen.insert(r, at);
                        objects.push(object.clone());
                    }
                }
            }
        }
        Snapshot::new(objects, problems)
    }

    fn reload(&mut self, path: &Path, stamp: Option<Stamp>) {
        let name = path.display().to_string();
        let stamp = stamp.unwrap_or(Stamp(None, 0, 0));
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let problem =
                    Problem::error(None, None, format!("cannot read: {e}")).with_source(&name);
                let previous = self.files.remove(path);
                let objects = previous.map(|s| s.objects).unwrap_or_default();
                let problems = kept_notice(&objects, problem);
                self.files.insert(
                    path.to_path_buf(),
                    FileState {
                        stamp,
                        text: None,
                        objects,
                        problems,
                    },
                );
                return;
            }
        };
        if let Some(state) = self.files.get_mut(path) {
            if state.text.as_deref() == Some(text.as_str()) {
                state.stamp = stamp;
                return;
            }
        }
        let decoded = decode_manifests(&text, &name);
        let mut objects: Vec<(Object, String)> = decoded
            .objects
            .into_iter()
            .map(|o| (o.object, format!("{name}#{}", o.document)))
            .collect();
        let mut problems = decoded.problems;
        // Keep the last good version of objects this edit broke: the rejected documents, and
        // when the YAML could not be read to its end, everything that was not read.
        if let Some(previous) = self.files.get(path) {
            let now: BTreeSet<ObjectRef> = objects.iter().map(|(o, _)| o.object_ref()).collect();
            let rejected: BTreeSet<&ObjectRef> = decoded.rejected.iter().collect();
            let kept: Vec<(Object, String)> = previous
                .objects
                .iter()
                .filter(|(o, _)| {
                    let r = o.object_ref();
                    !now.contains(&r) && (decoded.unreadable || rejected.contains(&r))
                })
                .cloned()
                .collect();
            for (object, _) in &kept {
                problems.push(
                    Problem::warning(
                        Some(object.object_ref()),
                        None,
                        "serving the last good version until the file is fixed",
                    )
                    .with_source(&name),
                );
            }
            objects.extend(kept);
        }
        self.files.insert(
            path.to_path_buf(),
            FileState {
                stamp,
                text: Some(text),
                objects,
                problems,
            },
        );
    }

    /// Loads now, then keeps watching on a background thread: every `interval` the paths are
    /// checked and a new snapshot is published when anything changed.
    pub fn watch(mut self, interval: Duration) -> watch::Receiver<Arc<Snapshot>> {
        let (tx, rx) = watch::channel(Arc::new(self.load()));
        std::thread::Builder::new()
            .name("pylon-file-source".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                if tx.is_closed() {
                    return;
                }
                let snapshot = self.load();
                tx.send_if_modified(|current| {
                    if **current == snapshot {
                        false
                    } else {
                        tracing::info!(objects = snapshot.len(), "manifests changed");
                        *current = Arc::new(snapshot);
                        true
                    }
                });
            })
            .expect("spawn the file watcher thread");
        rx
    }
}

/// The problem of an unreadable file, plus a notice for each object still served from it.
fn kept_notice(objects: &[(Object, String)], problem: Problem) -> Vec<Problem> {
    let source = problem.source.clone().unwrap_or_default();
    std::iter::once(problem)
        .chain(objects.iter().map(|(o, _)| {
            Problem::warning(
                Some(o.object_ref()),
                None,
                "serving the last good version until the file is fixed",
            )
            .with_source(&source)
        }))
        .collect()
}

fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue; // editor swap files, `..data` links of mounted ConfigMaps
        }
        if path.is_dir() {
            walk(&path, files);
        } else if path
            .extension()
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x))
        {
            files.insert(path);
        }
    }
}

#[cfg(test)]
mod tests;
