use super::*;
use pylon_ir::LoadBalancerAttributes;
use pylon_model::{Kind, ObjectRef};

fn lb(id: &str, scheme: Scheme) -> LoadBalancer {
    LoadBalancer {
        id: id.into(),
        name: id.into(),
        origin: ObjectRef::namespaced(Kind::Ingress, "ns", id),
        members: vec![],
        scheme,
        address: None,
        ip_address_type: Default::default(),
        address_v6: None,
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

#[test]
fn dual_stack_load_balancers_get_an_ipv6_address_kept_like_the_ipv4_one() {
    let pools = AddressPools {
        ipv6: "fd00:70::/126".parse().unwrap(),
        ..AddressPools::default()
    };
    let dual = |id: &str| LoadBalancer {
        ip_address_type: pylon_ir::IpAddressType::Dualstack,
        ..lb(id, Scheme::Internal)
    };
    let mut lbs = vec![dual("a"), lb("b", Scheme::Internal), dual("c")];
    let mut p = vec![];
    let kept = assign(&mut lbs, &pools, &BTreeMap::new(), &BTreeMap::new(), &mut p);
    assert!(p.is_empty(), "{p:?}");
    let (a, c) = (lbs[0].address_v6.unwrap(), lbs[2].address_v6.unwrap());
    assert!(pools.ipv6.contains(&a) && pools.ipv6.contains(&c));
    assert_ne!(a, c);
    assert_eq!(lbs[1].address_v6, None);
    assert_eq!(kept.get("a#ipv6"), Some(&a));
    // Kept across a restart; a pool of one address serves one dual-stack load balancer.
    let mut again = vec![dual("a")];
    assign(&mut again, &pools, &kept, &BTreeMap::new(), &mut p);
    assert_eq!(again[0].address_v6, Some(a));
    let one = AddressPools::default();
    let mut two = vec![dual("a"), dual("c")];
    assign(&mut two, &one, &BTreeMap::new(), &BTreeMap::new(), &mut p);
    assert_eq!(
        two[0].address_v6.or(two[1].address_v6),
        Some("::1".parse().unwrap())
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].message.contains("--ipv6-pool"), "{p:?}");
}
