//! Redirects: the ALB redirect action and the Gateway API RequestRedirect filter.

use super::rewrite::modified_path;
use super::step::{Exchange, Flow, ListenerFacts, Step};
use crate::message::answer::redirect_to;
use pylon_ir::{Action, PathModifier, Protocol};

/// The ALB redirect: `#{protocol}`, `#{host}`, `#{port}`, `#{path}` and `#{query}` in each part are
/// replaced by the request's own; the location always names the port, as an ALB's does.
#[derive(Debug)]
pub struct AlbRedirect {
    protocol: String,
    port: String,
    host: String,
    path: String,
    query: String,
    status: u16,
    /// The listener's protocol and port, for `#{protocol}` and `#{port}`.
    listener_protocol: &'static str,
    listener_port: String,
}

impl AlbRedirect {
    pub fn compile(action: &Action, listener: &ListenerFacts) -> Self {
        let Action::Redirect {
            protocol,
            port,
            host,
            path,
            query,
            status_code,
        } = action
        else {
            unreachable!("compiled from a redirect action")
        };
        AlbRedirect {
            protocol: protocol.clone(),
            port: port.clone(),
            host: host.clone(),
            path: path.clone(),
            query: query.clone(),
            status: *status_code,
            listener_protocol: listener.protocol.as_str(),
            listener_port: listener.port.to_string(),
        }
    }
}

impl Step for AlbRedirect {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let uri = exchange.request.uri();
        let path = uri.path();
        let query = uri.query().unwrap_or_default();
        let fill = |template: &str| {
            template
                .replace("#{protocol}", self.listener_protocol)
                .replace("#{host}", exchange.host)
                .replace("#{port}", &self.listener_port)
                .replace("#{path}", path.strip_prefix('/').unwrap_or(path))
                .replace("#{query}", query)
        };
        let scheme = fill(&self.protocol).to_ascii_lowercase();
        let mut location = format!(
            "{scheme}://{}:{}{}",
            fill(&self.host),
            fill(&self.port),
            fill(&self.path)
        );
        let query = fill(&self.query);
        if !query.is_empty() {
            location.push('?');
            location.push_str(&query);
        }
        Flow::Answer(redirect_to(self.status, &location))
    }
}

/// The Gateway API redirect (HTTPRequestRedirectFilter): without a port, a changed scheme uses its
/// well-known port and an unchanged one the listener's; well-known ports are left out.
#[derive(Debug)]
pub struct RouteRedirect {
    scheme: Option<String>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<PathModifier>,
    status: u16,
    listener_scheme: &'static str,
    listener_port: u16,
}

impl RouteRedirect {
    pub fn compile(action: &Action, listener: &ListenerFacts) -> Self {
        let Action::RouteRedirect {
            scheme,
            hostname,
            port,
            path,
            status_code,
        } = action
        else {
            unreachable!("compiled from a route redirect")
        };
        RouteRedirect {
            scheme: scheme.clone(),
            hostname: hostname.clone(),
            port: *port,
            path: path.clone(),
            status: *status_code,
            listener_scheme: match listener.protocol {
                Protocol::Http => "http",
                Protocol::Https => "https",
            },
            listener_port: listener.port,
        }
    }
}

impl Step for RouteRedirect {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let scheme = self
            .scheme
            .as_deref()
            .unwrap_or(self.listener_scheme)
            .to_ascii_lowercase();
        let port = self.port.unwrap_or(match (&self.scheme, scheme.as_str()) {
            (Some(_), "https") => 443,
            (Some(_), _) => 80,
            (None, _) => self.listener_port,
        });
        let hostname = self.hostname.as_deref().unwrap_or(exchange.host);
        let well_known = matches!((scheme.as_str(), port), ("http", 80) | ("https", 443));
        let authority = if well_known {
            hostname.to_string()
        } else {
            format!("{hostname}:{port}")
        };
        let uri = exchange.request.uri();
        let path = match &self.path {
            Some(m) => modified_path(m, uri.path()),
            None => uri.path().to_string(),
        };
        let mut location = format!("{scheme}://{authority}{path}");
        if let Some(q) = uri.query() {
            location.push('?');
            location.push_str(q);
        }
        Flow::Answer(redirect_to(self.status, &location))
    }
}
