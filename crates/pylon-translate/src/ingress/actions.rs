//! `alb.ingress.kubernetes.io/actions.<name>` and `conditions.<name>`: JSON annotations that give a
//! backend a custom action (fixed response, redirect, weighted forward) or extra rule conditions.
//!
//! Field names are matched case-insensitively, as the controller's Go JSON decoding does, so both
//! `{"Type": "redirect", "RedirectConfig": {...}}` and `{"type": "redirect", "redirectConfig": {...}}`
//! are read. Fields Pylon does not know are reported as warnings.

use pylon_ir::{IpNet, QueryStringPair};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A parsed JSON annotation and the unknown fields it had.
pub struct Parsed<T> {
    pub value: T,
    pub unknown: Vec<String>,
}

/// Parses a JSON annotation with case-insensitive field names.
pub fn parse<T: DeserializeOwned>(raw: &str) -> Result<Parsed<T>, String> {
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| format!("is not valid JSON ({e})"))?;
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let value =
        serde_ignored::deserialize(lowercase_keys(value), &mut note).map_err(|e| e.to_string())?;
    Ok(Parsed { value, unknown })
}

fn lowercase_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), lowercase_keys(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(items) => items.into_iter().map(lowercase_keys).collect(),
        other => other,
    }
}

// The controller's action schema (`pkg/ingress/config_types.go`), with lowercased field names.

#[derive(Debug, Deserialize)]
pub struct ActionConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub targetgrouparn: Option<String>,
    pub targetgroupname: Option<String>,
    pub fixedresponseconfig: Option<FixedResponseConfig>,
    pub redirectconfig: Option<RedirectConfig>,
    pub forwardconfig: Option<ForwardConfig>,
}

#[derive(Debug, Deserialize)]
pub struct FixedResponseConfig {
    pub contenttype: Option<String>,
    pub messagebody: Option<String>,
    pub statuscode: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RedirectConfig {
    pub host: Option<String>,
    pub path: Option<String>,
    pub port: Option<String>,
    pub protocol: Option<String>,
    pub query: Option<String>,
    pub statuscode: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ForwardConfig {
    #[serde(default)]
    pub targetgroups: Vec<TargetGroupTuple>,
    pub targetgroupstickinessconfig: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct TargetGroupTuple {
    pub targetgrouparn: Option<String>,
    pub targetgroupname: Option<String>,
    pub servicename: Option<String>,
    /// A number, a numeric string (read as a number) or a port name.
    pub serviceport: Option<serde_json::Value>,
    pub weight: Option<i64>,
}

// The controller's condition schema.

#[derive(Debug, Deserialize)]
pub struct RuleCondition {
    pub field: String,
    pub hostheaderconfig: Option<ValuesConfig>,
    pub pathpatternconfig: Option<ValuesConfig>,
    pub httpheaderconfig: Option<HttpHeaderConfig>,
    pub httprequestmethodconfig: Option<ValuesConfig>,
    pub querystringconfig: Option<QueryStringConfig>,
    pub sourceipconfig: Option<ValuesConfig>,
}

#[derive(Debug, Deserialize)]
pub struct ValuesConfig {
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub regexvalues: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct HttpHeaderConfig {
    pub httpheadername: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub regexvalues: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct QueryStringConfig {
    #[serde(default)]
    pub values: Vec<QueryStringValue>,
}

#[derive(Debug, Deserialize)]
pub struct QueryStringValue {
    pub key: Option<String>,
    pub value: String,
}

/// Conditions from a `conditions.<name>` annotation: host and path values join the rule's own
/// host-header and path-pattern conditions; the others stand before them, in annotation order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExtraConditions {
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub others: Vec<pylon_ir::Condition>,
}

/// Converts parsed conditions, checking them as the controller and ELBv2 do.
pub fn conditions(parsed: Vec<RuleCondition>) -> Result<ExtraConditions, String> {
    use pylon_ir::Condition;
    let mut out = ExtraConditions::default();
    for (i, c) in parsed.into_iter().enumerate() {
        let missing = |config: &str| format!("condition {i} ({}) has no {config}", c.field);
        let plain = |values: &ValuesConfig, what: &str| -> Result<Vec<String>, String> {
            if !values.regexvalues.is_empty() {
                return Err(format!("condition {i}: regexValues for {what} are not supported by Pylon yet; use values with * and ? wildcards"));
            }
            if values.values.is_empty() {
                return Err(format!("condition {i}: {what} needs values"));
            }
            Ok(values.values.clone())
        };
        match c.field.as_str() {
            "host-header" => {
                let config = c.hostheaderconfig.as_ref().ok_or_else(|| missing("hostHeaderConfig"))?;
                out.hosts.extend(plain(config, "host-header")?);
            }
            "path-pattern" => {
                let config = c.pathpatternconfig.as_ref().ok_or_else(|| missing("pathPatternConfig"))?;
                out.paths.extend(plain(config, "path-pattern")?);
            }
            "http-header" => {
                let config = c.httpheaderconfig.as_ref().ok_or_else(|| missing("httpHeaderConfig"))?;
                let name = &config.httpheadername;
                if name.is_empty() || http_token(name).is_none() {
                    return Err(format!("condition {i}: {name:?} is not a valid header name"));
                }
                let values = plain(
                    &ValuesConfig {
                        values: config.values.clone(),
                        regexvalues: config.regexvalues.clone(),
                    },
                    "http-header",
                )?;
                out.others.push(Condition::HttpHeader {
                    http_header_name: name.clone(),
                    values,
                });
            }
            "http-request-method" => {
                let config = c
                    .httprequestmethodconfig
                    .as_ref()
                    .ok_or_else(|| missing("httpRequestMethodConfig"))?;
                let values = plain(config, "http-request-method")?;
                // ELBv2: A-Z, hyphen and underscore; compared case-sensitively.
                if let Some(bad) = values
                    .iter()
                    .find(|m| m.is_empty() || !m.chars().all(|ch| ch.is_ascii_uppercase() || ch == '-' || ch == '_'))
                {
                    return Err(format!("condition {i}: method {bad:?} must be upper-case letters, - and _"));
                }
                out.others.push(Condition::HttpRequestMethod { values });
            }
            "query-string" => {
                let config = c.querystringconfig.as_ref().ok_or_else(|| missing("queryStringConfig"))?;
                if config.values.is_empty() || config.values.iter().any(|v| v.value.is_empty()) {
                    return Err(format!("condition {i}: query-string needs values, each with a value"));
                }
                out.others.push(Condition::QueryString {
                    values: config
                        .values
                        .iter()
                        .map(|v| QueryStringPair {
                            key: v.key.clone(),
                            value: v.value.clone(),
                        })
                        .collect(),
                });
            }
            "source-ip" => {
                let config = c.sourceipconfig.as_ref().ok_or_else(|| missing("sourceIpConfig"))?;
                let values = plain(config, "source-ip")?
                    .iter()
                    .map(|v| {
                        v.parse::<IpNet>()
                            .map_err(|_| format!("condition {i}: source-ip {v:?} is not a CIDR block such as 192.168.0.0/16"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.others.push(Condition::SourceIp { values });
            }
            other => {
                return Err(format!(
                    "condition {i}: unknown field {other:?} (host-header, path-pattern, http-header, http-request-method, query-string or source-ip)"
                ))
            }
        }
    }
    Ok(out)
}

fn http_token(name: &str) -> Option<()> {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        .then_some(())
}

/// A redirect's parts with the ALB defaults for the ones not given.
pub fn redirect(config: &RedirectConfig) -> Result<pylon_ir::Action, String> {
    let status_code = match config.statuscode.as_deref() {
        Some("HTTP_301") => 301,
        Some("HTTP_302") => 302,
        Some(other) => {
            return Err(format!(
                "redirect statusCode {other:?} must be HTTP_301 or HTTP_302"
            ))
        }
        None => return Err("redirect needs a statusCode (HTTP_301 or HTTP_302)".into()),
    };
    let protocol = config
        .protocol
        .clone()
        .unwrap_or_else(|| "#{protocol}".into());
    if !matches!(protocol.as_str(), "HTTP" | "HTTPS" | "#{protocol}") {
        return Err(format!(
            "redirect protocol {protocol:?} must be HTTP, HTTPS or #{{protocol}}"
        ));
    }
    let port = config.port.clone().unwrap_or_else(|| "#{port}".into());
    if port != "#{port}" && !port.parse::<u16>().is_ok_and(|p| p >= 1) {
        return Err(format!(
            "redirect port {port:?} must be 1-65535 or #{{port}}"
        ));
    }
    let path = config.path.clone().unwrap_or_else(|| "/#{path}".into());
    if !path.starts_with('/') {
        return Err(format!("redirect path {path:?} must start with /"));
    }
    Ok(pylon_ir::Action::Redirect {
        protocol,
        port,
        host: config.host.clone().unwrap_or_else(|| "#{host}".into()),
        path,
        query: config.query.clone().unwrap_or_else(|| "#{query}".into()),
        status_code,
    })
}

/// A fixed response, as ELBv2 accepts it.
pub fn fixed_response(config: &FixedResponseConfig) -> Result<pylon_ir::Action, String> {
    let code = config
        .statuscode
        .as_deref()
        .ok_or("fixed-response needs a statusCode")?;
    let status_code = code
        .parse::<u16>()
        .ok()
        .filter(|c| matches!(c / 100, 2 | 4 | 5))
        .ok_or_else(|| {
            format!("fixed-response statusCode {code:?} must be a 2XX, 4XX or 5XX code")
        })?;
    let content_type = config
        .contenttype
        .clone()
        .unwrap_or_else(|| "text/plain".into());
    const TYPES: [&str; 5] = [
        "text/plain",
        "text/css",
        "text/html",
        "application/javascript",
        "application/json",
    ];
    if !TYPES.contains(&content_type.as_str()) {
        return Err(format!(
            "fixed-response contentType {content_type:?} must be one of {}",
            TYPES.join(", ")
        ));
    }
    if config.messagebody.as_ref().is_some_and(|b| b.len() > 1024) {
        return Err("fixed-response messageBody is longer than 1024 characters".into());
    }
    Ok(pylon_ir::Action::FixedResponse {
        status_code,
        content_type,
        message_body: config.messagebody.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_case_insensitive() {
        let a: Parsed<ActionConfig> = parse(r#"{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}, "Extra": 1}"#).unwrap();
        assert_eq!(a.value.kind, "redirect");
        assert_eq!(a.unknown, ["extra"]);
        let r = redirect(a.value.redirectconfig.as_ref().unwrap()).unwrap();
        assert_eq!(
            r,
            pylon_ir::Action::Redirect {
                protocol: "HTTPS".into(),
                port: "443".into(),
                host: "#{host}".into(),
                path: "/#{path}".into(),
                query: "#{query}".into(),
                status_code: 301
            }
        );
    }

    #[test]
    fn conditions_are_checked() {
        let parse_conditions =
            |raw: &str| conditions(parse::<Vec<RuleCondition>>(raw).unwrap().value);
        let ok = parse_conditions(r#"[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Env","values":["beta*"]}},{"field":"host-header","hostHeaderConfig":{"values":["a.example.com"]}}]"#).unwrap();
        assert_eq!(ok.hosts, ["a.example.com"]);
        assert_eq!(ok.others.len(), 1);
        assert!(parse_conditions(
            r#"[{"field":"source-ip","sourceIpConfig":{"values":["10.0.0.0/33"]}}]"#
        )
        .is_err());
        assert!(parse_conditions(
            r#"[{"field":"http-request-method","httpRequestMethodConfig":{"values":["get"]}}]"#
        )
        .is_err());
        assert!(parse_conditions(
            r#"[{"field":"path-pattern","pathPatternConfig":{"regexValues":["^/a"]}}]"#
        )
        .is_err());
    }
}
