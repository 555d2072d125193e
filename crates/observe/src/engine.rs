//! Engine counters, read from the backend at scrape time.

use std::sync::Arc;

use edgellm_backend::Backend;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Exposes [`edgellm_backend::EngineStats`] and the model load time.
pub struct EngineCollector {
    backend: Arc<dyn Backend>,
    load_seconds: Arc<dyn Fn() -> Option<f64> + Send + Sync>,
}

impl std::fmt::Debug for EngineCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineCollector")
    }
}

impl EngineCollector {
    pub fn new(
        backend: Arc<dyn Backend>,
        load_seconds: Arc<dyn Fn() -> Option<f64> + Send + Sync>,
    ) -> Self {
        Self {
            backend,
            load_seconds,
        }
    }
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for EngineCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.backend.stats();
        counter(
            &mut enc,
            "engine_requests",
            "Requests a slot started",
            s.requests_total,
        )?;
        counter(
            &mut enc,
            "prompt_tokens",
            "Prompt tokens of started requests",
            s.prompt_tokens_total,
        )?;
        counter(
            &mut enc,
            "prompt_tokens_reused",
            "Prompt tokens served from a slot's KV cache (prefix reuse) instead of being processed",
            s.prompt_tokens_reused_total,
        )?;
        counter(
            &mut enc,
            "prompt_tokens_processed",
            "Prompt tokens decoded (not reused from cache, not skipped by a cancellation)",
            s.prompt_tokens_processed_total,
        )?;
        counter(
            &mut enc,
            "generated_tokens",
            "Tokens generated",
            s.generated_tokens_total,
        )?;
        counter(
            &mut enc,
            "requests_cancelled",
            "Requests stopped because the client left (queued or running)",
            s.cancelled_total,
        )?;
        gauge(
            &mut enc,
            "queue_depth",
            "Requests waiting for a slot",
            s.queue_depth as f64,
        )?;
        gauge(
            &mut enc,
            "slots_busy",
            "Slots generating or reading a prompt",
            s.slots_busy as f64,
        )?;
        gauge(
            &mut enc,
            "slots",
            "Slots (--parallel)",
            s.slots_total as f64,
        )?;
        gauge(
            &mut enc,
            "model_loaded",
            "1 once the model is loaded",
            f64::from(u8::from(self.backend.model().is_some())),
        )?;
        if let Some(secs) = (self.load_seconds)() {
            gauge(
                &mut enc,
                "model_load_seconds",
                "Time it took to load the model",
                secs,
            )?;
        }
        Ok(())
    }
}
