//! Multi-document YAML manifests → typed objects. Strict like `kubectl apply`'s default field
//! validation: an unknown field rejects its document, and every problem names the document and field.

use crate::{Kind, Object, ObjectRef, Problem};
use serde::de::DeserializeOwned;

/// A typed object and the index of the document it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedObject {
    pub object: Object,
    pub document: usize,
}

/// What one manifest text held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub objects: Vec<DecodedObject>,
    pub problems: Vec<Problem>,
    /// Documents that were rejected but whose kind/namespace/name could still be read, so a
    /// watcher can keep serving their last good version.
    pub rejected: Vec<ObjectRef>,
    /// The YAML itself could not be read past some point; objects after it are unknown.
    pub unreadable: bool,
}

/// Decodes every document of `text`. `source` names the text (a file path) in problems, which
/// point at `source#index` (non-empty documents counted from 0). YAML is read by serde-saphyr,
/// which never panics on malformed input and bounds what anchors and nesting may cost; a
/// document that cannot be read is a problem, and a syntax error ends the text there.
pub fn decode_manifests(text: &str, source: &str) -> Decoded {
    let mut out = Decoded::default();
    let mut bytes = text.as_bytes();
    let mut documents =
        serde_saphyr::read_with_options::<_, serde_json::Value>(&mut bytes, yaml_options())
            .peekable();
    let mut index = 0;
    while let Some(document) = documents.next() {
        let at = format!("{source}#{index}");
        match document {
            Ok(value) => decode_value(value, index, &at, true, &mut out),
            Err(e) => {
                out.problems.push(
                    Problem::error(None, None, format!("malformed YAML: {}", one_line(&e)))
                        .with_source(at),
                );
                // Reading stops after a syntax error: what follows it is unknown.
                out.unreadable |= documents.peek().is_none();
            }
        }
        index += 1;
    }
    out
}

/// YAML 1.2's core schema, as Kubernetes manifests are written against it: only `true` and
/// `false` are booleans (`y`, `no`, `on` are strings), numbers with leading zeros or
/// underscores are strings; a key given twice in one mapping is an error, as `kubectl apply`
/// has it. Problems are one line each.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
}

/// serde-saphyr's message, on one line (it may add a snippet of the source below), without its
/// hints to the programmer.
fn one_line(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default().trim();
    line.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

/// Decodes one object an API server returned. The server has validated it against its schema,
/// so fields Pylon's types do not know (newer API versions, other controllers' status) are
/// accepted; `source` names it in problems.
pub fn decode_api_object(value: serde_json::Value, source: &str) -> Decoded {
    let mut out = Decoded::default();
    decode_value(value, 0, source, false, &mut out);
    out
}

fn decode_value(value: serde_json::Value, index: usize, at: &str, strict: bool, out: &mut Decoded) {
    if value.is_null() {
        return; // an empty document, such as a trailing `---`
    }
    let Some(map) = value.as_object() else {
        out.problems.push(
            Problem::error(
                None,
                None,
                "a manifest document must be a mapping with apiVersion and kind",
            )
            .with_source(at),
        );
        return;
    };
    let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let (Some(api_version), Some(kind_name)) = (text("apiVersion"), text("kind")) else {
        out.problems
            .push(Problem::error(None, None, "document has no apiVersion or kind").with_source(at));
        return;
    };
    // `kind: List` (what `kubectl get -o yaml` prints) carries its objects in `items`.
    if kind_name == "List" && api_version == "v1" {
        let items = map
            .get("items")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        for (i, item) in items.into_iter().enumerate() {
            decode_value(item, index, &format!("{at}.items[{i}]"), strict, out);
        }
        return;
    }
    let metadata = map.get("metadata");
    let meta_text = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let name = meta_text("name");
    let Some(kind) = Kind::from_name(&kind_name) else {
        let object = name.as_ref().map(|n| ObjectRef {
            kind: kind_name.clone(),
            namespace: meta_text("namespace"),
            name: n.clone(),
        });
        out.problems.push(
            Problem::warning(
                object,
                Some("kind".into()),
                format!("skipped: Pylon does not read {kind_name} ({api_version})"),
            )
            .with_source(at),
        );
        return;
    };
    let identity = name.as_deref().map(|n| {
        let ns = kind
            .namespaced()
            .then(|| meta_text("namespace").unwrap_or_else(|| "default".into()));
        ObjectRef::new(kind, ns.as_deref(), n)
    });
    let reject = |out: &mut Decoded, field: Option<String>, message: String| {
        out.problems
            .push(Problem::error(identity.clone(), field, message).with_source(at));
        out.rejected.extend(identity.clone());
    };
    if !kind.api_versions().contains(&api_version.as_str()) {
        reject(
            out,
            Some("apiVersion".into()),
            format!(
                "{kind} is read as {}, not {api_version}",
                kind.api_versions().join(" or ")
            ),
        );
        return;
    }
    if name.as_deref().is_none_or(str::is_empty) {
        reject(
            out,
            Some("metadata.name".into()),
            "metadata.name is required".into(),
        );
        return;
    }
    let typed = match kind {
        Kind::Namespace => typed(value, strict).map(|o| Object::Namespace(Box::new(o))),
        Kind::Node => typed(value, strict).map(|o| Object::Node(Box::new(o))),
        Kind::Service => typed(value, strict).map(|o| Object::Service(Box::new(o))),
        Kind::EndpointSlice => typed(value, strict).map(|o| Object::EndpointSlice(Box::new(o))),
        Kind::Secret => typed(value, strict).map(|o| Object::Secret(Box::new(o))),
        Kind::IngressClass => typed(value, strict).map(|o| Object::IngressClass(Box::new(o))),
        Kind::Ingress => typed(value, strict).map(|o| Object::Ingress(Box::new(o))),
        Kind::GatewayClass => typed(value, strict).map(|o| Object::GatewayClass(Box::new(o))),
        Kind::Gateway => typed(value, strict).map(|o| Object::Gateway(Box::new(o))),
        Kind::HTTPRoute => typed(value, strict).map(|o| Object::HTTPRoute(Box::new(o))),
        Kind::GRPCRoute => typed(value, strict).map(|o| Object::GRPCRoute(Box::new(o))),
        Kind::ReferenceGrant => typed(value, strict).map(|o| Object::ReferenceGrant(Box::new(o))),
        Kind::LoadBalancerConfiguration => {
            typed(value, strict).map(|o| Object::LoadBalancerConfiguration(Box::new(o)))
        }
        Kind::TargetGroupConfiguration => {
            typed(value, strict).map(|o| Object::TargetGroupConfiguration(Box::new(o)))
        }
        Kind::ListenerRuleConfiguration => {
            typed(value, strict).map(|o| Object::ListenerRuleConfiguration(Box::new(o)))
        }
        Kind::TargetGroupPolicy => {
            typed(value, strict).map(|o| Object::TargetGroupPolicy(Box::new(o)))
        }
        Kind::VpcAssociationPolicy => {
            typed(value, strict).map(|o| Object::VpcAssociationPolicy(Box::new(o)))
        }
        Kind::IAMAuthPolicy => typed(value, strict).map(|o| Object::IAMAuthPolicy(Box::new(o))),
        Kind::AccessLogPolicy => typed(value, strict).map(|o| Object::AccessLogPolicy(Box::new(o))),
        Kind::ServiceExport => typed(value, strict).map(|o| Object::ServiceExport(Box::new(o))),
        Kind::ServiceImport => typed(value, strict).map(|o| Object::ServiceImport(Box::new(o))),
        Kind::ServiceNetwork => typed(value, strict).map(|o| Object::ServiceNetwork(Box::new(o))),
    };
    match typed {
        Ok(mut object) => {
            object.normalize_namespace();
            out.objects.push(DecodedObject {
                object,
                document: index,
            });
        }
        Err(FieldError { field, message }) => reject(out, field, message),
    }
}

struct FieldError {
    field: Option<String>,
    message: String,
}

/// Deserializes a typed object, refusing unknown fields and naming the path of any error.
fn typed<T: DeserializeOwned>(value: serde_json::Value, strict: bool) -> Result<T, FieldError> {
    let mut unknown = Vec::new();
    let mut note_unknown = |path: serde_ignored::Path<'_>| {
        let path = field_path(&path.to_string());
        // Custom resource types leave `apiVersion` and `kind` to their caller (checked above).
        if path != "apiVersion" && path != "kind" {
            unknown.push(path);
        }
    };
    let ignoring = serde_ignored::Deserializer::new(value, &mut note_unknown);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignoring);
    match result {
        Err(e) => {
            let path = e.path().to_string();
            Err(FieldError {
                field: (path != ".").then_some(path),
                message: e.into_inner().to_string(),
            })
        }
        Ok(_) if strict && !unknown.is_empty() => Err(FieldError {
            field: Some(unknown[0].clone()),
            message: format!(
                "unknown field{} {} (check the spelling and the apiVersion)",
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", ")
            ),
        }),
        Ok(t) => Ok(t),
    }
}

/// serde_ignored writes `spec.?.ports.0.name` (`?` for an `Option` level, `.0` for an index);
/// users read `spec.ports[0].name`, as serde_path_to_error and kubectl write it.
fn field_path(raw: &str) -> String {
    let mut out = String::new();
    for segment in raw.split('.').filter(|s| !s.is_empty() && *s != "?") {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

#[cfg(test)]
mod tests;
