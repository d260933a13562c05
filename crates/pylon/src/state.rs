//! The state directory: what must survive a restart (load balancer addresses).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const ADDRESSES: &str = "addresses.json";

/// The default state directory: `$XDG_STATE_HOME/pylon`, else `~/.local/state/pylon`, else
/// `.pylon-state` in the working directory.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("pylon");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/state/pylon");
    }
    PathBuf::from(".pylon-state")
}

/// Address reservations; a missing file is an empty set.
pub fn load_addresses(dir: &Path) -> Result<BTreeMap<String, IpAddr>, String> {
    let path = dir.join(ADDRESSES);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a valid address file ({e}); fix or remove it (load balancers then get new addresses)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes reservations atomically (a temporary file renamed over the old one).
pub fn save_addresses(dir: &Path, addresses: &BTreeMap<String, IpAddr>) -> Result<(), String> {
    let fail =
        |e: std::io::Error| format!("cannot write the state directory {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(".{ADDRESSES}.tmp"));
    let text = serde_json::to_string_pretty(addresses).expect("addresses serialize");
    std::fs::write(&tmp, text + "\n").map_err(fail)?;
    std::fs::rename(&tmp, dir.join(ADDRESSES)).map_err(fail)
}
