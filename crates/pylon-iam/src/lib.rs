//! IAM policy documents as VPC Lattice evaluates auth policies: a document is parsed and checked
//! once ([`Policy::parse`]), then decides requests ([`Policy::evaluate`]); [`decide`] combines a
//! service network's and a service's policies the way Lattice does. [`signature::verify`] finds
//! who signed a request among the known access keys ([`Keyring`]). Pure: no I/O, no clock.
//!
//! Policy variables (`${aws:username}`) and date operators are not supported: a document using
//! them is refused, never half-understood.

mod conditions;
mod credentials;
mod decide;
mod policy;
mod request;
pub mod signature;

pub use credentials::{Credential, Keyring};
pub use decide::{decide, Auth, Scope, Verdict};
pub use policy::{Decision, Effect, Policy, PolicyError};
pub use request::{Principal, Request};

/// The action Lattice authorizes for HTTP, HTTPS and gRPC services.
pub const INVOKE: &str = "vpc-lattice-svcs:Invoke";

/// IAM wildcards: `*` any run of characters, `?` exactly one.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    if ignore_case {
        wildmatch::WildMatch::new(&pattern.to_lowercase()).matches(&value.to_lowercase())
    } else {
        wildmatch::WildMatch::new(pattern).matches(value)
    }
}
