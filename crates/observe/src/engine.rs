//! Engine counters, read from the backend at scrape time.

use std::sync::Arc;

use edgellm_backend::Backend;
use prometheus_client::collector::Collector;

use crate::fn_gauge::{const_counter, const_gauge};
use prometheus_client::encoding::DescriptorEncoder;

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

impl Collector for EngineCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.backend.stats();
        const_counter(
            &mut enc,
            "engine_requests",
            "Requests a slot started",
            s.requests_total,
        )?;
        const_counter(
            &mut enc,
            "prompt_tokens",
            "Prompt tokens of started requests",
            s.prompt_tokens_total,
        )?;
        const_counter(
            &mut enc,
            "prompt_tokens_reused",
            "Prompt tokens served from a slot's KV cache (prefix reuse) instead of being processed",
            s.prompt_tokens_reused_total,
        )?;
        const_counter(
            &mut enc,
            "prompt_tokens_processed",
            "Prompt tokens decoded (not reused from cache, not skipped by a cancellation)",
            s.prompt_tokens_processed_total,
        )?;
        const_counter(
            &mut enc,
            "generated_tokens",
            "Tokens generated",
            s.generated_tokens_total,
        )?;
        const_counter(
            &mut enc,
            "spec_drafted_tokens",
            "Tokens drafted by speculative decoding (prompt lookup) and decoded to be checked",
            s.spec_drafted_tokens_total,
        )?;
        const_counter(
            &mut enc,
            "spec_accepted_tokens",
            "Drafted tokens that matched what the model sampled, kept without a step of their own",
            s.spec_accepted_tokens_total,
        )?;
        const_counter(
            &mut enc,
            "requests_cancelled",
            "Requests stopped because the client left (queued or running)",
            s.cancelled_total,
        )?;
        const_counter(
            &mut enc,
            "loops_stopped",
            "Answers ended with finish reason length because they kept repeating the same tokens (--loop-guard)",
            s.loops_stopped_total,
        )?;
        const_gauge(
            &mut enc,
            "queue_depth",
            "Requests waiting for a slot",
            s.queue_depth as f64,
        )?;
        const_gauge(
            &mut enc,
            "slots_busy",
            "Slots generating or reading a prompt",
            s.slots_busy as f64,
        )?;
        const_gauge(
            &mut enc,
            "slots",
            "Slots (--parallel)",
            s.slots_total as f64,
        )?;
        const_gauge(
            &mut enc,
            "kv_cache_tokens",
            "Tokens held in the KV cache across slots (kept for prefix reuse)",
            s.kv_cache_tokens as f64,
        )?;
        const_gauge(
            &mut enc,
            "model_loaded",
            "1 once the model is loaded",
            f64::from(u8::from(self.backend.model().is_some())),
        )?;
        if let Some(secs) = (self.load_seconds)() {
            const_gauge(
                &mut enc,
                "model_load_seconds",
                "Time it took to load the model",
                secs,
            )?;
        }
        Ok(())
    }
}
