//! Pylon's built-in L7 load balancer. [`Proxy::apply`] makes an [`Ir`](pylon_ir::Ir) real: each
//! HTTP listener bound on its load balancer's address and port, rules evaluated in priority order,
//! round robin over healthy targets with active health checks.
//!
//! A new configuration swaps in atomically: every listener's compiled rules sit behind an
//! `ArcSwap`, so in-flight requests finish on the configuration they started with, unchanged
//! listeners are never rebound, and a listener that cannot bind is reported while the others
//! keep serving.

mod access_log;
mod balance;
mod filters;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod grpc;
mod h1_client;
mod h1_head;
mod h1_server;
mod h2_client;
mod health;
mod hop_by_hop;
mod hyper_server;
mod idle;
mod listener;
mod metrics;
mod pattern;
mod request_head;
mod route;
mod tls;
mod upstream;

/// The most header bytes Pylon reads in one request or response head, from clients and from
/// targets alike, over HTTP/1.1 and HTTP/2.
const MAX_HEAD_BYTES: usize = 64 * 1024;

pub use access_log::AccessLog;
pub use health::{HealthReport, HealthState};
pub use listener::{ApplyReport, ListenerState, Proxy, ProxyOptions};
