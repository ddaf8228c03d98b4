//! Prometheus metrics: imagor's histogram
//! `<namespace>_http_request_duration_seconds{code,method}` of every
//! request, plus the figures of request handling ([`crate::Stats`]: images
//! processed, sources loaded, result-storage hits, coalesced and rejected
//! requests, processing slots in use and waited for), served on
//! `-prometheus-bind` at `-prometheus-path`.

use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntGauge, Opts, Registry, TextEncoder,
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
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::with_opts(opts(name, help))?;
            self.registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let in_flight = gauge("process_in_flight", "Requests holding a processing slot")?;
        let queued = gauge("process_queued", "Requests waiting for a processing slot")?;
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
        });
        Ok(self)
    }

    /// Record one request.
    pub fn observe(&self, status: u16, method: &str, seconds: f64) {
        self.requests
            .with_label_values(&[&status.to_string(), &method.to_ascii_lowercase()])
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
        *last = now;
    }
}
