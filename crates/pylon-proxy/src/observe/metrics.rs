//! Prometheus metrics: requests and their latency per listener, open connections, target health
//! and the configuration generation, in the text exposition format.
//!
//! Counters live in atomics on the request path; a listener's counters are kept by listener id
//! across configuration swaps, so a reload does not reset them.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// One listener's request counters.
#[derive(Debug, Default)]
pub struct ListenerMetrics {
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    responses: [AtomicU64; 5],
    /// Requests whose latency fell at or under each bucket's bound (not cumulative here).
    buckets: [AtomicU64; BUCKETS.len()],
    latency_micros: AtomicU64,
}

impl ListenerMetrics {
    /// Counts one answered request: its status and the time until its response headers.
    pub fn record(&self, status: u16, latency: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn write(&self, out: &mut String, listener: &str) {
        let count: u64 = self
            .responses
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "pylon_requests_total{{listener=\"{listener}\",code=\"{}xx\"}} {}",
                i + 1,
                c.load(Ordering::Relaxed)
            );
        }
        let mut cumulative = 0;
        for (bound, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "pylon_request_duration_seconds_bucket{{listener=\"{listener}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "pylon_request_duration_seconds_bucket{{listener=\"{listener}\",le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "pylon_request_duration_seconds_sum{{listener=\"{listener}\"}} {sum}"
        );
        let _ = writeln!(
            out,
            "pylon_request_duration_seconds_count{{listener=\"{listener}\"}} {count}"
        );
    }
}

/// Every listener's counters, by listener id, and the configuration generation.
#[derive(Default)]
pub struct Metrics {
    listeners: Mutex<HashMap<String, Arc<ListenerMetrics>>>,
    generation: AtomicU64,
}

impl Metrics {
    /// The counters of listener `id`, created on first use and kept across swaps.
    pub fn listener(&self, id: &str) -> Arc<ListenerMetrics> {
        let mut listeners = self.listeners.lock().expect("metrics lock");
        listeners.entry(id.to_string()).or_default().clone()
    }

    /// Forgets listeners that are gone and counts one more configuration applied.
    pub fn applied(&self, live: &[String]) {
        let mut listeners = self.listeners.lock().expect("metrics lock");
        listeners.retain(|id, _| live.contains(id));
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The request metrics and the generation, in the text format.
    pub fn write(&self, out: &mut String) {
        let listeners = self.listeners.lock().expect("metrics lock");
        let mut ids: Vec<&String> = listeners.keys().collect();
        ids.sort();
        out.push_str("# HELP pylon_requests_total Requests answered, by listener and status class.\n# TYPE pylon_requests_total counter\n");
        out.push_str("# HELP pylon_request_duration_seconds Time from request to response headers, by listener.\n# TYPE pylon_request_duration_seconds histogram\n");
        for id in ids {
            listeners[id].write(out, id);
        }
        let _ = writeln!(
            out,
            "# HELP pylon_config_generation Configurations applied since start.\n# TYPE pylon_config_generation gauge\npylon_config_generation {}",
            self.generation.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_classes_count() {
        let m = ListenerMetrics::default();
        m.record(200, Duration::from_micros(300));
        m.record(204, Duration::from_millis(3));
        m.record(503, Duration::from_secs(10));
        let mut out = String::new();
        m.write(&mut out, "l");
        assert!(out.contains("pylon_requests_total{listener=\"l\",code=\"2xx\"} 2\n"));
        assert!(out.contains("pylon_requests_total{listener=\"l\",code=\"5xx\"} 1\n"));
        assert!(out.contains("le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("le=\"5\"} 2\n"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("pylon_request_duration_seconds_count{listener=\"l\"} 3\n"));
    }
}
