//! Lattice auth policies (auth type `AWS_IAM`): each request is decided before the rule's action
//! as Lattice decides it, from its condition keys; a denied one gets Lattice's 403 and never
//! reaches a target. Unsigned requests are anonymous. A signed request is never taken for an
//! anonymous one: until signatures are verified here, it is refused.

use super::step::{Exchange, Flow, ListenerFacts, Step};
use crate::message::answer;
use bytes::Bytes;
use http::header;
use pylon_iam::{decide, Auth, Policy, Request, INVOKE};
use pylon_ir::lattice::RuleAuth;
use std::future::Future;

#[derive(Debug)]
pub struct LatticeAuth {
    network: Option<Policy>,
    service: Option<Policy>,
    /// A policy that does not parse here (the translation checked it): every request is denied.
    broken: bool,
    service_arn: String,
    network_arn: String,
    source_vpc: String,
    source_vpc_owner_account: String,
    port: String,
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
            source_vpc: auth.source_vpc.clone(),
            source_vpc_owner_account: auth.source_vpc_owner_account.clone(),
            port: listener.port.to_string(),
        }
    }

    fn level(policy: &Option<Policy>) -> Auth<'_> {
        match policy {
            Some(p) => Auth::AwsIam(Some(p)),
            None => Auth::None,
        }
    }
}

fn denied(message: String) -> Flow {
    Flow::Answer(answer::fixed(
        403,
        "text/plain",
        Bytes::from(format!("{message}\n")),
    ))
}

/// Whether the request carries a SigV4 (or SigV4A) signature, in its headers or its query.
fn signed(request: &http::Request<crate::message::Body>) -> bool {
    let by_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-"));
    let by_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("X-Amz-Signature=")));
    by_header || by_query
}

impl Step for LatticeAuth {
    /// Decided at once, with nothing to wait for: the future carries no state, so rules with
    /// and without auth cost the same to run.
    fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> impl Future<Output = Flow> + Send {
        std::future::ready(self.decide(exchange))
    }
}

impl LatticeAuth {
    fn decide(&self, exchange: &Exchange<'_>) -> Flow {
        let request = &exchange.request;
        if self.broken {
            return denied(format!(
                "AccessDeniedException: the auth policy of {} cannot be evaluated",
                self.service_arn
            ));
        }
        if signed(request) {
            return denied(
                "InvalidSignatureException: Pylon does not verify SigV4 signatures yet; signed requests are refused, never taken for anonymous ones".into(),
            );
        }
        let path = request.uri().path();
        let resource = format!("{}/{}", self.service_arn, path.trim_start_matches('/'));
        let mut context = Request::new(None, INVOKE, &resource);
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
        match verdict.message(&context) {
            Some(message) => denied(message),
            None => Flow::Next,
        }
    }
}
