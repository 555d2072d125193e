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
            const_gauge(&mut enc, self.name, self.help, v)?;
        }
        Ok(())
    }
}

/// Encode one constant counter during a scrape.
pub(crate) fn const_counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = prometheus_client::metrics::counter::ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

/// Encode one constant gauge during a scrape.
pub(crate) fn const_gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}
