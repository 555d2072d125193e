//! A gauge whose value is computed at scrape time (e.g. seconds until a certificate expires).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// `None` from the closure leaves the metric out of that scrape.
pub struct FnGauge {
    name: &'static str,
    help: &'static str,
    value: Box<dyn Fn() -> Option<f64> + Send + Sync>,
}

impl FnGauge {
    pub fn new(
        name: &'static str,
        help: &'static str,
        value: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            value: Box::new(value),
        }
    }
}

impl std::fmt::Debug for FnGauge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnGauge({})", self.name)
    }
}

impl Collector for FnGauge {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(v) = (self.value)() {
            let g = ConstGauge::new(v);
            g.encode(enc.encode_descriptor(self.name, self.help, None, g.metric_type())?)?;
        }
        Ok(())
    }
}
