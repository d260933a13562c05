//! What happens to one request between routing and the upstream: an ordered list of steps,
//! compiled once per rule when a configuration is applied, never per request.
//!
//! A step sees the request on its way in and may rewrite it, answer it itself (a fixed response,
//! a redirect, a refusal) or pass it on; on the way back, every step that passed the request on
//! sees the response, in reverse order, and may rewrite or replace it. A rule's steps are the
//! gRPC error mapping, CORS and its action: a fixed response, a redirect, or [`Forward`], which
//! picks a backend and runs that backend's own steps — the rule's and the backend's header and
//! URL filters, hop-by-hop fields, the forwarding headers, mirrors — ending at the upstream.

mod backend;
mod cors;
mod fixed;
mod forward;
mod forwarded;
mod grpc;
mod headers;
mod hop;
mod lattice_auth;
mod mirror;
mod redirect;
mod rewrite;
mod rule;
mod send;
mod step;
#[cfg(test)]
mod tests;

pub use lattice_auth::keyring;
pub use rule::Pipeline;
pub use step::{Exchange, ListenerFacts, Timeouts};
