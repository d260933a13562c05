//! Problems found in the input: what is wrong, where (object, file, field), and how bad.

use crate::ObjectRef;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The object (or the part named) is not served as written.
    Error,
    /// Served, but something in the input was ignored or is suspicious.
    Warning,
}

/// One thing a user should look at. Every field that is known is filled, so the message can say
/// which object, which file and which field to fix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Where the object came from: `file.yaml` or `file.yaml#2` (document index, from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The field path inside the object, such as `spec.rules[0].http.paths[1].path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn error(
        object: Option<ObjectRef>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Error,
            object,
            source: None,
            field,
            message: message.into(),
        }
    }

    pub fn warning(
        object: Option<ObjectRef>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(object, field, message)
        }
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    /// `error: Ingress demo/web (manifests/web.yaml#1), field spec.rules[0].host: message`, or
    /// `error: manifests/web.yaml#1: message` when no object can be named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}:")?;
        match (&self.object, &self.source) {
            (Some(object), Some(source)) => write!(f, " {object} ({source})")?,
            (Some(object), None) => write!(f, " {object}")?,
            (None, Some(source)) => write!(f, " {source}")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}
