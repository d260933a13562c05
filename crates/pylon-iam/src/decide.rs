//! Lattice's decision for one request: implicitly denied; the service network's policy and the
//! service's must both allow where their auth type is `AWS_IAM`; an explicit Deny in either
//! wins; `AWS_IAM` without a policy denies everything.

use crate::policy::{Decision, Policy};
use crate::request::Request;
use crate::INVOKE;

/// A service network's or a service's auth type and policy.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `NONE`: no check at this level (a policy attached anyway has no effect).
    None,
    /// `AWS_IAM` with its policy, if one is attached.
    AwsIam(Option<&'a Policy>),
}

/// Which policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Network,
    Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied { scope: Scope, explicit: bool },
}

pub fn decide(network: Auth<'_>, service: Auth<'_>, request: &Request<'_>) -> Verdict {
    let level = |auth: Auth<'_>| match auth {
        Auth::None => Decision::Allow,
        Auth::AwsIam(None) => Decision::NoAllow,
        Auth::AwsIam(Some(policy)) => policy.evaluate(request),
    };
    let (n, s) = (level(network), level(service));
    // Any explicit Deny wins over any Allow.
    if n == Decision::ExplicitDeny {
        return Verdict::Denied {
            scope: Scope::Network,
            explicit: true,
        };
    }
    if s == Decision::ExplicitDeny {
        return Verdict::Denied {
            scope: Scope::Service,
            explicit: true,
        };
    }
    if n != Decision::Allow {
        return Verdict::Denied {
            scope: Scope::Network,
            explicit: false,
        };
    }
    if s != Decision::Allow {
        return Verdict::Denied {
            scope: Scope::Service,
            explicit: false,
        };
    }
    Verdict::Allowed
}

impl Verdict {
    /// The body of Lattice's 403, naming the caller, the resource and the policy:
    /// `AccessDeniedException: User: anonymous is not authorized to perform: … because no
    /// service-based policy allows the vpc-lattice-svcs:Invoke action`.
    pub fn message(&self, request: &Request<'_>) -> Option<String> {
        let Verdict::Denied { scope, explicit } = self else {
            return None;
        };
        let user = request.principal.map_or("anonymous", |p| p.arn.as_str());
        let based = match scope {
            Scope::Network => "network-based",
            Scope::Service => "service-based",
        };
        let why = match explicit {
            true => format!("with an explicit deny in a {based} policy"),
            false => format!("because no {based} policy allows the {INVOKE} action"),
        };
        Some(format!(
            "AccessDeniedException: User: {user} is not authorized to perform: {INVOKE} on resource: {} {why}",
            request.resource
        ))
    }
}
