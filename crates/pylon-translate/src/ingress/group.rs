//! IngressGroups, as the controller's group loader forms them (`group_loader.go`): an Ingress
//! with `group.name` joins the explicit group of that name, any other is a group of its own;
//! members are ordered by `group.order` (default 0, from -1000 to 1000), then `namespace/name`.

use super::annotations::{field, PREFIX};
use pylon_model::k8s_openapi::api::networking::v1::Ingress;
use pylon_model::{Object, ObjectRef, Problem};
use std::collections::BTreeMap;

/// An IngressGroup's id: the group name, or `namespace/name` of an Ingress alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupId {
    Explicit(String),
    Implicit(String, String),
}

impl GroupId {
    /// As the controller prints it (and hashes it into names).
    pub fn text(&self) -> String {
        match self {
            GroupId::Explicit(name) => name.clone(),
            GroupId::Implicit(ns, name) => format!("{ns}/{name}"),
        }
    }

    pub fn is_explicit(&self) -> bool {
        matches!(self, GroupId::Explicit(_))
    }
}

/// One group: its id and its members in the controller's order.
pub struct Group<'a> {
    pub id: GroupId,
    pub members: Vec<Member<'a>>,
}

pub struct Member<'a> {
    pub ingress: &'a Ingress,
    pub origin: ObjectRef,
    pub order: i32,
}

/// The groups of `ingresses` (ours, in any order), sorted by id; an Ingress whose group name
/// is invalid belongs to none (its error comes back), and a group with an invalid order is
/// left out whole, as the controller's load of it fails.
pub fn groups<'a>(
    ingresses: impl IntoIterator<Item = &'a Ingress>,
    problems: &mut Vec<Problem>,
) -> (Vec<Group<'a>>, Vec<ObjectRef>) {
    let mut by_id: BTreeMap<GroupId, Vec<(Member<'a>, Option<String>)>> = BTreeMap::new();
    let mut failed = Vec::new();
    for ing in ingresses {
        let origin = Object::Ingress(Box::new(ing.clone())).object_ref();
        let annotation = |key: &str| {
            ing.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(&format!("{PREFIX}{key}")))
        };
        let id = match annotation("group.name") {
            Some(name) => match validate_name(name) {
                Ok(()) => GroupId::Explicit(name.clone()),
                Err(why) => {
                    problems.push(Problem::error(
                        Some(origin.clone()),
                        Some(field(&format!("{PREFIX}group.name"))),
                        format!("invalid ingress group: {why}"),
                    ));
                    failed.push(origin);
                    continue;
                }
            },
            None => GroupId::Implicit(
                origin.namespace.clone().unwrap_or_default(),
                origin.name.clone(),
            ),
        };
        let (order, invalid) = match annotation("group.order") {
            None => (0, None),
            Some(raw) => match parse_order(raw, &key(&origin)) {
                Ok(order) => (order, None),
                Err(why) => (0, Some(why)),
            },
        };
        by_id.entry(id).or_default().push((
            Member {
                ingress: ing,
                origin,
                order,
            },
            invalid,
        ));
    }
    let mut out = Vec::new();
    for (id, mut members) in by_id {
        let invalid: Vec<(ObjectRef, String)> = members
            .iter()
            .filter_map(|(m, why)| Some((m.origin.clone(), why.clone()?)))
            .collect();
        if let Some((bad, message)) = invalid.first() {
            // The group cannot be loaded: every member is left unserved, and told why.
            for (m, _) in &members {
                problems.push(Problem::error(
                    Some(m.origin.clone()),
                    (m.origin == *bad).then(|| field(&format!("{PREFIX}group.order"))),
                    group_message(&id, message),
                ));
                failed.push(m.origin.clone());
            }
            continue;
        }
        members.sort_by_key(|(m, _)| (m.order, key(&m.origin)));
        out.push(Group {
            id,
            members: members.into_iter().map(|(m, _)| m).collect(),
        });
    }
    (out, failed)
}

/// `namespace/name`, as the controller sorts and names members.
pub fn key(object: &ObjectRef) -> String {
    format!(
        "{}/{}",
        object.namespace.as_deref().unwrap_or_default(),
        object.name
    )
}

/// A message about the group, saying which group when it has a name.
pub fn group_message(id: &GroupId, message: &str) -> String {
    match id {
        GroupId::Explicit(name) => format!("IngressGroup {name}: {message}"),
        GroupId::Implicit(..) => message.to_string(),
    }
}

fn validate_name(name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = !bytes.is_empty()
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-' || *b == b'.');
    if !valid {
        return Err("groupName must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".into());
    }
    if name.len() > 63 {
        return Err("groupName must be no more than 63 characters".into());
    }
    Ok(())
}

/// `group.order` of the member `key`, with the controller's errors for it.
fn parse_order(raw: &str, key: &str) -> Result<i32, String> {
    let order = raw.parse::<i32>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("failed to load Ingress group order for ingress: {key}: failed to parse int32 annotation, {PREFIX}group.order: {raw}: strconv.ParseInt: parsing {raw:?}: {why}")
    })?;
    if !(-1000..=1000).contains(&order) {
        return Err(format!(
            "explicit Ingress group order must be within [-1000:1000], Ingress: {key}, order: {order}"
        ));
    }
    Ok(order)
}

#[cfg(test)]
mod tests;
