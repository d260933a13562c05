use super::*;
use pylon_ir::LoadBalancerAttributes;
use pylon_model::{Kind, ObjectRef};

fn lb(id: &str, scheme: Scheme) -> LoadBalancer {
    LoadBalancer {
        id: id.into(),
        name: id.into(),
        origin: ObjectRef::namespaced(Kind::Ingress, "ns", id),
        scheme,
        address: None,
        attributes: LoadBalancerAttributes::default(),
        listeners: vec![],
        target_groups: Default::default(),
    }
}

#[test]
fn addresses_depend_only_on_the_id_and_stay_in_their_pool() {
    let pools = AddressPools::default();
    let mut a = vec![lb("a", Scheme::InternetFacing)];
    let mut ab = vec![lb("a", Scheme::InternetFacing), lb("b", Scheme::Internal)];
    let mut p = vec![];
    assign(&mut a, &pools, &BTreeMap::new(), &BTreeMap::new(), &mut p);
    assign(&mut ab, &pools, &BTreeMap::new(), &BTreeMap::new(), &mut p);
    assert_eq!(a[0].address, ab[0].address);
    assert!(pools.internet_facing.contains(&a[0].address.unwrap()));
    assert!(pools.internal.contains(&ab[1].address.unwrap()));
    assert!(p.is_empty());
}

#[test]
fn reservations_are_kept_and_never_shared() {
    let pools = AddressPools::new(
        "127.5.0.0/30".parse().unwrap(),
        "127.6.0.0/24".parse().unwrap(),
    )
    .unwrap();
    let mut reserved = BTreeMap::new();
    reserved.insert("gone".to_string(), "127.5.0.1".parse().unwrap());
    let mut lbs = vec![
        lb("a", Scheme::InternetFacing),
        lb("b", Scheme::InternetFacing),
    ];
    let mut p = vec![];
    let kept = assign(&mut lbs, &pools, &reserved, &BTreeMap::new(), &mut p);
    // A /30 has two hosts; one is held by a reservation, so only one load balancer gets one.
    assert_eq!(lbs[0].address, Some("127.5.0.2".parse().unwrap()));
    assert_eq!(lbs[1].address, None);
    assert_eq!(p.len(), 1);
    assert_eq!(kept.len(), 2);
}

#[test]
fn a_scheme_change_moves_the_address_to_the_other_pool() {
    let pools = AddressPools::default();
    let mut reserved = BTreeMap::new();
    reserved.insert("a".to_string(), "127.1.0.9".parse().unwrap());
    let mut lbs = vec![lb("a", Scheme::Internal)];
    let kept = assign(&mut lbs, &pools, &reserved, &BTreeMap::new(), &mut vec![]);
    assert!(pools.internal.contains(&kept["a"]));
}

#[test]
fn overlapping_pools_are_refused() {
    assert!(AddressPools::new(
        "127.1.0.0/16".parse().unwrap(),
        "127.1.2.0/24".parse().unwrap()
    )
    .is_err());
}
