//! The Prometheus registry and the metrics the HTTP layer records.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels as ordered key/value pairs (`route`, `status`).
pub type Labels = Vec<(&'static str, String)>;

/// Everything `/metrics` shows. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<Labels, Counter>,
    pub http_duration: Family<Labels, Histogram>,
    pub time_to_first_token: Histogram,
    pub generation_tokens_per_second: Histogram,
    pub rate_limited: Counter,
    pub auth_failures: Counter,
    pub overloaded: Counter,
    pub thermal_throttled: Gauge<i64, AtomicI64>,
    pub thermal_episodes: Counter,
}

fn http_histogram() -> Histogram {
    // 5 ms .. ~164 s: covers probes as well as long generations on a Pi.
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

impl Metrics {
    /// The registry with the HTTP metrics; add collectors with [`Metrics::register_collector`].
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edgellm");
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
            time_to_first_token: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            generation_tokens_per_second: Histogram::new(exponential_buckets(0.5, 2.0, 10)),
            rate_limited: Counter::default(),
            auth_failures: Counter::default(),
            overloaded: Counter::default(),
            thermal_throttled: Gauge::default(),
            thermal_episodes: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request duration by route",
            m.http_duration.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Queue wait plus prompt processing until the first generated token",
            m.time_to_first_token.clone(),
        );
        registry.register(
            "generation_tokens_per_second",
            "Generation speed of each finished request",
            m.generation_tokens_per_second.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by the per-IP rate limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests refused for a missing or wrong API key",
            m.auth_failures.clone(),
        );
        registry.register(
            "overloaded",
            "Requests refused because the queue was full",
            m.overloaded.clone(),
        );
        registry.register(
            "thermal_throttled",
            "1 while the thermal guard refuses new work",
            m.thermal_throttled.clone(),
        );
        registry.register(
            "thermal_episodes",
            "Times the device went over the thermal limit",
            m.thermal_episodes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Add a scrape-time collector.
    pub fn register_collector(
        &mut self,
        collector: Box<dyn prometheus_client::collector::Collector>,
    ) {
        self.registry.register_collector(collector);
    }

    /// Count one finished HTTP request.
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.http_duration
            .get_or_create(&vec![("route", route.to_owned())])
            .observe(seconds);
    }

    /// OpenMetrics text, as prometheus-client writes it (ends in `# EOF`).
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// Prometheus text format 0.0.4, which every scraper and `promtool check metrics` reads.
    pub fn render(&self) -> String {
        to_prometheus_text(&self.render_openmetrics())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// OpenMetrics names a counter family without `_total` in `# HELP`/`# TYPE`; the older
/// Prometheus text format names it with the suffix and has no `# EOF` or `# UNIT`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Shared handle.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.observe_request("/v1/chat/completions", 200, 0.5);
        m.observe_request("/v1/chat/completions", 200, 0.7);
        let text = m.render();
        assert!(
            text.contains(
                r#"edgellm_http_requests_total{route="/v1/chat/completions",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "edgellm_http_request_duration_seconds_count{route=\"/v1/chat/completions\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE edgellm_http_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP edgellm_http_requests_total HTTP requests"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }
}
