//! Prometheus metrics, as imagor exports them: the histogram
//! `<namespace>_http_request_duration_seconds{code,method}` of every
//! request, served on `-prometheus-bind` at `-prometheus-path`; plus
//! `<namespace>_processed_total`, the images this process processed (not
//! imagor's: it shows result-storage hits shared across replicas).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, Opts, Registry, TextEncoder};

/// The registry and the request histogram.
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    processed: IntCounter,
    path: String,
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
        let processed = IntCounter::with_opts(
            Opts::new(
                "processed_total",
                "Images processed (result-storage hits and raw responses excluded)",
            )
            .namespace(namespace.to_owned()),
        )?;
        registry.register(Box::new(processed.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            processed,
            path: path.to_owned(),
        })
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
        let total = crate::serve::processed_total();
        self.processed
            .inc_by(total.saturating_sub(self.processed.get()));
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
