use super::*;
use crate::Severity;

const SEED: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: Service
metadata:
  name: nginx
  namespace: demo
spec:
  ports:
  - name: http
    port: 80
    targetPort: 80
---
"#;

#[test]
fn reads_every_document_and_skips_empty_ones() {
    let d = decode_manifests(SEED, "seed.yaml");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let refs: Vec<String> = d
        .objects
        .iter()
        .map(|o| o.object.object_ref().to_string())
        .collect();
    assert_eq!(refs, ["Namespace demo", "Service demo/nginx"]);
    assert_eq!(d.objects[1].document, 1);
}

#[test]
fn namespaced_objects_default_to_the_default_namespace() {
    let d = decode_manifests("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "f");
    assert_eq!(
        d.objects[0].object.object_ref().to_string(),
        "Service default/a"
    );
}

#[test]
fn an_unknown_field_rejects_the_document_and_names_the_field() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  prots: []\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    let d = decode_manifests(text, "f.yaml");
    assert_eq!(d.objects.len(), 1, "the second document still loads");
    let p = &d.problems[0];
    assert_eq!(p.severity, Severity::Error);
    assert_eq!(p.source.as_deref(), Some("f.yaml#0"));
    assert_eq!(p.field.as_deref(), Some("spec.prots"));
    assert_eq!(
        d.rejected,
        [ObjectRef::namespaced(Kind::Service, "default", "a")]
    );
}

#[test]
fn a_wrong_type_names_the_field_path() {
    let text =
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: eighty\n";
    let d = decode_manifests(text, "f.yaml");
    assert!(d.objects.is_empty());
    assert_eq!(d.problems[0].field.as_deref(), Some("spec.ports[0].port"));
}

#[test]
fn other_kinds_are_reported_and_skipped() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
    let d = decode_manifests(text, "f.yaml");
    assert!(d.objects.is_empty());
    assert_eq!(d.problems[0].severity, Severity::Warning);
    assert_eq!(
        d.problems[0].object.as_ref().unwrap().to_string(),
        "Deployment web"
    );
    assert!(d.problems[0].message.contains("apps/v1"));
}

#[test]
fn malformed_yaml_is_reported_and_marks_the_text_unreadable() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n";
    let d = decode_manifests(text, "f.yaml");
    assert_eq!(d.objects.len(), 1);
    assert!(d.unreadable);
    assert_eq!(d.problems[0].source.as_deref(), Some("f.yaml#1"));
}

#[test]
fn wrong_api_version_is_an_error() {
    let text = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: a}\n";
    let d = decode_manifests(text, "f.yaml");
    assert!(d.objects.is_empty());
    assert_eq!(d.problems[0].field.as_deref(), Some("apiVersion"));
}

#[test]
fn lists_are_unpacked() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n";
    let d = decode_manifests(text, "f.yaml");
    assert_eq!(d.objects.len(), 1);
}

#[test]
fn unknown_fields_in_lists_are_named_like_kubectl_names_them() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: 80\n    targetPrt: 8080\n";
    let d = decode_manifests(text, "f.yaml");
    assert_eq!(
        d.problems[0].field.as_deref(),
        Some("spec.ports[0].targetPrt")
    );
}

#[test]
fn gateway_api_and_aws_configuration_kinds_are_read() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed-gateway.yaml"
    ))
    .unwrap();
    let d = decode_manifests(&text, "seed-gateway.yaml");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let kinds: Vec<Kind> = d.objects.iter().map(|o| o.object.kind()).collect();
    assert_eq!(
        kinds,
        [
            Kind::GatewayClass,
            Kind::TargetGroupConfiguration,
            Kind::LoadBalancerConfiguration,
            Kind::Gateway,
            Kind::HTTPRoute,
            Kind::GatewayClass
        ]
    );
    assert_eq!(
        d.objects[0].object.object_ref().namespace,
        None,
        "GatewayClass is cluster-scoped"
    );
}

#[test]
fn unknown_fields_in_custom_resources_are_rejected() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - name: a\n      prot: 80\n";
    let d = decode_manifests(text, "f.yaml");
    assert!(d.objects.is_empty());
    assert_eq!(
        d.problems[0].field.as_deref(),
        Some("spec.rules[0].backendRefs[0].prot")
    );
}

#[test]
fn a_key_given_twice_is_an_error_as_kubectl_has_it() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, name: c}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n";
    let d = decode_manifests(text, "f.yaml");
    let names: Vec<String> = d
        .objects
        .iter()
        .map(|o| o.object.object_ref().name)
        .collect();
    assert_eq!(names, ["a", "d"], "the documents around it still load");
    assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
    assert_eq!(d.problems[0].source.as_deref(), Some("f.yaml#1"));
    assert!(
        d.problems[0]
            .message
            .starts_with("malformed YAML: duplicate mapping key: name at line 7"),
        "{:?}",
        d.problems
    );
    assert!(!d.unreadable);
}

#[test]
fn anchors_that_expand_without_bound_are_refused_not_expanded() {
    // The "billion laughs": nine levels of nine aliases each.
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  l0: &l0 [lol]\n",
    );
    for level in 1..10 {
        let refs = vec![format!("*l{}", level - 1); 9].join(", ");
        text.push_str(&format!("  l{level}: &l{level} [{refs}]\n"));
    }
    let d = decode_manifests(&text, "f.yaml");
    assert!(d.objects.is_empty());
    assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
    assert!(
        d.problems[0].message.contains("malformed YAML"),
        "{:?}",
        d.problems
    );
}

#[test]
fn yaml_problems_are_one_line_naming_where() {
    let d = decode_manifests(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a\n",
        "f.yaml",
    );
    let message = &d.problems[0].message;
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("line"), "{message}");
}

#[test]
fn plain_scalars_are_read_by_yaml_1_2s_core_schema() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: no\n  labels: {a: on, b: 0123, c: 1_000}\n";
    let d = decode_manifests(text, "f.yaml");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let names: Vec<String> = d
        .objects
        .iter()
        .map(|o| o.object.object_ref().name)
        .collect();
    assert_eq!(names, ["y", "no"]);
    let Object::Namespace(ns) = &d.objects[1].object else {
        panic!("a Namespace");
    };
    let labels = ns.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["a"], "on");
    assert_eq!(labels["b"], "0123");
    assert_eq!(labels["c"], "1_000");
}
