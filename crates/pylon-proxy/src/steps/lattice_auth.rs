//! Lattice auth policies (auth type `AWS_IAM`): each request is decided before the rule's action
//! as Lattice decides it, from its condition keys; a denied one gets Lattice's 403 and never
//! reaches a target. An unsigned request is anonymous; a signed one must carry a valid SigV4 or
//! SigV4A signature by a known access key, and is never taken for an anonymous one. An allowed
//! signed request reaches the target with `x-amzn-lattice-identity` (and `-identity-tags`);
//! client copies of those headers never do.

use super::step::{Exchange, Flow, ListenerFacts, Step};
use crate::message::answer;
use crate::observe::lattice_log::Caller;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use pylon_iam::signature::{self, Signed};
use pylon_iam::{
    decide, Auth, Credential, Keyring, Policy, Principal, Request, Scope, Verdict, INVOKE,
};
use pylon_ir::lattice::{AwsCredential, RuleAuth};
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

const IDENTITY: HeaderName = HeaderName::from_static("x-amzn-lattice-identity");
const IDENTITY_TAGS: HeaderName = HeaderName::from_static("x-amzn-lattice-identity-tags");

/// The keys of a configuration's credentials.
pub fn keyring(credentials: &[AwsCredential]) -> Keyring {
    let mut keys = Keyring::default();
    for c in credentials {
        keys.insert(Credential::new(
            &c.access_key_id,
            &c.secret_access_key,
            Principal {
                arn: c.principal.clone(),
                org_id: c.org_id.clone(),
                tags: c.tags.clone(),
            },
        ));
    }
    keys
}

#[derive(Debug)]
pub struct LatticeAuth {
    network: Option<Policy>,
    service: Option<Policy>,
    /// A policy that does not parse here (the translation checked it): every request is denied.
    broken: bool,
    service_arn: String,
    network_arn: String,
    /// The region signatures are scoped to: the service's.
    region: String,
    source_vpc: String,
    source_vpc_owner_account: String,
    port: String,
    keyring: Arc<Keyring>,
}

impl LatticeAuth {
    pub fn compile(auth: &RuleAuth, listener: &ListenerFacts) -> Self {
        let parse = |text: &Option<String>| text.as_deref().map(Policy::parse).transpose();
        let (network, service, broken) =
            match (parse(&auth.network_policy), parse(&auth.service_policy)) {
                (Ok(n), Ok(s)) => (n, s, false),
                _ => (None, None, true),
            };
        LatticeAuth {
            network,
            service,
            broken,
            service_arn: auth.service_arn.clone(),
            network_arn: auth.service_network_arn.clone(),
            region: auth
                .service_arn
                .split(':')
                .nth(3)
                .unwrap_or_default()
                .to_string(),
            source_vpc: auth.source_vpc.clone(),
            source_vpc_owner_account: auth.source_vpc_owner_account.clone(),
            port: listener.port.to_string(),
            keyring: listener.keyring.clone(),
        }
    }

    fn level(policy: &Option<Policy>) -> Auth<'_> {
        match policy {
            Some(p) => Auth::AwsIam(Some(p)),
            None => Auth::None,
        }
    }
}

/// Lattice's 403, with what the access log says of it.
fn denied(exchange: &mut Exchange<'_>, message: String, caller: Caller) -> Flow {
    exchange.notes.insert(caller);
    Flow::Answer(answer::fixed(
        403,
        "text/plain",
        Bytes::from(format!("{message}\n")),
    ))
}

impl Step for LatticeAuth {
    /// Decided at once, with nothing to wait for: the future carries no state, so rules with
    /// and without auth cost the same to run.
    fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> impl Future<Output = Flow> + Send {
        std::future::ready(self.decide(exchange))
    }
}

impl LatticeAuth {
    fn decide(&self, exchange: &mut Exchange<'_>) -> Flow {
        if self.broken {
            let message = format!(
                "AccessDeniedException: the auth policy of {} cannot be evaluated",
                self.service_arn
            );
            return denied(exchange, message, Caller::denied("Service"));
        }
        let request = &exchange.request;
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = if signature::is_signed(authorization, request.uri().query()) {
            match signature::verify(
                &Signed::of(request),
                &self.keyring,
                &self.region,
                SystemTime::now(),
            ) {
                Ok(credential) => Some(&credential.principal),
                Err(rejection) => {
                    let caller = Caller {
                        denied: Some("Signature"),
                        failure: Some("ClientAuthenticationFailed"),
                        ..Caller::default()
                    };
                    return denied(exchange, rejection.to_string(), caller);
                }
            }
        } else {
            None
        };
        // Only Lattice says who is calling: a client's copies go, once its signature (which may
        // cover them) is checked.
        exchange.request.headers_mut().remove(IDENTITY);
        exchange.request.headers_mut().remove(IDENTITY_TAGS);
        let request = &exchange.request;
        let path = request.uri().path();
        let resource = format!("{}/{}", self.service_arn, path.trim_start_matches('/'));
        let mut context = Request::new(principal, INVOKE, &resource);
        context.set("vpc-lattice-svcs:Port", &self.port);
        context.set("vpc-lattice-svcs:RequestMethod", request.method().as_str());
        context.set("vpc-lattice-svcs:RequestPath", path);
        context.set("vpc-lattice-svcs:ServiceArn", &self.service_arn);
        context.set("vpc-lattice-svcs:ServiceNetworkArn", &self.network_arn);
        context.set("vpc-lattice-svcs:SourceVpc", &self.source_vpc);
        context.set(
            "vpc-lattice-svcs:SourceVpcOwnerAccount",
            &self.source_vpc_owner_account,
        );
        context.set("aws:SourceIp", &exchange.client.addr.ip().to_string());
        for (name, value) in request.headers() {
            if let Ok(value) = value.to_str() {
                context.add(
                    &format!("vpc-lattice-svcs:RequestHeader/{}", name.as_str()),
                    value,
                );
            }
        }
        for pair in request.uri().query().unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !key.is_empty() {
                context.add(&format!("vpc-lattice-svcs:RequestQueryString/{key}"), value);
            }
        }
        let verdict = decide(
            Self::level(&self.network),
            Self::level(&self.service),
            &context,
        );
        let mut caller = Caller::of(principal);
        if let Verdict::Denied { scope, .. } = verdict {
            caller.denied = Some(match scope {
                Scope::Network => "Network",
                Scope::Service => "Service",
            });
            caller.failure = Some("ClientAccessDenied");
            let message = verdict.message(&context).unwrap_or_default();
            return denied(exchange, message, caller);
        }
        let identity = principal.map(|p| (identity(p), identity_tags(p)));
        exchange.notes.insert(caller);
        if let Some((identity, tags)) = identity {
            let headers = exchange.request.headers_mut();
            headers.extend(identity.map(|v| (IDENTITY, v)));
            headers.extend(tags.map(|v| (IDENTITY_TAGS, v)));
        }
        Flow::Next
    }
}

/// `Principal=<arn>;PrincipalOrgID=<o-…>;Type=AWS_IAM`, keys without a value left out.
fn identity(principal: &Principal) -> Option<HeaderValue> {
    let mut parts = vec![format!("Principal={}", principal.arn)];
    if let Some(org) = &principal.org_id {
        parts.push(format!("PrincipalOrgID={org}"));
    }
    parts.push("Type=AWS_IAM".into());
    HeaderValue::from_str(&parts.join(";")).ok()
}

/// `principal=<arn>;principalorgid=<o>;<tag>=<value>;…`, a `;` in a value escaped as `\;`.
fn identity_tags(principal: &Principal) -> Option<HeaderValue> {
    let escape = |s: &str| s.replace(';', "\\;");
    let mut parts = vec![format!("principal={}", escape(&principal.arn))];
    if let Some(org) = &principal.org_id {
        parts.push(format!("principalorgid={}", escape(org)));
    }
    parts.extend(
        principal
            .tags
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v))),
    );
    HeaderValue::from_str(&parts.join(";")).ok()
}
