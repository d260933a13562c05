//! Gateway API hostnames: validation and the intersection of a listener's hostname with a route's.

/// RFC 1123 names, optionally with a leading `*.` label; no IP addresses, no ports.
pub fn valid(hostname: &str) -> bool {
    let name = hostname.strip_prefix("*.").unwrap_or(hostname);
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(label)
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// The hostname requests must carry to match both: the more specific of the two, or `None` when
/// they cannot both match one host. `*.example.com` matches `a.example.com` and
/// `a.b.example.com` but not `example.com`.
pub fn intersect(listener: &str, route: &str) -> Option<String> {
    if listener.eq_ignore_ascii_case(route) {
        return Some(route.to_ascii_lowercase());
    }
    let (l, r) = (listener.to_ascii_lowercase(), route.to_ascii_lowercase());
    let suffix = |wild: &str| wild.strip_prefix('*').map(str::to_string);
    match (suffix(&l), suffix(&r)) {
        (None, None) => None,
        (Some(ls), None) => r.ends_with(&ls).then_some(r),
        (None, Some(rs)) => l.ends_with(&rs).then_some(l),
        (Some(ls), Some(rs)) => {
            if rs.ends_with(&ls) {
                Some(r)
            } else if ls.ends_with(&rs) {
                Some(l)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_follow_the_spec_examples() {
        assert_eq!(
            intersect("test.example.com", "*.example.com").as_deref(),
            Some("test.example.com")
        );
        assert_eq!(
            intersect("*.example.com", "foo.test.example.com").as_deref(),
            Some("foo.test.example.com")
        );
        assert_eq!(intersect("*.example.com", "example.com"), None);
        assert_eq!(intersect("*.example.com", "test.example.net"), None);
        assert_eq!(
            intersect("*.example.com", "*.foo.example.com").as_deref(),
            Some("*.foo.example.com")
        );
        assert_eq!(
            intersect("*.foo.example.com", "*.example.com").as_deref(),
            Some("*.foo.example.com")
        );
        assert_eq!(
            intersect("very.specific.com", "very.specific.com").as_deref(),
            Some("very.specific.com")
        );
    }

    #[test]
    fn validation() {
        assert!(valid("example.com"));
        assert!(valid("*.example.com"));
        assert!(!valid("1.2.3.4"));
        assert!(!valid("a.*.com"));
        assert!(!valid("Example.com"));
        assert!(!valid("example.com:80"));
    }
}
