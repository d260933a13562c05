use super::*;
use std::fs;

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";
const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\nspec:\n  ports: [{port: 80}]\n";

#[test]
fn reads_directories_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("sub/svc.yaml"), SVC).unwrap();
    fs::write(dir.path().join("ns.yml"), NS).unwrap();
    fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let snapshot = FileSource::new(vec![dir.path().into()]).load();
    assert_eq!(snapshot.len(), 2);
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
}

#[test]
fn duplicates_name_both_files_and_keep_the_first() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.yaml"), SVC).unwrap();
    fs::write(dir.path().join("b.yaml"), SVC).unwrap();
    let snapshot = FileSource::new(vec![dir.path().into()]).load();
    assert_eq!(snapshot.len(), 1);
    let message = &snapshot.problems[0].message;
    assert!(
        message.contains("a.yaml#0") && message.contains("b.yaml#0"),
        "{message}"
    );
}

#[test]
fn a_file_that_turns_invalid_keeps_its_last_good_objects() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    fs::write(&file, format!("{NS}---\n{SVC}")).unwrap();
    let mut source = FileSource::new(vec![dir.path().into()]);
    assert_eq!(source.load().len(), 2);
    // A broken edit: the Service document gets an unknown field.
    fs::write(&file, format!("{NS}---\n{SVC}  bogus: 1\n")).unwrap();
    let snapshot = source.load();
    assert_eq!(snapshot.len(), 2, "the Service's last good version is kept");
    assert!(snapshot
        .problems
        .iter()
        .any(|p| p.field.as_deref() == Some("spec.bogus")));
    assert!(snapshot
        .problems
        .iter()
        .any(|p| p.message.contains("last good version")));
    // Unreadable YAML keeps everything.
    fs::write(&file, "kind: [\n").unwrap();
    assert_eq!(source.load().len(), 2);
    // Fixed: problems go away; deleted: objects go away.
    fs::write(&file, NS).unwrap();
    let snapshot = source.load();
    assert_eq!(snapshot.len(), 1);
    assert!(snapshot.problems.is_empty());
    fs::remove_file(&file).unwrap();
    assert!(source.load().is_empty());
}

#[test]
fn a_missing_path_is_a_problem() {
    let snapshot = FileSource::new(vec!["/nonexistent/manifests".into()]).load();
    assert!(snapshot.problems[0].message.contains("no such file"));
}

#[test]
fn watch_publishes_edits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    fs::write(&file, NS).unwrap();
    let mut rx = FileSource::new(vec![dir.path().into()]).watch(Duration::from_millis(50));
    assert_eq!(rx.borrow_and_update().len(), 1);
    fs::write(&file, format!("{NS}---\n{SVC}")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .unwrap()
            .unwrap();
    });
    assert_eq!(rx.borrow().len(), 2);
}
