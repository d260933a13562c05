//! Pylon's built-in L7 load balancer. [`Proxy::apply`] makes an [`Ir`](pylon_ir::Ir) real: each
//! HTTP listener bound on its load balancer's address and port, rules evaluated in priority order,
//! round robin over healthy targets with active health checks.
//!
//! A request goes one way through four layers, each knowing only the ones below it:
//! - [`accept`] — sockets, listeners and their swaps, TLS and SNI, the own HTTP/1.1 server and
//!   hyper's, connection limits and timeouts; each request's head checked, then routed;
//! - [`route`] — a listener's compiled rules: conditions, patterns, priorities;
//! - [`steps`] — what happens to the request between routing and the upstream, as the ordered
//!   steps compiled for its rule (fixed responses, redirects, filters, CORS, mirrors, forwarding
//!   headers, the gRPC error mapping);
//! - [`upstream`] — target groups at run time: balancing, health checks, ejection, connection
//!   pools, the HTTP/1.1 and HTTP/2 clients, retries and draining.
//!
//! Beneath them, [`message`] holds the bodies, errors and answers all of them share, and
//! [`observe`] the access log and the counters that watch the pipeline from outside.
//!
//! A new configuration swaps in atomically: every listener's compiled rules sit behind an
//! `ArcSwap`, so in-flight requests finish on the configuration they started with, unchanged
//! listeners are never rebound, and a listener that cannot bind is reported while the others
//! keep serving.

mod accept;
#[doc(hidden)]
pub mod fuzzing;
mod message;
mod observe;
mod route;
mod steps;
mod upstream;

pub use accept::{ApplyReport, ListenerState, Proxy, ProxyOptions};
pub use observe::access_log::AccessLog;
pub use upstream::health::{HealthReport, HealthState};
