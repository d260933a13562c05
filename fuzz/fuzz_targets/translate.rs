//! The translator: whatever snapshot the decoder makes of any text, translated twice with the
//! same options — the same load balancers, statuses and problems both times.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pylon_model::Snapshot;
use pylon_translate::{translate, Options};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let decoded = pylon_model::decode_manifests(&text, "fuzz.yaml");
    let objects = decoded.objects.into_iter().map(|o| o.object);
    let snapshot = Snapshot::new(objects, decoded.problems);
    let options = Options::default();
    let first = translate(&snapshot, &options);
    let second = translate(&snapshot, &options);
    assert_eq!(first, second, "translation is not deterministic");
});
