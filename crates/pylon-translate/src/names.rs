//! Generated ALB names, in the AWS Load Balancer Controller's shape: `k8s-<ns>-<name>-<hash>`.

use sha2::{Digest, Sha256};

/// `k8s-<namespace≤8>-<name≤8>-<hash≤10>`, with everything that is not alphanumeric removed from
/// namespace and name, and the hash a SHA-256 over `parts` (as `model_build_load_balancer.go` and
/// `model_build_target_group.go` build them).
pub fn generated(namespace: &str, name: &str, parts: &[&str]) -> String {
    format!(
        "k8s-{}-{}-{}",
        truncated_alnum(namespace, 8),
        truncated_alnum(name, 8),
        hash10(parts)
    )
}

/// `k8s-<group≤17>-<hash≤10>`: an explicit IngressGroup's load balancer name, the hash over
/// `parts` as above.
pub fn generated_for_group(group: &str, parts: &[&str]) -> String {
    format!("k8s-{}-{}", truncated_alnum(group, 17), hash10(parts))
}

/// The first 10 hex digits of a SHA-256 over `parts`, written one after another.
fn hash10(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
    }
    hex::encode(hash.finalize())[..10].to_string()
}

fn truncated_alnum(s: &str, max: usize) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_truncated_and_sanitized() {
        let n = generated("my-namespace", "nginx-ingress", &["c", "demo/x"]);
        assert!(n.starts_with("k8s-mynamesp-nginxing-"), "{n}");
        assert_eq!(n.len(), "k8s-mynamesp-nginxing-".len() + 10);
        assert!(n.len() <= 32);
    }
}
