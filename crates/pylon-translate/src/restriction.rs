//! Settings that restrict who may reach a route (authentication, JWT validation, source ranges,
//! verified client certificates) and that Pylon does not enforce yet. They fail closed: what they
//! protect answers 503 and is never forwarded, and a problem names the setting — a route is never
//! served openly because a restriction on it was not understood.

use pylon_ir::{Action, Listener};
use std::collections::BTreeMap;

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

/// The restrictions of one load balancer (all of it, or one listener by port), each with the
/// setting that sets it, as it names it in the 503.
#[derive(Debug, Default, Clone)]
pub struct Restrictions {
    pub load_balancer: Option<String>,
    pub listeners: BTreeMap<u16, String>,
}

impl Restrictions {
    /// The setting that keeps the listener on `port` from being served, if any.
    pub fn for_listener(&self, port: u16) -> Option<&str> {
        self.load_balancer
            .as_deref()
            .or_else(|| self.listeners.get(&port).map(String::as_str))
    }

    /// Keeps every rule of a restricted listener, and its default action, from being served:
    /// each answers [`not_served`], with no filters.
    pub fn close(&self, listener: &mut Listener) {
        let Some(setting) = self.for_listener(listener.port) else {
            return;
        };
        listener.default_action = not_served(setting);
        for rule in &mut listener.rules {
            rule.filters.clear();
            rule.action = listener.default_action.clone();
        }
    }
}
