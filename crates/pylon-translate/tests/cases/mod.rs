//! The golden cases' inputs, shared by the translator's tests.

use pylon_model::{decode_manifests, Snapshot};
use std::fs;
use std::path::{Path, PathBuf};

/// Where the cases live: `<case>.in.yaml` inputs beside `<case>.out.yaml` expectations.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every case's input decoded into a snapshot (with the decoder's problems), by case name.
pub fn inputs() -> Vec<(String, Snapshot)> {
    let mut cases: Vec<_> = fs::read_dir(dir())
        .expect("tests/golden exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".in.yaml"))
        .collect();
    cases.sort();
    cases
        .iter()
        .map(|input| {
            let case = input
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".in.yaml")
                .to_string();
            let text = fs::read_to_string(input).unwrap();
            let decoded = decode_manifests(&text, &format!("{case}.in.yaml"));
            let snapshot = Snapshot::new(
                decoded.objects.into_iter().map(|o| o.object),
                decoded.problems,
            );
            (case, snapshot)
        })
        .collect()
}

/// A case's remote clusters: `<case>.remote.<cluster>.yaml`, decoded, by cluster name.
#[allow(dead_code)] // the golden test reads remote clusters; the memo test does not
pub fn remotes(case: &str) -> Vec<(String, Snapshot)> {
    let prefix = format!("{case}.remote.");
    let mut out: Vec<(String, Snapshot)> = fs::read_dir(dir())
        .expect("tests/golden exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .filter_map(|name| {
            let cluster = name
                .strip_prefix(&prefix)?
                .strip_suffix(".yaml")?
                .to_string();
            let text = fs::read_to_string(dir().join(&name)).unwrap();
            let decoded = decode_manifests(&text, &name);
            let snapshot = Snapshot::new(
                decoded.objects.into_iter().map(|o| o.object),
                decoded.problems,
            );
            Some((cluster, snapshot))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
