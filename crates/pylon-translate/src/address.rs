//! Load balancer addresses: each load balancer gets its own address from its scheme's pool,
//! stable across restarts (reservations) and across changes to other objects (the first choice
//! depends only on the load balancer's id).

use ipnet::IpNet;
use pylon_ir::{LoadBalancer, Scheme};
use pylon_model::Problem;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::str::FromStr;

/// The address ranges load balancers are bound in, by scheme. The defaults are loopback ranges, so
/// a default run exposes nothing beyond this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPools {
    pub internet_facing: IpNet,
    pub internal: IpNet,
    /// Where VPC Lattice service networks are served (`--lattice-pool`).
    pub lattice: IpNet,
    /// The IPv6 addresses of dual-stack load balancers, of either scheme (`--ipv6-pool`).
    pub ipv6: IpNet,
}

/// The default IPv6 pool: the loopback address alone, enough for one dual-stack load balancer
/// per port; a wider pool must be routed to this host (`ip -6 route add local <pool> dev lo`).
pub const DEFAULT_IPV6_POOL: &str = "::1/128";

impl Default for AddressPools {
    fn default() -> Self {
        AddressPools {
            internet_facing: IpNet::from_str("127.1.0.0/24").expect("valid default pool"),
            internal: IpNet::from_str("127.2.0.0/24").expect("valid default pool"),
            lattice: IpNet::from_str(DEFAULT_LATTICE_POOL).expect("valid default pool"),
            ipv6: IpNet::from_str(DEFAULT_IPV6_POOL).expect("valid default pool"),
        }
    }
}

/// The default Lattice pool: loopback, like the load balancer pools.
pub const DEFAULT_LATTICE_POOL: &str = "127.171.0.0/24";

/// A pool that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolError(pub String);

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PoolError {}

impl AddressPools {
    pub fn new(internet_facing: IpNet, internal: IpNet) -> Result<Self, PoolError> {
        if internet_facing.contains(&internal.network())
            || internal.contains(&internet_facing.network())
        {
            return Err(PoolError(format!(
                "the internet-facing pool {internet_facing} and the internal pool {internal} overlap"
            )));
        }
        Ok(AddressPools {
            internet_facing,
            internal,
            ..AddressPools::default()
        })
    }

    pub fn for_scheme(&self, scheme: Scheme) -> &IpNet {
        match scheme {
            Scheme::InternetFacing => &self.internet_facing,
            Scheme::Internal => &self.internal,
        }
    }
}

/// At most this many addresses of a pool are tried (an IPv6 pool can be vast).
const MAX_PROBES: u64 = 65_536;

/// Gives every load balancer an address and returns the reservations to keep.
pub fn assign(
    load_balancers: &mut [LoadBalancer],
    pools: &AddressPools,
    reserved: &BTreeMap<String, IpAddr>,
    requested: &BTreeMap<String, IpAddr>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, IpAddr> {
    let mut kept: BTreeMap<String, IpAddr> = reserved.clone();
    // An address a Gateway asks for (inside its pool) wins over every reservation.
    for (id, ip) in requested {
        kept.retain(|other, addr| other == id || addr != ip);
        kept.insert(id.clone(), *ip);
    }
    // Reservations that no longer fit their load balancer's scheme are released first, so the
    // addresses they held can be reused.
    for lb in load_balancers.iter() {
        if let Some(addr) = kept.get(&lb.id) {
            if !pools.for_scheme(lb.scheme).contains(addr) {
                kept.remove(&lb.id);
            }
        }
    }
    for lb in load_balancers.iter() {
        let key = ipv6_key(&lb.id);
        if kept.get(&key).is_some_and(|a| !pools.ipv6.contains(a)) {
            kept.remove(&key);
        }
    }
    let mut taken: BTreeSet<IpAddr> = kept.values().copied().collect();
    for lb in load_balancers.iter_mut() {
        let pool = pools.for_scheme(lb.scheme);
        lb.address = take(&mut kept, &mut taken, pool, lb.id.clone());
        if lb.address.is_none() {
            problems.push(Problem::error(
                Some(lb.origin.clone()),
                None,
                format!(
                    "no free address left in the {} pool {pool}: widen the pool",
                    lb.scheme.as_str()
                ),
            ));
        }
        if lb.ip_address_type.is_ipv4() {
            continue;
        }
        lb.address_v6 = take(&mut kept, &mut taken, &pools.ipv6, ipv6_key(&lb.id));
        if lb.address_v6.is_none() {
            problems.push(Problem::error(
                Some(lb.origin.clone()),
                None,
                format!(
                    "no free address left in the IPv6 pool {}: it is served on IPv4 only; widen --ipv6-pool",
                    pools.ipv6
                ),
            ));
        }
    }
    kept
}

/// The reservation key of a load balancer's IPv6 address.
fn ipv6_key(id: &str) -> String {
    format!("{id}#ipv6")
}

/// The address reserved for `key`, or the first free one of `pool` (then reserved).
fn take(
    kept: &mut BTreeMap<String, IpAddr>,
    taken: &mut BTreeSet<IpAddr>,
    pool: &IpNet,
    key: String,
) -> Option<IpAddr> {
    if let Some(addr) = kept.get(&key) {
        return Some(*addr);
    }
    let addr = first_free(pool, &key, taken)?;
    taken.insert(addr);
    kept.insert(key, addr);
    Some(addr)
}

/// Gives every service network an address from the Lattice pool, keeping reservations (shared
/// with the load balancers', so no two share an address).
pub fn assign_networks(
    networks: &mut [pylon_ir::ServiceNetwork],
    pool: &IpNet,
    reserved: &mut BTreeMap<String, IpAddr>,
    problems: &mut Vec<Problem>,
) {
    for sn in networks.iter() {
        if reserved.get(&sn.id).is_some_and(|a| !pool.contains(a)) {
            reserved.remove(&sn.id);
        }
    }
    let mut taken: BTreeSet<IpAddr> = reserved.values().copied().collect();
    for sn in networks.iter_mut() {
        // A network no Gateway of this cluster makes is not associated with its VPC.
        if sn.gateways.is_empty() || !sn.associated {
            continue;
        }
        if let Some(addr) = reserved.get(&sn.id) {
            sn.address = Some(*addr);
            continue;
        }
        match first_free(pool, &sn.id, &taken) {
            Some(addr) => {
                taken.insert(addr);
                reserved.insert(sn.id.clone(), addr);
                sn.address = Some(addr);
            }
            None => problems.push(Problem::error(
                sn.gateways.first().cloned(),
                None,
                format!("no free address left in the Lattice pool {pool}: widen --lattice-pool"),
            )),
        }
    }
}

/// The first free host address of `pool`, starting at a point chosen by hashing `id`.
fn first_free(pool: &IpNet, id: &str, taken: &BTreeSet<IpAddr>) -> Option<IpAddr> {
    let (first, count) = host_range(pool);
    if count == 0 {
        return None;
    }
    let digest = Sha256::digest(id.as_bytes());
    let start = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % count;
    (0..count.min(MAX_PROBES))
        .map(|i| nth(first, (start + i) % count))
        .find(|a| !taken.contains(a))
}

/// The first usable host address and how many there are (network and broadcast addresses of
/// IPv4 pools wider than /31 are skipped).
fn host_range(pool: &IpNet) -> (IpAddr, u64) {
    match pool {
        IpNet::V4(net) => {
            let bits = 32 - u32::from(net.prefix_len());
            let size = 1u64 << bits;
            if bits >= 2 {
                (nth(IpAddr::V4(net.network()), 1), size - 2)
            } else {
                (IpAddr::V4(net.network()), size)
            }
        }
        IpNet::V6(net) => {
            let bits = 128 - u32::from(net.prefix_len());
            let size = if bits >= 63 { 1u64 << 63 } else { 1u64 << bits };
            (IpAddr::V6(net.network()), size)
        }
    }
}

fn nth(first: IpAddr, n: u64) -> IpAddr {
    match first {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a).wrapping_add(n as u32)).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a).wrapping_add(u128::from(n))).into()),
    }
}

#[cfg(test)]
mod tests;
