//! Pod networking: a network namespace per Pod, on a veth pair into the node's bridge, set up with
//! ip(8).

use crate::{BRIDGE, NODE_IP, PREFIX_LEN};
use std::net::Ipv4Addr;
use tokio::process::Command;

pub async fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace with `address` on a veth pair into the bridge, routed through the node.
pub async fn network(netns: &str, host_end: &str, address: Ipv4Addr) -> Result<(), String> {
    let pod_end = format!("{host_end}p");
    let _ = ip(&["netns", "del", netns]).await;
    let _ = ip(&["link", "del", host_end]).await;
    ip(&["netns", "add", netns]).await?;
    ip(&[
        "link", "add", host_end, "type", "veth", "peer", "name", &pod_end,
    ])
    .await?;
    ip(&["link", "set", &pod_end, "netns", netns]).await?;
    ip(&["link", "set", host_end, "master", BRIDGE, "up"]).await?;
    let inside = |args: &[&str]| {
        let mut all = vec!["netns", "exec", netns, "ip"];
        all.extend_from_slice(args);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    for args in [
        inside(&["link", "set", &pod_end, "name", "eth0"]),
        inside(&[
            "addr",
            "add",
            &format!("{address}/{PREFIX_LEN}"),
            "dev",
            "eth0",
        ]),
        inside(&["link", "set", "eth0", "up"]),
        inside(&["link", "set", "lo", "up"]),
        inside(&["route", "add", "default", "via", &NODE_IP.to_string()]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ip(&args).await?;
    }
    Ok(())
}
