//! The step interface: the exchange a step sees, what it may do with it, and how a list of steps
//! runs.

use crate::message::{answer, Body, Client};
use crate::upstream::Clients;
use http::{Extensions, Request, Response};
use pylon_ir::Protocol;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One request on its way through the steps.
pub struct Exchange<'a> {
    pub request: Request<Body>,
    pub client: &'a Client,
    /// The request's host, lowercased and without port.
    pub host: &'a str,
    pub clients: &'a Arc<Clients>,
    /// What steps note for themselves (or for later steps) about this request, by type.
    pub notes: Extensions,
    /// The target group and target that answered, for the access log.
    pub upstream: Option<(&'a str, SocketAddr)>,
    /// The client's side of an HTTP/1.1 upgrade, taken before the request leaves.
    pub client_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl<'a> Exchange<'a> {
    pub fn new(
        request: Request<Body>,
        client: &'a Client,
        host: &'a str,
        clients: &'a Arc<Clients>,
    ) -> Self {
        Exchange {
            request,
            client,
            host,
            clients,
            notes: Extensions::new(),
            upstream: None,
            client_upgrade: None,
        }
    }
}

/// What a step does with a request.
pub enum Flow {
    /// Passes it on to the next step.
    Next,
    /// Answers it: no later step sees the request.
    Answer(Response<Body>),
}

/// One job on the request path.
pub trait Step {
    /// The request on its way in.
    fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> impl Future<Output = Flow> + Send {
        let _ = exchange;
        std::future::ready(Flow::Next)
    }

    /// The response on its way out, for a step that passed the request on or answered it.
    fn response(&self, exchange: &mut Exchange<'_>, response: Response<Body>) -> Response<Body> {
        let _ = exchange;
        response
    }
}

/// The request through `steps` in order, then through `end` (which answers) unless a step
/// answered first. `seen` counts the steps that saw the request, `end` included, for
/// [`outward`]. Within `limit` when there is one (Gateway API `timeouts.request`), else 504.
pub async fn inward<'a, S: Step + Sync, E: Step + Sync>(
    steps: &'a [S],
    end: &'a E,
    exchange: &mut Exchange<'a>,
    seen: &mut usize,
) -> Response<Body> {
    for step in steps {
        let flow = step.request(exchange).await;
        *seen += 1;
        if let Flow::Answer(response) = flow {
            return response;
        }
    }
    let flow = end.request(exchange).await;
    *seen += 1;
    match flow {
        Flow::Answer(response) => response,
        // An end always answers; this is for one that does not.
        Flow::Next => answer::error(500, b"500 Internal Server Error\n"),
    }
}

/// The response back through the steps that saw the request (`seen` of them, from the first of
/// `steps`, then `end`), last first.
pub fn outward<S: Step, E: Step>(
    steps: &[S],
    end: &E,
    seen: usize,
    exchange: &mut Exchange<'_>,
    mut response: Response<Body>,
) -> Response<Body> {
    if seen > steps.len() {
        response = end.response(exchange, response);
    }
    for step in steps[..seen.min(steps.len())].iter().rev() {
        response = step.response(exchange, response);
    }
    response
}

/// The listener a rule belongs to, as its steps need it.
pub struct ListenerFacts {
    pub protocol: Protocol,
    pub port: u16,
    /// The load balancer's `idle_timeout.timeout_seconds`: how long a target may take.
    pub idle_timeout: Duration,
    /// The access keys of the configuration, which Lattice auth checks signatures against.
    pub keyring: Arc<pylon_iam::Keyring>,
}

/// A rule's timeouts; zero or none is no limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeouts {
    /// The whole exchange (Gateway API `timeouts.request`).
    pub request: Option<Duration>,
    /// Each attempt at a target (Gateway API `timeouts.backendRequest`).
    pub backend: Option<Duration>,
}

impl Timeouts {
    pub fn of(timeouts: &Option<pylon_ir::Timeouts>) -> Self {
        let limit = |pick: fn(&pylon_ir::Timeouts) -> Option<u64>| {
            timeouts
                .as_ref()
                .and_then(pick)
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
        };
        Timeouts {
            request: limit(|t| t.request_ms),
            backend: limit(|t| t.backend_request_ms),
        }
    }
}

/// An enum of step types that is itself a step, each call going to the variant's own step: a
/// list of steps of different types without a box or a virtual call per step.
macro_rules! step_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident($step:ty)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis enum $name {
            $($variant($step)),+
        }

        impl $crate::steps::step::Step for $name {
            async fn request<'a>(
                &'a self,
                exchange: &mut $crate::steps::step::Exchange<'a>,
            ) -> $crate::steps::step::Flow {
                match self {
                    $($name::$variant(s) => s.request(exchange).await),+
                }
            }

            fn response(
                &self,
                exchange: &mut $crate::steps::step::Exchange<'_>,
                response: http::Response<$crate::message::Body>,
            ) -> http::Response<$crate::message::Body> {
                match self {
                    $($name::$variant(s) => s.response(exchange, response)),+
                }
            }
        }
    };
}

pub(crate) use step_enum;
