//! A translation with a memo carried across snapshots gives exactly what a fresh translation
//! gives: over every golden case, with each route in turn removed and then put back.

use pylon_model::{decode_manifests, Kind, Snapshot};
use pylon_translate::{translate, translate_with, Memo, Options};
use std::fs;
use std::path::Path;
use std::sync::Arc;

#[test]
fn memo_changes_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let options = Options::default();
    let mut routes_seen = 0;
    for entry in fs::read_dir(&dir).expect("tests/golden exists") {
        let path = entry.expect("readable entry").path();
        if !path.to_string_lossy().ends_with(".in.yaml") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let decoded = decode_manifests(&text, "case.in.yaml");
        let full = Snapshot::new(
            decoded.objects.into_iter().map(|o| o.object),
            decoded.problems,
        );
        let shared: Vec<_> = Kind::ALL
            .iter()
            .flat_map(|k| full.shared(*k).cloned())
            .collect();
        let mut memo = Memo::default();
        assert_eq!(
            translate_with(&full, &options, &mut memo),
            translate(&full, &options),
            "{}",
            path.display()
        );
        for (i, object) in shared.iter().enumerate() {
            if !matches!(object.kind(), Kind::HTTPRoute | Kind::GRPCRoute) {
                continue;
            }
            routes_seen += 1;
            let without = Snapshot::from_shared(
                shared
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, o)| Arc::clone(o)),
                full.problems.clone(),
            );
            for snapshot in [&without, &full] {
                assert_eq!(
                    translate_with(snapshot, &options, &mut memo),
                    translate(snapshot, &options),
                    "{} without {}",
                    path.display(),
                    object.object_ref()
                );
            }
        }
    }
    assert!(
        routes_seen > 50,
        "only {routes_seen} routes in the golden cases"
    );
}
