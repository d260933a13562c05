//! What the pipeline is seen through, without being part of it: the access log and the request
//! counters and latencies of every listener.

pub mod access_log;
pub mod lattice_log;
pub mod logged;
pub mod metrics;
