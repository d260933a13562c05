//! Lattice names, ids, ARNs and DNS names, derived the same way by every Pylon that reads the
//! same objects: stable across restarts and edits.

use sha2::{Digest, Sha256};

/// The partition part of generated DNS names: every published example (us-west-2,
/// ap-southeast-2, eu-west-1) shows this value.
pub const DNS_PARTITION: &str = "7d67968";

/// 17 hex digits of a SHA-256 over `parts` (separated, so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn hex17(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())[..17].to_string()
}

/// `<route name, ≤20>-<namespace, ≤18>` (`LatticeServiceName`).
pub fn service_name(route: &str, namespace: &str) -> String {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{}-{}", cut(route, 20), cut(namespace, 18))
}

/// Whether `name` is a Lattice service name: 3 to 40 of `a-z`, `0-9` and `-`, neither starting nor
/// ending with `-`, and no `--`.
pub fn valid_service_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(3..=40).contains(&name.len())
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        return Err(format!(
            "{name:?} is not a valid Lattice service name: use 3 to 40 lowercase letters, digits and hyphens, not starting or ending with a hyphen and with no two hyphens in a row"
        ));
    }
    Ok(())
}

/// Where a Lattice resource lives: its region and account.
pub struct Arns<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl Arns<'_> {
    pub fn arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:vpc-lattice:{}:{}:{resource}",
            self.region, self.account
        )
    }

    /// The generated DNS name of service `svc-<hex>` named `name`.
    pub fn dns_name(&self, name: &str, service_id: &str) -> String {
        let hex = service_id.trim_start_matches("svc-");
        format!(
            "{name}-{hex}.{DNS_PARTITION}.vpc-lattice-svcs.{}.on.aws",
            self.region
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_cut_as_the_controller_cuts_them() {
        assert_eq!(
            service_name("nginx-lattice-route", "demo"),
            "nginx-lattice-route-demo"
        );
        assert_eq!(
            service_name("a-very-long-route-name-indeed", "a-rather-long-namespace"),
            "a-very-long-route-na-a-rather-long-name"
        );
    }

    #[test]
    fn lattice_validates_service_names() {
        assert!(valid_service_name("inventory-v2").is_ok());
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a--b",
            "Upper",
            "under_score",
            &"x".repeat(41),
        ] {
            assert!(valid_service_name(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn ids_and_dns_names_have_the_lattice_shape() {
        let id = format!("svc-{}", hex17(&["cluster", "demo", "route"]));
        assert_eq!(id.len(), 21);
        assert_eq!(
            id,
            format!("svc-{}", hex17(&["cluster", "demo", "route"])),
            "stable"
        );
        assert_ne!(hex17(&["ab", "c"]), hex17(&["a", "bc"]));
        let arns = Arns {
            region: "us-west-2",
            account: "123456789012",
        };
        let dns = arns.dns_name("web-demo", &id);
        assert!(dns.starts_with("web-demo-"));
        assert!(
            dns.ends_with(".7d67968.vpc-lattice-svcs.us-west-2.on.aws"),
            "{dns}"
        );
        assert_eq!(
            arns.arn(&format!("service/{id}")),
            format!("arn:aws:vpc-lattice:us-west-2:123456789012:service/{id}")
        );
    }
}
