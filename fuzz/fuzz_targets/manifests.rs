//! The manifest decoder: any text, as a file of a manifest directory. Every problem names where
//! it was found, and a text that cannot be read past some point says so.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let decoded = pylon_model::decode_manifests(&text, "fuzz.yaml");
    for problem in &decoded.problems {
        assert!(
            problem.source.is_some(),
            "a problem without its place: {problem:?}"
        );
    }
});
