//! A rule's steps: the gRPC error mapping, CORS, and its action.

use super::cors::Cors;
use super::fixed::Fixed;
use super::forward::Forward;
use super::grpc::GrpcErrors;
use super::lattice_auth::LatticeAuth;
use super::redirect::{AlbRedirect, RouteRedirect};
use super::step::{inward, outward, step_enum, Exchange, ListenerFacts, Timeouts};
use crate::message::answer;
use crate::message::Body;
use crate::upstream::balance::TargetGroupRuntime;
use http::Response;
use pylon_ir::lattice::RuleAuth;
use pylon_ir::{Action, Filter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A rule's steps, in order.
#[derive(Debug)]
pub struct Pipeline {
    steps: Box<[RuleStep]>,
    action: RuleAction,
    request_timeout: Option<Duration>,
}

impl Pipeline {
    /// The steps of a rule with these filters, action and timeouts (in milliseconds).
    pub fn compile(
        filters: &[Filter],
        action: &Action,
        timeouts: Timeouts,
        auth: Option<&RuleAuth>,
        listener: &ListenerFacts,
        groups: &HashMap<String, Arc<TargetGroupRuntime>>,
    ) -> Self {
        let mut steps = vec![RuleStep::Grpc(GrpcErrors)];
        // Lattice's auth decides before anything else of the rule sees the request.
        steps.extend(
            auth.map(|a| LatticeAuth::compile(a, listener))
                .map(Box::new)
                .map(RuleStep::LatticeAuth),
        );
        steps.extend(filters.iter().find_map(Cors::compile).map(RuleStep::Cors));
        let action = match action {
            Action::Forward {
                target_groups,
                unusable_weight,
            } => RuleAction::Forward(Forward::compile(
                target_groups,
                *unusable_weight,
                filters,
                timeouts.backend,
                listener,
                groups,
            )),
            Action::FixedResponse {
                status_code,
                content_type,
                message_body,
            } => RuleAction::Fixed(Fixed::new(*status_code, content_type, message_body)),
            Action::Redirect { .. } => RuleAction::Redirect(AlbRedirect::compile(action, listener)),
            Action::RouteRedirect { .. } => {
                RuleAction::RouteRedirect(RouteRedirect::compile(action, listener))
            }
        };
        Pipeline {
            steps: steps.into(),
            action,
            request_timeout: timeouts.request,
        }
    }

    /// The request through the rule's steps and its action, and the response back.
    pub async fn run<'a>(&'a self, exchange: &mut Exchange<'a>) -> Response<Body> {
        let mut seen = 0;
        let response = match self.request_timeout {
            None => inward(&self.steps, &self.action, exchange, &mut seen).await,
            Some(limit) => {
                let answered = inward(&self.steps, &self.action, exchange, &mut seen);
                tokio::time::timeout(limit, answered)
                    .await
                    .unwrap_or_else(|_| answer::error(504, b"504 Gateway Timeout\n"))
            }
        };
        outward(&self.steps, &self.action, seen, exchange, response)
    }
}

step_enum! {
    /// The steps a rule may have before its action.
    enum RuleStep {
        Grpc(GrpcErrors),
        LatticeAuth(Box<LatticeAuth>),
        Cors(Cors),
    }
}

step_enum! {
    /// What ends a rule's steps: an action, which always answers.
    enum RuleAction {
        Fixed(Fixed),
        Redirect(AlbRedirect),
        RouteRedirect(RouteRedirect),
        Forward(Forward),
    }
}
