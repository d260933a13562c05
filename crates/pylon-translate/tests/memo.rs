//! A translation with a memo carried across snapshots gives exactly what a fresh translation
//! gives: over every golden case, with each route in turn removed and then put back.

mod cases;

use pylon_model::{Kind, Snapshot};
use pylon_translate::{translate, translate_with, Memo, Options};
use std::sync::Arc;

#[test]
fn memo_changes_nothing() {
    let options = Options::default();
    let mut routes_seen = 0;
    for (case, full) in cases::inputs() {
        let shared: Vec<_> = Kind::ALL
            .iter()
            .flat_map(|k| full.shared(*k).cloned())
            .collect();
        let mut memo = Memo::default();
        assert_eq!(
            translate_with(&full, &options, &mut memo),
            translate(&full, &options),
            "{case}"
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
                    "{case} without {}",
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
