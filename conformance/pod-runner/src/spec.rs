//! What a Pod's spec asks of its node: volumes written out, and the container's environment.

use crate::{NODE, NODE_IP};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::Api;
use kube::Client;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Writes the Pod's Secret and ConfigMap volumes under `dir`; returns (mount path, directory)
/// for each mount of the first container.
pub async fn volumes(
    client: &Client,
    pod: &Pod,
    dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let spec = pod.spec.as_ref().ok_or("no spec")?;
    let mut out = Vec::new();
    let mounts = spec
        .containers
        .first()
        .and_then(|c| c.volume_mounts.clone())
        .unwrap_or_default();
    for mount in mounts {
        let Some(volume) = spec.volumes.iter().flatten().find(|v| v.name == mount.name) else {
            continue;
        };
        let (files, items): (BTreeMap<String, Vec<u8>>, _) = if let Some(s) = &volume.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            let secret = Api::<Secret>::namespaced(client.clone(), &ns)
                .get(&name)
                .await
                .map_err(|e| format!("Secret {ns}/{name}: {e}"))?;
            let files = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            (files, s.items.clone())
        } else if let Some(c) = &volume.config_map {
            let name = c.name.clone();
            let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                .get(&name)
                .await
                .map_err(|e| format!("ConfigMap {ns}/{name}: {e}"))?;
            let mut files: BTreeMap<String, Vec<u8>> = cm
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect();
            files.extend(
                cm.binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0)),
            );
            (files, c.items.clone())
        } else {
            continue;
        };
        let target = dir.join(&volume.name);
        std::fs::create_dir_all(&target).map_err(|e| format!("{target:?}: {e}"))?;
        let chosen: Vec<(String, String)> = match items {
            Some(items) => items.into_iter().map(|i| (i.key, i.path)).collect(),
            None => files.keys().map(|k| (k.clone(), k.clone())).collect(),
        };
        for (key, path) in chosen {
            let data = files
                .get(&key)
                .ok_or_else(|| format!("volume {}: no key {key}", volume.name))?;
            let file = target.join(&path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{parent:?}: {e}"))?;
            }
            std::fs::write(&file, data).map_err(|e| format!("{file:?}: {e}"))?;
        }
        out.push((mount.mount_path.clone(), target));
    }
    Ok(out)
}

/// The container's environment: literal values (paths under a mount rewritten to where the
/// volume was written) and the downward API fields the conformance manifests use.
pub fn environment(
    pod: &Pod,
    container: &Container,
    address: Ipv4Addr,
    mounts: &[(String, PathBuf)],
) -> Vec<(String, String)> {
    let mut env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    for var in container.env.iter().flatten() {
        let value = if let Some(v) = &var.value {
            let mut v = v.clone();
            for (mount, dir) in mounts {
                if let Some(rest) = v.strip_prefix(mount.as_str()) {
                    v = format!("{}{rest}", dir.display());
                    break;
                }
            }
            v
        } else if let Some(field) = var.value_from.as_ref().and_then(|f| f.field_ref.as_ref()) {
            match field.field_path.as_str() {
                "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
                "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
                "metadata.uid" => pod.metadata.uid.clone().unwrap_or_default(),
                "spec.nodeName" => NODE.to_string(),
                "status.podIP" => address.to_string(),
                "status.hostIP" => NODE_IP.to_string(),
                _ => String::new(),
            }
        } else {
            String::new()
        };
        env.push((var.name.clone(), value));
    }
    env
}
