//! The controller's `Test_defaultGroupLoader_sortGroupMembers` vectors, and its group name rules.

use super::*;
use std::collections::BTreeMap;

fn ingress(name: &str, order: Option<&str>) -> Ingress {
    let mut annotations =
        BTreeMap::from([(format!("{PREFIX}group.name"), "awesome-group".to_string())]);
    if let Some(order) = order {
        annotations.insert(format!("{PREFIX}group.order"), order.to_string());
    }
    let mut ing = Ingress::default();
    ing.metadata.namespace = Some("namespace".into());
    ing.metadata.name = Some(name.into());
    ing.metadata.annotations = Some(annotations);
    ing
}

fn sorted(members: &[Ingress]) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let (groups, failed) = groups(members, &mut problems);
    if !failed.is_empty() {
        return Err(problems[0].message.clone());
    }
    Ok(groups[0]
        .members
        .iter()
        .map(|m| m.origin.name.clone())
        .collect())
}

/// A name, the members (name and `group.order`) and the order wanted.
type Case<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)], &'a [&'a str]);

#[test]
fn members_sort_as_the_controller_sorts_them() {
    let cases: &[Case] = &[
        (
            "implicitly sorted",
            &[
                ("ingress-c", None),
                ("ingress-b", None),
                ("ingress-a", None),
            ],
            &["ingress-a", "ingress-b", "ingress-c"],
        ),
        (
            "explicitly sorted",
            &[
                ("ingress-a", Some("3")),
                ("ingress-b", Some("2")),
                ("ingress-c", Some("1")),
            ],
            &["ingress-c", "ingress-b", "ingress-a"],
        ),
        (
            "explicitly and implicitly sorted",
            &[
                ("ingress-a", Some("1")),
                ("ingress-b", None),
                ("ingress-c", None),
            ],
            &["ingress-b", "ingress-c", "ingress-a"],
        ),
        ("single", &[("ingress", None)], &["ingress"]),
        (
            "same order sorted lexically",
            &[("ingress-b", Some("42")), ("ingress-a", Some("42"))],
            &["ingress-a", "ingress-b"],
        ),
        (
            "negative orders are allowed",
            &[("ingress-b", Some("0")), ("ingress-a", Some("-1"))],
            &["ingress-a", "ingress-b"],
        ),
    ];
    for (name, members, want) in cases {
        let members: Vec<Ingress> = members.iter().map(|(n, o)| ingress(n, *o)).collect();
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(sorted(&members), Ok(want), "{name}");
    }
}

#[test]
fn an_invalid_order_fails_the_group_with_the_controllers_message() {
    assert_eq!(
        sorted(&[ingress("ingress", Some("x"))]),
        Err("IngressGroup awesome-group: failed to load Ingress group order for ingress: namespace/ingress: failed to parse int32 annotation, alb.ingress.kubernetes.io/group.order: x: strconv.ParseInt: parsing \"x\": invalid syntax".into())
    );
    assert_eq!(
        sorted(&[ingress("a", Some("1001")), ingress("b", None)]),
        Err("IngressGroup awesome-group: explicit Ingress group order must be within [-1000:1000], Ingress: namespace/a, order: 1001".into())
    );
}

#[test]
fn group_names_follow_the_controllers_rules() {
    for ok in ["a", "my-group", "team.a-1", &"a".repeat(63)] {
        assert_eq!(validate_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
}
