//! Metrics whose values are computed at scrape time (seconds until a certificate expires,
//! counts kept by another crate), and the encoders the collectors share.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// `None` from the closure leaves the metric out of that scrape.
pub struct FnGauge {
    name: &'static str,
    help: &'static str,
    counter: bool,
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
            counter: false,
            value: Box::new(value),
        }
    }

    /// A monotonic count kept elsewhere, exported as a counter.
    pub fn counter(
        name: &'static str,
        help: &'static str,
        value: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            counter: true,
            value: Box::new(move || Some(value() as f64)),
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
        match (self.value)() {
            Some(v) if self.counter => const_counter(&mut enc, self.name, self.help, v as u64)?,
            Some(v) => const_gauge(&mut enc, self.name, self.help, v)?,
            None => {}
        }
        Ok(())
    }
}

/// Label pairs, computed at scrape time.
type Labels = Box<dyn Fn() -> Option<Vec<(String, String)>> + Send + Sync>;

/// An info metric: the value 1 with labels computed at scrape time (`None` leaves it out),
/// e.g. `edgellm_cpu_backend_info{backend="...",features="..."} 1`.
pub struct FnInfo {
    name: &'static str,
    help: &'static str,
    labels: Labels,
}

impl FnInfo {
    pub fn new(
        name: &'static str,
        help: &'static str,
        labels: impl Fn() -> Option<Vec<(String, String)>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            help,
            labels: Box::new(labels),
        }
    }
}

impl std::fmt::Debug for FnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnInfo({})", self.name)
    }
}

impl Collector for FnInfo {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(labels) = (self.labels)() {
            let g = ConstGauge::new(1i64);
            let mut metric = enc.encode_descriptor(self.name, self.help, None, g.metric_type())?;
            g.encode(metric.encode_family(&labels)?)?;
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
