//! VPC Lattice access logs: one JSON line per request of a service with an AccessLogPolicy, with
//! the field names of Lattice's `VpcLatticeAccessLogs` (strings, `-` when empty; sizes and
//! durations as numbers), to each of the rule's destinations.

use super::access_log::AccessLog;
use crate::message::Client;
use arc_swap::ArcSwap;
use pylon_ir::lattice::RuleLog;
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The open destination files, by their path under the access-log directory.
#[derive(Default)]
pub struct Destinations {
    directory: Option<PathBuf>,
    open: ArcSwap<HashMap<String, AccessLog>>,
    /// Serializes [`Destinations::open`]: the map is only replaced under it.
    opening: Mutex<()>,
}

impl Destinations {
    pub fn new(directory: Option<PathBuf>) -> Self {
        Destinations {
            directory,
            ..Destinations::default()
        }
    }

    /// Opens (appending, creating directories) every destination not open yet; an error names
    /// the file that could not be opened.
    pub fn open<'a>(&self, wanted: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let _serial = self.opening.lock().expect("destinations lock");
        let mut errors = Vec::new();
        let current = self.open.load();
        let mut next: Option<HashMap<String, AccessLog>> = None;
        for path in wanted {
            if next.as_ref().unwrap_or(&current).contains_key(path) {
                continue;
            }
            let Some(directory) = &self.directory else {
                errors.push(format!("access log {path}: no --access-log-dir"));
                continue;
            };
            match open(&directory.join(path)) {
                Ok(file) => {
                    next.get_or_insert_with(|| (**current).clone())
                        .insert(path.to_string(), AccessLog::new(Box::new(file)));
                }
                Err(e) => errors.push(format!(
                    "cannot open the access log {}: {e}",
                    directory.join(path).display()
                )),
            }
        }
        // Replaced only when a file was opened: most configurations open none.
        if let Some(next) = next {
            self.open.store(Arc::new(next));
        }
        errors
    }

    fn sinks(&self, rule: &RuleLog) -> Vec<AccessLog> {
        let open = self.open.load();
        rule.destinations
            .iter()
            .filter_map(|d| open.get(d).cloned())
            .collect()
    }
}

fn open(path: &Path) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(std::io::BufWriter::new(file))
}

/// Who called, as the auth step found out, and why it refused the request if it did.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub principal: Option<String>,
    pub org_id: Option<String>,
    /// `authDeniedReason`: which policy denied (`Network`, `Service`), or `Signature`.
    pub denied: Option<&'static str>,
    /// `failureReason`: `ClientAccessDenied`, `ClientAuthenticationFailed`.
    pub failure: Option<&'static str>,
}

impl Caller {
    pub fn of(principal: Option<&pylon_iam::Principal>) -> Self {
        Caller {
            principal: principal.map(|p| p.arn.clone()),
            org_id: principal.and_then(|p| p.org_id.clone()),
            ..Caller::default()
        }
    }

    pub fn denied(policy: &'static str) -> Self {
        Caller {
            denied: Some(policy),
            failure: Some("ClientAccessDenied"),
            ..Caller::default()
        }
    }
}

/// What is known about a request of a logged rule, until its response ends.
pub struct LatticeEntry {
    rule: Arc<RuleLog>,
    sinks: Vec<AccessLog>,
    start_time: String,
    started: Instant,
    client: SocketAddr,
    method: String,
    path: String,
    protocol: &'static str,
    host: String,
    user_agent: String,
    bytes_received: u64,
    tls: Option<Arc<crate::message::TlsFacts>>,
    pub status: u16,
    pub target: Option<(String, SocketAddr)>,
    pub caller: Caller,
    /// Until the response headers came back.
    pub headers_after: Duration,
}

impl LatticeEntry {
    pub fn begin<B>(
        rule: &Arc<RuleLog>,
        destinations: &Destinations,
        started: Instant,
        client: &Client,
        request: &http::Request<B>,
        host: &str,
    ) -> Option<Self> {
        let sinks = destinations.sinks(rule);
        if sinks.is_empty() {
            return None;
        }
        let header = |name: http::header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        Some(LatticeEntry {
            rule: rule.clone(),
            sinks,
            start_time: jiff::Timestamp::now()
                .round(jiff::Unit::Millisecond)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            started,
            client: client.addr,
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
            protocol: match request.version() {
                http::Version::HTTP_2 => "HTTP/2.0",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            host: host.to_string(),
            user_agent: header(http::header::USER_AGENT),
            // The declared size: bodies are streamed to the target, not counted on the way.
            bytes_received: header(http::header::CONTENT_LENGTH).parse().unwrap_or(0),
            tls: client.tls.clone(),
            status: 0,
            target: None,
            caller: Caller::default(),
            headers_after: Duration::ZERO,
        })
    }

    /// Writes the line: `bytes_sent` response body bytes, the response over now.
    pub fn finish(self, bytes_sent: u64) {
        let ms = |d: Duration| d.as_millis() as u64;
        let duration = self.started.elapsed();
        let dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        let (target_group_arn, target) = match &self.target {
            Some((tg, addr)) => (
                self.rule
                    .target_group_arns
                    .get(tg)
                    .cloned()
                    .unwrap_or_else(|| "-".into()),
                addr.to_string(),
            ),
            None => ("-".into(), "-".into()),
        };
        let tls = self.tls.as_deref();
        let line = Line {
            service_network_arn: &self.rule.service_network_arn,
            resolved_user: "-",
            listener_type: &self.rule.listener_type,
            auth_denied_reason: self.caller.denied.unwrap_or("-"),
            target_group_arn,
            source_vpc_arn: &self.rule.source_vpc_arn,
            destination_vpc_id: &self.rule.source_vpc_id,
            source_ip_port: self.client.to_string(),
            listener_id: &self.rule.listener_id,
            target_ip_port: target,
            failure_reason: self.caller.failure.unwrap_or("-"),
            service_arn: &self.rule.service_arn,
            source_vpc_id: &self.rule.source_vpc_id,
            start_time: &self.start_time,
            request_method: &self.method,
            request_path: &self.path,
            protocol: self.protocol,
            response_code: self.status,
            bytes_received: self.bytes_received,
            bytes_sent,
            duration: ms(duration),
            user_agent: dash(&self.user_agent),
            host_header: dash(&self.host),
            server_name_indication: dash(tls.and_then(|t| t.server_name.as_deref()).unwrap_or("")),
            request_to_target_duration: if self.target.is_some() {
                ms(self.headers_after)
            } else {
                0
            },
            response_from_target_duration: if self.target.is_some() {
                ms(duration.saturating_sub(self.headers_after))
            } else {
                0
            },
            ssl_cipher: dash(tls.map_or("", |t| t.cipher.as_str())),
            tls_version: dash(tls.map_or("", |t| t.version.as_str())),
            caller_principal: self.caller.principal.as_deref().unwrap_or("-"),
            caller_principal_org_id: self.caller.org_id.as_deref().unwrap_or("-"),
            caller_x509_issuer_ou: "-",
            caller_x509_subject_cn: "-",
            caller_x509_san_name_cn: "-",
            caller_x509_san_dns: "-",
            caller_x509_san_uri: "-",
        };
        if let Ok(mut bytes) = serde_json::to_vec(&line) {
            bytes.push(b'\n');
            for sink in &self.sinks {
                sink.send(bytes.clone());
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    service_network_arn: &'a str,
    resolved_user: &'a str,
    listener_type: &'a str,
    auth_denied_reason: &'a str,
    target_group_arn: String,
    source_vpc_arn: &'a str,
    destination_vpc_id: &'a str,
    source_ip_port: String,
    listener_id: &'a str,
    target_ip_port: String,
    failure_reason: &'a str,
    service_arn: &'a str,
    source_vpc_id: &'a str,
    start_time: &'a str,
    request_method: &'a str,
    request_path: &'a str,
    protocol: &'a str,
    response_code: u16,
    bytes_received: u64,
    bytes_sent: u64,
    duration: u64,
    user_agent: String,
    host_header: String,
    server_name_indication: String,
    request_to_target_duration: u64,
    response_from_target_duration: u64,
    ssl_cipher: String,
    tls_version: String,
    caller_principal: &'a str,
    #[serde(rename = "callerPrincipalOrgID")]
    caller_principal_org_id: &'a str,
    #[serde(rename = "callerX509IssuerOU")]
    caller_x509_issuer_ou: &'a str,
    #[serde(rename = "callerX509SubjectCN")]
    caller_x509_subject_cn: &'a str,
    #[serde(rename = "callerX509SANNameCN")]
    caller_x509_san_name_cn: &'a str,
    #[serde(rename = "callerX509SANDNS")]
    caller_x509_san_dns: &'a str,
    #[serde(rename = "callerX509SANURI")]
    caller_x509_san_uri: &'a str,
}
