//! Which names Pylon answers and with what: a pure table, built from the configuration served.

use hickory_server::proto::rr::RecordType;
use pylon_ir::Ir;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The names served and the zones Pylon speaks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Lower case, without the final dot.
    hosts: BTreeMap<String, Vec<IpAddr>>,
    /// Zones in which a name Pylon does not serve does not exist, e.g.
    /// `vpc-lattice-svcs.us-west-2.on.aws`.
    zones: Vec<String>,
}

/// What a query gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name exists; these are its addresses of the type asked for (maybe none).
    Addresses {
        addresses: Vec<IpAddr>,
        zone: String,
    },
    /// The name is in a zone Pylon serves, but no service has it.
    NxDomain { zone: String },
    /// Not a name Pylon speaks for.
    Refused,
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Names {
    /// Answers nothing but NXDOMAIN in `zones` until names are added.
    pub fn new(zones: impl IntoIterator<Item = String>) -> Self {
        Names {
            hosts: BTreeMap::new(),
            zones: zones.into_iter().map(|z| normal(&z)).collect(),
        }
    }

    /// Every Lattice service's generated name and custom domain in `ir`, at its service
    /// network's address; networks without an address add no names.
    pub fn of(ir: &Ir, zones: impl IntoIterator<Item = String>) -> Self {
        let mut names = Names::new(zones);
        for sn in &ir.service_networks {
            let Some(address) = sn.address else { continue };
            for service in &sn.services {
                for host in service.host_names() {
                    names.insert(&host, address);
                }
            }
        }
        names
    }

    pub fn insert(&mut self, name: &str, address: IpAddr) {
        let addresses = self.hosts.entry(normal(name)).or_default();
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }

    /// The answer to a query for `name` of `record_type`.
    pub fn answer(&self, name: &str, record_type: RecordType) -> Answer {
        let name = normal(name);
        let zone = self
            .zones
            .iter()
            .find(|z| name == **z || name.ends_with(&format!(".{z}")));
        match (self.hosts.get(&name), zone) {
            (Some(addresses), zone) => Answer::Addresses {
                addresses: addresses
                    .iter()
                    .copied()
                    .filter(|a| match record_type {
                        RecordType::A => a.is_ipv4(),
                        RecordType::AAAA => a.is_ipv6(),
                        RecordType::ANY => true,
                        _ => false,
                    })
                    .collect(),
                // A custom domain is a zone of its own.
                zone: zone.cloned().unwrap_or(name),
            },
            (None, Some(zone)) => Answer::NxDomain { zone: zone.clone() },
            (None, None) => Answer::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut names = Names::new(["vpc-lattice-svcs.us-west-2.on.aws".to_string()]);
        names.insert(
            "web-demo-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws",
            "127.171.0.9".parse().unwrap(),
        );
        names.insert("Inventory.Example.COM.", "::1".parse().unwrap());
        names
    }

    #[test]
    fn served_names_resolve_to_their_network_by_family() {
        let names = names();
        let web = "WEB-demo-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws.";
        assert_eq!(
            names.answer(web, RecordType::A),
            Answer::Addresses {
                addresses: vec!["127.171.0.9".parse().unwrap()],
                zone: "vpc-lattice-svcs.us-west-2.on.aws".into()
            }
        );
        assert_eq!(
            names.answer(web, RecordType::AAAA),
            Answer::Addresses {
                addresses: vec![],
                zone: "vpc-lattice-svcs.us-west-2.on.aws".into()
            },
            "no IPv6 address: no data, but the name exists"
        );
        assert_eq!(
            names.answer("inventory.example.com", RecordType::AAAA),
            Answer::Addresses {
                addresses: vec!["::1".parse().unwrap()],
                zone: "inventory.example.com".into()
            }
        );
    }

    #[test]
    fn other_names_in_the_zone_do_not_exist_and_the_rest_is_refused() {
        let names = names();
        assert_eq!(
            names.answer(
                "gone-0123456789abcdef1.7d67968.vpc-lattice-svcs.us-west-2.on.aws",
                RecordType::A
            ),
            Answer::NxDomain {
                zone: "vpc-lattice-svcs.us-west-2.on.aws".into()
            }
        );
        for other in [
            "example.com",
            "other.example.com",
            "x.vpc-lattice-svcs.eu-west-1.on.aws",
            "evilvpc-lattice-svcs.us-west-2.on.aws",
        ] {
            assert_eq!(
                names.answer(other, RecordType::A),
                Answer::Refused,
                "{other}"
            );
        }
    }
}
