//! Prometheus metrics: imagor's histogram
//! `<namespace>_http_request_duration_seconds{code,method}` of every
//! request, plus the figures of request handling ([`crate::Stats`]: images
//! processed, sources loaded, result-storage hits, coalesced and rejected
//! requests, processing slots in use and waited for; the HTTP loader's
//! fetches, bytes and failures by class), served on
//! `-prometheus-bind` at `-prometheus-path`.

use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::Stats;

/// Where the figures come from at each scrape.
pub type StatsSource = Arc<dyn Fn() -> Stats + Send + Sync>;

/// The registry, the request histogram and the request-handling figures.
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    figures: Option<Figures>,
    path: String,
}

/// Counters and gauges refreshed from a [`StatsSource`] at each scrape.
struct Figures {
    source: StatsSource,
    last: Mutex<Stats>,
    processed: IntCounter,
    loaded: IntCounter,
    result_hits: IntCounter,
    coalesced: IntCounter,
    rejected: IntCounter,
    in_flight: IntGauge,
    queued: IntGauge,
    working: IntGauge,
    slot_waiting: IntGauge,
    following: IntGauge,
    memory_reserved: IntGauge,
    memory_refused: IntCounter,
    http_fetches: IntCounter,
    http_bytes: IntCounter,
    http_streamed: IntCounter,
    /// By `class`: the [`crate::loader::http::HttpLoaderStats`] failure
    /// fields.
    http_errors: IntCounterVec,
}

/// The `method` label of a request: the standard methods lower-cased (as
/// Go's `promhttp` writes them), any other `unknown` (as `promhttp` does
/// since client_golang 1.15). The method is the client's text: labelled
/// as sent, every distinct one was a series kept for ever, so 400 requests
/// with 500 KB methods held 200 MB and made one scrape 2.8 GB.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "get", "head", "post", "put", "delete", "connect", "options", "trace", "patch",
    ];
    KNOWN
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("unknown")
}

/// The failure classes of the HTTP loader, as `class` label values.
const HTTP_ERROR_CLASSES: [&str; 7] = [
    "blocked",
    "not_allowed",
    "too_large",
    "timeout",
    "not_found",
    "failed",
    "cancelled",
];

/// The failure counts of `s` in [`HTTP_ERROR_CLASSES`] order.
fn http_errors(s: &crate::loader::http::HttpLoaderStats) -> [u64; 7] {
    [
        s.blocked,
        s.not_allowed,
        s.too_large,
        s.timeouts,
        s.not_found,
        s.failed,
        s.cancelled,
    ]
}

impl Metrics {
    /// Metrics named with `namespace` (`imagor` by default; empty: no
    /// prefix), served at `path` (`""` or `/`: every path).
    pub fn new(namespace: &str, path: &str) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let opts = HistogramOpts::new(
            "http_request_duration_seconds",
            "A histogram of latencies for requests",
        )
        .namespace(namespace.to_owned());
        let requests = HistogramVec::new(opts, &["code", "method"])?;
        registry.register(Box::new(requests.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            figures: None,
            path: path.to_owned(),
        })
    }

    /// Also export the figures of `source` (read at each scrape).
    pub fn with_stats(mut self, namespace: &str, source: StatsSource) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(namespace.to_owned());
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::with_opts(opts(name, help))?;
            self.registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let processed = counter("processed_total", "Images processed")?;
        let loaded = counter("loaded_total", "Source images loaded")?;
        let result_hits = counter(
            "result_storage_hits_total",
            "Results served from a result storage without processing",
        )?;
        let coalesced = counter(
            "coalesced_requests_total",
            "Requests that shared an identical request's work",
        )?;
        let rejected = counter(
            "rejected_requests_total",
            "Requests answered 429 because the processing queue was full",
        )?;
        let memory_refused = counter(
            "memory_refused_total",
            "Calls answered 429 because the others held all of max_total_memory",
        )?;
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::with_opts(opts(name, help))?;
            self.registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let in_flight = gauge("process_in_flight", "Requests holding a processing slot")?;
        let queued = gauge("process_queued", "Requests waiting for a processing slot")?;
        let working = gauge(
            "process_working",
            "Requests doing pixel work in one of the processing slots (-imagor-process-slots)",
        )?;
        let slot_waiting = gauge(
            "process_slot_waiting",
            "Requests waiting for one of the processing slots (-imagor-process-slots)",
        )?;
        let following = gauge(
            "coalesced_waiting",
            "Requests waiting for an identical request's work",
        )?;
        let memory_reserved = gauge(
            "memory_reserved_bytes",
            "Memory the calls in progress and the answers being sent hold against max_total_memory (estimated)",
        )?;
        let http_fetches = counter(
            "http_loader_fetches_total",
            "Loads the HTTP loader sent towards an origin",
        )?;
        let http_bytes = counter(
            "http_loader_bytes_total",
            "Body bytes the HTTP loader received",
        )?;
        let http_streamed = counter(
            "http_loader_streamed_total",
            "HTTP loads whose body was decoded while it arrived",
        )?;
        let http_errors = IntCounterVec::new(
            opts(
                "http_loader_errors_total",
                "HTTP loader loads that failed, by class (blocked: address policy; \
                 not_allowed: allowed sources; too_large; timeout; not_found; failed; \
                 cancelled: given up by the request)",
            ),
            &["class"],
        )?;
        self.registry.register(Box::new(http_errors.clone()))?;
        for class in HTTP_ERROR_CLASSES {
            http_errors.with_label_values(&[class]);
        }
        self.figures = Some(Figures {
            source,
            last: Mutex::new(Stats::default()),
            processed,
            loaded,
            result_hits,
            coalesced,
            rejected,
            in_flight,
            queued,
            working,
            slot_waiting,
            following,
            memory_reserved,
            memory_refused,
            http_fetches,
            http_bytes,
            http_streamed,
            http_errors,
        });
        Ok(self)
    }

    /// Record one request.
    pub fn observe(&self, status: u16, method: &str, seconds: f64) {
        self.requests
            .with_label_values(&[&status.to_string(), method_label(method)])
            .observe(seconds);
    }

    /// The answer of the metrics listener for `path`: the text exposition,
    /// or (with a specific metrics path) a 308 to it.
    pub fn respond(&self, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let at = self.path.as_str();
        if !(at.is_empty() || at == "/" || path == at) {
            return (308, vec![("Location".into(), at.to_owned())], Vec::new());
        }
        if let Some(f) = &self.figures {
            f.refresh();
        }
        let mut body = Vec::new();
        let encoder = TextEncoder::new();
        let _ = encoder.encode(&self.registry.gather(), &mut body);
        (
            200,
            vec![("Content-Type".into(), encoder.format_type().to_owned())],
            body,
        )
    }
}

impl Figures {
    /// Bring the counters up to the source's totals and set the gauges.
    fn refresh(&self) {
        let now = (self.source)();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let add = |c: &IntCounter, new: u64, old: u64| c.inc_by(new.saturating_sub(old));
        add(&self.processed, now.processed, last.processed);
        add(&self.loaded, now.loaded, last.loaded);
        add(&self.result_hits, now.result_hits, last.result_hits);
        add(&self.coalesced, now.coalesced, last.coalesced);
        add(&self.rejected, now.rejected, last.rejected);
        self.in_flight
            .set(now.in_flight.min(i64::MAX as u64) as i64);
        self.queued.set(now.queued.min(i64::MAX as u64) as i64);
        self.working.set(now.working.min(i64::MAX as u64) as i64);
        self.slot_waiting
            .set(now.slot_waiting.min(i64::MAX as u64) as i64);
        self.following
            .set(now.following.min(i64::MAX as u64) as i64);
        self.memory_reserved
            .set(now.memory_reserved.min(i64::MAX as u64) as i64);
        add(
            &self.memory_refused,
            now.memory_refused,
            last.memory_refused,
        );
        add(&self.http_fetches, now.http.fetches, last.http.fetches);
        add(&self.http_bytes, now.http.bytes, last.http.bytes);
        add(&self.http_streamed, now.http.streamed, last.http.streamed);
        let (new, old) = (http_errors(&now.http), http_errors(&last.http));
        for (i, class) in HTTP_ERROR_CLASSES.iter().enumerate() {
            add(
                &self.http_errors.with_label_values(&[class]),
                new[i],
                old[i],
            );
        }
        *last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_methods_do_not_grow_the_series() {
        let m = Metrics::new("imagor", "/").expect("metrics");
        m.observe(200, "GET", 0.01);
        m.observe(405, "Delete", 0.01);
        for i in 0..1000 {
            m.observe(405, &format!("X{i}{}", "A".repeat(1000)), 0.01);
        }
        let (_, _, body) = m.respond("/");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("method=\"get\""));
        assert!(text.contains("method=\"delete\""));
        assert!(text.contains("method=\"unknown\""));
        assert!(!text.contains("AAAA"));
        assert!(body.len() < 20_000, "{} bytes", body.len());
    }
}
