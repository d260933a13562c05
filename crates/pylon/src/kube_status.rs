//! Statuses back to the API server (kube mode): server-side apply of each object's status under
//! one field manager, written only when it changed. Conditions keep their `lastTransitionTime`
//! while their status stays the same; errors become Warning Events on their objects; route `status.parents` entries of other controllers are
//! kept as they are, and Pylon's entries for parents it no longer serves are removed.

use kube::api::{DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use pylon_model::k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use pylon_model::k8s_openapi::jiff::Timestamp;
use pylon_model::Problem;
use pylon_model::{Kind, Object, ObjectRef, Snapshot};
use pylon_translate::{
    ObjectAnnotations, ObjectStatus, ALB_CONTROLLER, LATTICE_CONTROLLER, PYLON_CONTROLLER,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long desired statuses must stay the same before they are written...
const BATCH_QUIET: Duration = Duration::from_millis(20);
/// ...but never longer than this after the first change.
const BATCH_MAX: Duration = Duration::from_millis(100);

/// The field manager Pylon applies statuses as.
pub const FIELD_MANAGER: &str = "pylon";

/// What the writer is asked to make true: every handled object's status, and the snapshot the
/// statuses were computed from (for the current statuses and for route parents of others).
pub struct Desired {
    pub statuses: Vec<ObjectStatus>,
    /// Problems found; each new error on an object becomes a Warning Event on it.
    pub problems: Vec<Problem>,
    pub snapshot: Arc<Snapshot>,
    /// Annotations to apply on objects (a Lattice service's name and ARN on its route).
    pub annotations: Vec<ObjectAnnotations>,
}

/// Writes the latest desired statuses whenever they change, while this replica leads.
pub async fn write_statuses(
    client: Client,
    mut desired: watch::Receiver<Option<Arc<Desired>>>,
    mut leading: watch::Receiver<bool>,
) {
    // Both caches remember the object's uid: a deleted object recreated under the same name is
    // a new object whose status must be written again.
    let mut written: BTreeMap<ObjectRef, (String, Value)> = BTreeMap::new();
    // The desired statuses already in the API server: unchanged ones cost nothing next time.
    let mut settled: BTreeMap<ObjectRef, (String, ObjectStatus)> = BTreeMap::new();
    let mut reported: BTreeSet<Problem> = BTreeSet::new();
    let mut annotated: BTreeMap<ObjectRef, (String, BTreeMap<String, String>)> = BTreeMap::new();
    loop {
        if !*leading.borrow_and_update() {
            // A follower writes nothing; when it leads it checks everything again.
            written.clear();
            settled.clear();
            annotated.clear();
            tokio::select! {
                r = leading.changed() => if r.is_err() { return },
                r = desired.changed() => if r.is_err() { return },
            }
            continue;
        }
        let current = desired.borrow_and_update().clone();
        if let Some(d) = current {
            let mut failed = false;
            for status in &d.statuses {
                let Some(object) = d.snapshot.get(&status.object) else {
                    continue;
                };
                let uid = object.metadata().uid.clone().unwrap_or_default();
                if settled
                    .get(&status.object)
                    .is_some_and(|(u, s)| *u == uid && s == status)
                {
                    continue;
                }
                let existing =
                    serde_json::to_value(object_json(object)).unwrap_or_default()["status"].clone();
                let Some(next) = next_status(status, &existing) else {
                    continue;
                };
                if written
                    .get(&status.object)
                    .is_some_and(|(u, v)| *u == uid && *v == next)
                    || same_ignoring_times(&existing, &next)
                {
                    written.insert(status.object.clone(), (uid.clone(), next));
                    settled.insert(status.object.clone(), (uid.clone(), status.clone()));
                    continue;
                }
                // The snapshot does not follow status-only changes; read what is there now, so
                // that entries another controller just wrote are kept.
                let fresh = current_status(&client, &status.object)
                    .await
                    .unwrap_or(existing);
                let Some(next) = next_status(status, &fresh) else {
                    continue;
                };
                if same_ignoring_times(&fresh, &next) {
                    written.insert(status.object.clone(), (uid.clone(), next));
                    settled.insert(status.object.clone(), (uid.clone(), status.clone()));
                    continue;
                }
                match apply(&client, &status.object, &next).await {
                    Ok(()) => {
                        tracing::debug!(object = %status.object, "status written");
                        written.insert(status.object.clone(), (uid.clone(), next));
                        settled.insert(status.object.clone(), (uid.clone(), status.clone()));
                    }
                    Err(e) => {
                        failed = true;
                        tracing::warn!(object = %status.object, error = %e, "cannot write status");
                    }
                }
            }
            for wanted in &d.annotations {
                let Some(object) = d.snapshot.get(&wanted.object) else {
                    continue;
                };
                let uid = object.metadata().uid.clone().unwrap_or_default();
                let has = object.metadata().annotations.clone().unwrap_or_default();
                let done = annotated
                    .get(&wanted.object)
                    .is_some_and(|(u, a)| *u == uid && *a == wanted.annotations)
                    || wanted
                        .annotations
                        .iter()
                        .all(|(k, v)| has.get(k) == Some(v));
                if done {
                    annotated.insert(wanted.object.clone(), (uid, wanted.annotations.clone()));
                    continue;
                }
                match annotate(&client, &wanted.object, &wanted.annotations).await {
                    Ok(()) => {
                        annotated.insert(wanted.object.clone(), (uid, wanted.annotations.clone()));
                    }
                    Err(e) => {
                        failed = true;
                        tracing::warn!(object = %wanted.object, error = %e, "cannot write annotations");
                    }
                }
            }
            for problem in d
                .problems
                .iter()
                .filter(|p| p.is_error() && p.object.is_some())
            {
                if reported.contains(problem) {
                    continue;
                }
                match event(&client, problem).await {
                    Ok(()) => {
                        reported.insert(problem.clone());
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot record an event"),
                }
            }
            // Routes Pylon no longer has a status for (their Gateway is gone) lose Pylon's entries.
            let desired_routes: std::collections::BTreeSet<&ObjectRef> =
                d.statuses.iter().map(|s| &s.object).collect();
            for object in d
                .snapshot
                .objects()
                .filter(|o| matches!(o.kind(), Kind::HTTPRoute | Kind::GRPCRoute))
            {
                let r = object.object_ref();
                if desired_routes.contains(&r) {
                    continue;
                }
                let existing = object_json(object)["status"].clone();
                let parents = existing["parents"].as_array().cloned().unwrap_or_default();
                if !parents.iter().any(ours) {
                    continue;
                }
                let next = json!({"parents": parents.into_iter().filter(|p| !ours(p)).collect::<Vec<_>>()});
                let uid = object.metadata().uid.clone().unwrap_or_default();
                if written
                    .get(&r)
                    .is_some_and(|(u, v)| *u == uid && *v == next)
                {
                    continue;
                }
                match apply(&client, &r, &next).await {
                    Ok(()) => {
                        written.insert(r, (uid, next));
                    }
                    Err(e) => {
                        failed = true;
                        tracing::warn!(object = %r, error = %e, "cannot clear route status");
                    }
                }
            }
            if failed {
                // Try again soon even if nothing changes.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        tokio::select! {
            r = desired.changed() => if r.is_err() { return },
            r = leading.changed() => if r.is_err() { return },
        }
        // Statuses of a burst of changes are written once, after it: fewer writes for the API
        // server, and no competing with the translations that serve the changes.
        let burst = tokio::time::Instant::now();
        while burst.elapsed() < BATCH_MAX {
            tokio::select! {
                r = desired.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(BATCH_QUIET) => break,
            }
        }
    }
}

fn object_json(object: &Object) -> Value {
    match object {
        Object::Ingress(o) => serde_json::to_value(o),
        Object::GatewayClass(o) => serde_json::to_value(o),
        Object::Gateway(o) => serde_json::to_value(o),
        Object::HTTPRoute(o) => serde_json::to_value(o),
        Object::GRPCRoute(o) => serde_json::to_value(o),
        Object::AccessLogPolicy(o) => serde_json::to_value(o),
        Object::TargetGroupPolicy(o) => serde_json::to_value(o),
        Object::IAMAuthPolicy(o) => serde_json::to_value(o),
        _ => Ok(Value::Null),
    }
    .unwrap_or_default()
}

/// The status to apply, with transition times kept where nothing changed.
fn next_status(status: &ObjectStatus, existing: &Value) -> Option<Value> {
    let mut next = serde_json::to_value(&status.status).ok()?;
    let now = serde_json::to_value(Time(Timestamp::now())).ok()?;
    let stamp = |conditions: &mut Value, before: &Value| {
        for c in conditions.as_array_mut().into_iter().flatten() {
            let same = before
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| b["type"] == c["type"] && b["status"] == c["status"]);
            c["lastTransitionTime"] = same.map_or(now.clone(), |b| b["lastTransitionTime"].clone());
        }
    };
    match status.object.kind.as_str() {
        "GatewayClass" | "Gateway" | "AccessLogPolicy" | "TargetGroupPolicy" | "IAMAuthPolicy" => {
            stamp(&mut next["conditions"], &existing["conditions"]);
            let before_listeners = existing["listeners"].clone();
            // `get_mut`, not indexing: indexing a missing key would add a null `listeners` to a
            // GatewayClass status, which its schema refuses.
            for l in next
                .get_mut("listeners")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let before = before_listeners
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|b| b["name"] == l["name"])
                    .map(|b| b["conditions"].clone())
                    .unwrap_or_default();
                stamp(&mut l["conditions"], &before);
            }
        }
        "HTTPRoute" | "GRPCRoute" => {
            let before = existing["parents"].as_array().cloned().unwrap_or_default();
            for p in next["parents"].as_array_mut().into_iter().flatten() {
                let old = before
                    .iter()
                    .find(|b| {
                        b["parentRef"] == p["parentRef"]
                            && b["controllerName"] == p["controllerName"]
                    })
                    .map(|b| b["conditions"].clone())
                    .unwrap_or_default();
                stamp(&mut p["conditions"], &old);
            }
            // Other controllers' entries stay; Pylon's entries for parents it no longer serves go.
            let mut parents: Vec<Value> = before.into_iter().filter(|b| !ours(b)).collect();
            parents.extend(next["parents"].as_array().cloned().unwrap_or_default());
            next["parents"] = Value::Array(parents);
        }
        _ => {}
    }
    Some(next)
}

/// Whether a route status entry is written by one of Pylon's controllers.
fn ours(parent: &Value) -> bool {
    [PYLON_CONTROLLER, ALB_CONTROLLER, LATTICE_CONTROLLER]
        .iter()
        .any(|c| parent["controllerName"] == *c)
}

/// Whether two statuses differ only in condition transition times.
fn same_ignoring_times(a: &Value, b: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "lastTransitionTime")
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    strip(a) == strip(b)
}

/// A Warning Event on the object a problem names, as `kubectl describe` shows them.
async fn event(client: &Client, problem: &Problem) -> Result<(), kube::Error> {
    let Some(object) = &problem.object else {
        return Ok(());
    };
    let Some(kind) = Kind::from_name(&object.kind) else {
        return Ok(());
    };
    let namespace = object
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let now = Time(Timestamp::now());
    let message = match &problem.field {
        Some(field) => format!("{field}: {}", problem.message),
        None => problem.message.clone(),
    };
    let event = CoreEvent {
        metadata: ObjectMeta {
            generate_name: Some("pylon-".to_string()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(kind.api_versions()[0].to_string()),
            kind: Some(object.kind.clone()),
            name: Some(object.name.clone()),
            namespace: object.namespace.clone(),
            ..Default::default()
        },
        reason: Some("TranslationError".to_string()),
        message: Some(message.chars().take(1024).collect()),
        type_: Some("Warning".to_string()),
        source: Some(EventSource {
            component: Some(FIELD_MANAGER.to_string()),
            host: None,
        }),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Default::default()
    };
    Api::<CoreEvent>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &event)
        .await?;
    Ok(())
}

fn api(client: &Client, object: &ObjectRef) -> Option<Api<DynamicObject>> {
    let kind = Kind::from_name(&object.kind)?;
    let resource = pylon_source::resource(kind);
    Some(match &object.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    })
}

/// The object's status as the API server has it now.
async fn current_status(client: &Client, object: &ObjectRef) -> Option<Value> {
    let current = api(client, object)?.get(&object.name).await.ok()?;
    Some(current.data.get("status").cloned().unwrap_or(Value::Null))
}

/// Server-side apply of `annotations` on the object itself (not its status).
async fn annotate(
    client: &Client,
    object: &ObjectRef,
    annotations: &BTreeMap<String, String>,
) -> Result<(), kube::Error> {
    let (Some(kind), Some(api)) = (Kind::from_name(&object.kind), api(client, object)) else {
        return Ok(());
    };
    let resource = pylon_source::resource(kind);
    let patch = json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": object.name, "annotations": annotations},
    });
    api.patch(
        &object.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn apply(client: &Client, object: &ObjectRef, status: &Value) -> Result<(), kube::Error> {
    let Some(kind) = Kind::from_name(&object.kind) else {
        return Ok(());
    };
    let resource = pylon_source::resource(kind);
    let api: Api<DynamicObject> = match &object.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let patch = json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "status": status,
    });
    api.patch_status(
        &object.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}
