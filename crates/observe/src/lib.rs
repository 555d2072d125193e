//! Observing the appliance.
//!
//! - [`metrics`]: [`Metrics`], the Prometheus registry the HTTP layer records into and
//!   `/metrics` renders.
//! - [`engine`]: engine counters (tokens, prefix reuse, queue, slots), read at scrape time.
//! - [`system`]: process RSS, available memory, CPU use, every temperature sensor and the
//!   Raspberry Pi firmware's throttling flags: one `sysinfo` reader for `/metrics`,
//!   `/status` and the history, refreshed at most once a second.
//! - [`fn_gauge`]: a gauge computed at scrape time from a closure.
//! - [`history`]: the last hour of temperature, tokens/s and memory, for the status page.
//! - [`thermal`]: the thermal guard that stops admitting work when the device is too hot.
#![forbid(unsafe_code)]

pub mod engine;
pub mod fn_gauge;
pub mod history;
pub mod metrics;
pub mod system;
pub mod thermal;

pub use fn_gauge::{FnGauge, FnInfo};
pub use history::{History, Sample};
pub use metrics::Metrics;
pub use system::{DeviceReader, Snapshot};
pub use thermal::{ThermalConfig, ThermalGuard};
