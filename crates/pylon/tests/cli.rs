//! The CLI on its own: `pylon plan` and `pylon validate` on paths that do not exist, and
//! `validate` listing every problem of an object in one run.

mod support;

use std::process::Command;
use support::*;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(PYLON).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_and_validate_on_a_missing_path_fail_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-manifests");
    let missing = missing.to_str().unwrap();
    for command in ["plan", "validate"] {
        let (code, stdout, stderr) = run(&[command, missing]);
        assert_eq!(code, Some(2), "{command}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("{missing}: no such file or directory")),
            "{command}: {stderr}"
        );
        assert!(!stdout.contains("No load balancers"), "{command}: {stdout}");
    }
}

#[test]
fn validate_lists_every_problem_of_an_ingress_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ingress = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: demo
  annotations:
    alb.ingress.kubernetes.io/scheme: public
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/healthcheck-interval-seconds: "1"
spec:
  ingressClassName: alb
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefixx
        backend: {service: {name: web, port: {number: 80}}}
      - path: /api
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"#;
    let text = format!(
        "{NAMESPACE}---\n{}---\n{ingress}",
        service("web", 8080, &["10.0.0.1".to_string()])
    );
    std::fs::write(dir.path().join("web.yaml"), text).unwrap();
    let (code, stdout, stderr) = run(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    for field in [
        "metadata.annotations['alb.ingress.kubernetes.io/scheme']",
        "spec.rules[0].http.paths[0].pathType",
        "metadata.annotations['alb.ingress.kubernetes.io/healthcheck-interval-seconds']",
    ] {
        assert!(stdout.contains(field), "validate lacks {field}:\n{stdout}");
    }
    assert!(stdout.contains("3 error(s) found."), "{stdout}");
}
