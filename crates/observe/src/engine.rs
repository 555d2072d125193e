//! Engine counters, read from the backend at scrape time.

use std::sync::Arc;

use edgellm_backend::{Backend, SeriesKind};
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
        for series in self.backend.stats().series() {
            match series.kind {
                SeriesKind::Counter => {
                    const_counter(&mut enc, series.name, series.help, series.value)?
                }
                SeriesKind::Gauge => {
                    const_gauge(&mut enc, series.name, series.help, series.value as f64)?
                }
            }
        }
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
