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
