use crate::*;
use pylon_model::{Kind, ObjectRef};

fn lb(id: &str, address: &str) -> LoadBalancer {
    let origin = ObjectRef::namespaced(Kind::Ingress, "demo", id);
    LoadBalancer {
        id: id.into(),
        name: id.into(),
        origin: origin.clone(),
        members: vec![],
        scheme: Scheme::Internal,
        address: Some(address.parse().unwrap()),
        ip_address_type: Default::default(),
        address_v6: None,
        attributes: LoadBalancerAttributes::default(),
        listeners: vec![Listener {
            id: format!("{id}/listener/80"),
            protocol: Protocol::Http,
            port: 80,
            rules: vec![Rule {
                priority: 1,
                origin: RuleOrigin {
                    object: origin,
                    field: "spec".into(),
                },
                conditions: vec![],
                filters: vec![],
                timeouts: None,
                action: Action::forward(format!("{id}/tg/web:80")),
                access_log: None,
                auth: None,
            }],
            default_action: Action::fixed(404, None),
            certificates: vec![],
        }],
        target_groups: Default::default(),
    }
}

#[test]
fn every_broken_invariant_is_reported() {
    let mut a = lb("a", "127.0.0.2");
    a.listeners.push(a.listeners[0].clone());
    a.listeners[1].rules[0].priority = 2;
    let b = lb("a", "127.0.0.2");
    let errors = Ir {
        load_balancers: vec![a, b],
        ..Ir::default()
    }
    .validate()
    .unwrap_err();
    let has = |f: fn(&IrError) -> bool| errors.iter().any(f);
    assert!(has(|e| matches!(e, IrError::DuplicateLoadBalancer(_))));
    assert!(has(|e| matches!(e, IrError::SharedAddress(..))));
    assert!(has(|e| matches!(e, IrError::DuplicatePort(_, 80))));
    assert!(has(|e| matches!(e, IrError::Priorities(_))));
    assert!(has(|e| matches!(e, IrError::UnknownTargetGroup(..))));
}

#[test]
fn a_consistent_ir_is_valid() {
    let mut a = lb("a", "127.0.0.2");
    a.listeners[0].rules[0].action = Action::fixed(503, Some("x"));
    assert_eq!(
        Ir {
            load_balancers: vec![a],
            ..Ir::default()
        }
        .validate(),
        Ok(())
    );
}
