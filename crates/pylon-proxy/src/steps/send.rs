//! The last step of a forward: the request to a target of the backend's group, and a target's
//! failure as the status an ALB answers with (502, 503, 504).

use super::step::{Exchange, Flow, Step};
use crate::message::{answer, Body};
use crate::upstream::balance::TargetGroupRuntime;
use crate::upstream::Failure;
use http::Request;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub struct Send {
    pub group: Arc<TargetGroupRuntime>,
    /// How long each attempt may take.
    pub limit: Duration,
}

impl Step for Send {
    async fn request<'a>(&'a self, exchange: &mut Exchange<'a>) -> Flow {
        let request = std::mem::replace(&mut exchange.request, Request::new(Body::default()));
        let group = &self.group;
        Flow::Answer(
            match exchange.clients.send(group, request, self.limit).await {
                Ok((target, response)) => {
                    exchange.upstream = Some((&group.id, target));
                    response
                }
                Err(Failure::NoTarget) => {
                    answer::error(503, b"503 Service Unavailable: no targets\n")
                }
                Err(Failure::InvalidPath) => answer::error(400, b"400 Bad Request\n"),
                Err(Failure::Failed(target, e)) => {
                    tracing::warn!(%target, target_group = %group.id, error = %e, "target failed");
                    answer::error(502, b"502 Bad Gateway\n")
                }
                Err(Failure::ClientBody(e)) => {
                    // The client's body was malformed or cut short: a 400 for it, not a target
                    // failure, and its connection is not reused (the framing is lost).
                    tracing::debug!(error = %e, "request body could not be read");
                    answer::refuse(b"400 Bad Request: malformed request body\n")
                }
                Err(Failure::Drained(target)) => {
                    tracing::info!(%target, target_group = %group.id, "request cut: the target was deregistered and its delay is over");
                    answer::error(502, b"502 Bad Gateway\n")
                }
                Err(Failure::Timeout(target)) => {
                    tracing::warn!(%target, target_group = %group.id, "target timed out");
                    answer::error(504, b"504 Gateway Timeout\n")
                }
            },
        )
    }
}
