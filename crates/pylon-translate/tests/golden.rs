//! Golden translator tests: every `tests/golden/<case>.in.yaml` is decoded and translated with
//! default options (and the remote clusters `<case>.remote.<cluster>.yaml`, if any), and the
//! IR, statuses and problems must equal `<case>.out.yaml`. A comment line `# flags: …` in the
//! input sets the controller flags of that case (`--default-load-balancer-scheme=…`,
//! `--enable-ip-target-type=false`, `--h2c-behind-http-listeners`).
//! `UPDATE_GOLDEN=1 cargo test -p pylon-translate --test golden` rewrites the outputs; review the diff.

mod cases;

use pylon_ir::Scheme;
use pylon_translate::{translate_clusters, Memo, Options, RemoteCluster};
use std::fs;

#[test]
fn golden_cases() {
    let dir = cases::dir();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases::inputs();
    assert!(
        cases.len() >= 40,
        "expected at least 40 golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (case, snapshot) in &cases {
        let remotes = cases::remotes(case);
        let remotes: Vec<RemoteCluster<'_>> = remotes
            .iter()
            .map(|(name, snapshot)| RemoteCluster {
                name,
                vpc_id: None,
                snapshot,
            })
            .collect();
        let translation = translate_clusters(
            snapshot,
            &remotes,
            &options(&fs::read_to_string(dir.join(format!("{case}.in.yaml"))).unwrap()),
            &mut Memo::default(),
        );
        if let Err(errors) = translation.ir.validate() {
            failures.push(format!("{case}: invalid IR: {errors:?}"));
        }
        let actual = serde_saphyr::to_string(&translation).unwrap();
        let output = dir.join(format!("{case}.out.yaml"));
        if update {
            fs::write(&output, &actual).unwrap();
            continue;
        }
        match fs::read_to_string(&output) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{case}: output differs\n{}",
                diff(&expected, &actual)
            )),
            Err(_) => failures.push(format!(
                "{case}: no {case}.out.yaml (run with UPDATE_GOLDEN=1)"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The options of a case: the defaults, changed by its `# flags:` line.
fn options(input: &str) -> Options {
    let mut options = Options::default();
    let flags = input
        .lines()
        .filter_map(|l| l.strip_prefix("# flags:"))
        .flat_map(str::split_whitespace);
    for flag in flags {
        match flag {
            "--default-load-balancer-scheme=internet-facing" => {
                options.alb.default_scheme = Scheme::InternetFacing
            }
            "--enable-ip-target-type=false" => options.alb.enable_ip_target_type = false,
            "--h2c-behind-http-listeners" => options.alb.h2c_behind_http_listeners = true,
            other => panic!("unknown flag in a golden case: {other}"),
        }
    }
    options
}

/// A small line diff: the first lines that differ, with context enough to find them.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            out.push_str(&format!(
                "  line {}:\n  - {}\n  + {}\n",
                i + 1,
                x.unwrap_or(&""),
                y.unwrap_or(&"")
            ));
            if out.lines().count() > 30 {
                break;
            }
        }
    }
    out
}
