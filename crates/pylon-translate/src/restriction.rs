//! Settings that restrict who may reach a route (authentication, JWT validation, source ranges,
//! verified client certificates) and that Pylon does not enforce yet. They fail closed: what they
//! protect answers 503 and is never forwarded, and a problem names the setting — a route is never
//! served openly because a restriction on it was not understood.

use pylon_ir::Action;

/// The action of a rule, listener or load balancer whose access restriction `setting` Pylon
/// cannot enforce: a fixed 503 that names the setting, so the target never sees the request.
pub fn not_served(setting: &str) -> Action {
    Action::fixed(
        503,
        Some(&format!(
            "Not served: {setting} restricts access and is not enforced by Pylon yet"
        )),
    )
}

/// The problem message for such a setting.
pub fn message(setting: &str, scope: &str) -> String {
    format!(
        "{setting} restricts who may reach {scope} and is not enforced by Pylon yet: it answers 503 and nothing is forwarded (fail closed)"
    )
}
