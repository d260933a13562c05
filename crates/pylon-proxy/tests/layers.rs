//! The crate's layers, checked from its sources: a module imports only from its own layer and
//! the layers below it, and no two modules import each other, directly or through others.
//!
//! Layers, top first: `accept`, `route`, `steps`, `upstream`, then `observe` and `message` at
//! the bottom. `fuzzing` (the fuzz targets' entry points) may reach any layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: [&str; 6] = ["message", "observe", "upstream", "steps", "route", "accept"];

/// A module's path from the crate root (`["steps", "forward"]`), its source and whether it is a
/// directory module (`mod.rs`).
struct Module {
    path: Vec<String>,
    source: String,
}

fn modules(dir: &Path, prefix: &[String], out: &mut Vec<Module>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the source folder")
        .map(|e| e.expect("a folder entry").path())
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_stem().unwrap().to_string_lossy().to_string();
        if entry.is_dir() {
            let mut path = prefix.to_vec();
            path.push(name);
            modules(&entry, &path, out);
        } else if entry.extension().is_some_and(|e| e == "rs") {
            let mut path = prefix.to_vec();
            if name != "mod" && name != "lib" {
                path.push(name);
            }
            // Tests may reach anywhere in the module they test.
            if path.last().is_some_and(|n| n == "tests") {
                continue;
            }
            let source = std::fs::read_to_string(&entry).expect("read a source file");
            out.push(Module { path, source });
        }
    }
}

/// The source without `#[cfg(test)]` modules written inline (from the attribute to the end of
/// the file, as this crate writes them).
fn without_tests(source: &str) -> &str {
    match source.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &source[..i],
        None => source,
    }
}

/// Every path to another part of the crate the source names: `crate::a::b` and `super::a`,
/// including each item of a `{…}` group.
fn named_paths(module: &Module) -> Vec<Vec<String>> {
    let source = without_tests(&module.source);
    let mut paths = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = source;
        while let Some(i) = rest.find(start) {
            let preceded = rest[..i].chars().next_back();
            rest = &rest[i + start.len()..];
            if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                let mut parent = module.path.clone();
                parent.pop();
                parent
            };
            let mut chars = rest;
            loop {
                let ident: String = chars
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if ident == "super" {
                    base.pop();
                } else if !ident.is_empty() {
                    base.push(ident.clone());
                }
                chars = &chars[ident.len()..];
                if let Some(next) = chars.strip_prefix("::") {
                    if let Some(group) = next.strip_prefix('{') {
                        let end = group.find('}').unwrap_or(group.len());
                        for item in group[..end].split(',') {
                            let item = item.trim().split("::").next().unwrap_or("").trim();
                            if !item.is_empty() && item != "self" {
                                let mut p = base.clone();
                                p.push(item.to_string());
                                paths.push(p);
                            }
                        }
                        base.clear();
                        break;
                    }
                    chars = next;
                } else {
                    break;
                }
            }
            if !base.is_empty() {
                paths.push(base);
            }
        }
    }
    paths
}

/// The longest prefix of `path` that is one of the crate's modules.
fn owner<'m>(path: &[String], known: &'m BTreeSet<Vec<String>>) -> Option<&'m Vec<String>> {
    (1..=path.len()).rev().find_map(|n| known.get(&path[..n]))
}

fn layer(path: &[String]) -> Option<usize> {
    LAYERS
        .iter()
        .position(|l| path.first().is_some_and(|p| p == l))
}

#[test]
fn layers_import_only_downwards_and_modules_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    modules(&src, &[], &mut all);
    let known: BTreeSet<Vec<String>> = all.iter().map(|m| m.path.clone()).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong_way = Vec::new();
    for module in &all {
        for path in named_paths(module) {
            let Some(to) = owner(&path, &known) else {
                continue;
            };
            if *to == module.path || to.is_empty() {
                continue;
            }
            // A module may use what it declares (its own children); that is no import upwards.
            edges
                .entry(module.path.clone())
                .or_default()
                .insert(to.clone());
            if let (Some(from), Some(target)) = (layer(&module.path), layer(to)) {
                if target > from {
                    wrong_way.push(format!("{} -> {}", module.path.join("::"), to.join("::")));
                }
            }
        }
    }
    assert!(
        wrong_way.is_empty(),
        "imports from a higher layer: {wrong_way:#?}"
    );
    // A circle: a module that reaches itself through its imports.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut stack: Vec<Vec<Vec<String>>> = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(trail) = stack.pop() {
            let last = trail.last().unwrap();
            for next in edges.get(last).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = trail.iter().map(|p| p.join("::")).collect();
                    circles.push(format!("{} -> {}", names.join(" -> "), start.join("::")));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
    // The check sees the crate: every layer is there and imports something.
    for l in LAYERS {
        assert!(
            known.iter().any(|p| p.first().is_some_and(|f| f == l)),
            "no module {l}"
        );
    }
    assert!(edges.len() > 20, "too few imports seen: {edges:#?}");
}
