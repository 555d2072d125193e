//! Device health from `sysinfo`, read at scrape time. A missing sensor is simply absent.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;

use crate::fn_gauge::const_gauge;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sysinfo::{Components, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Where the Raspberry Pi firmware reports under-voltage and throttling (hex bit flags).
const PI_THROTTLED: &str = "/sys/devices/platform/soc/soc:firmware/get_throttled";

/// Process memory, system memory, CPU use, temperatures, Pi throttling.
#[derive(Debug)]
pub struct SystemCollector {
    state: Mutex<(System, Components, Option<Instant>)>,
    pid: Option<Pid>,
}

/// Scrapes closer together than this reuse the last reading: `/metrics` and `/status` need
/// no key by default, and each refresh reads a dozen `/proc` and `/sys` files under the lock
/// on an async worker.
const MIN_REFRESH: Duration = Duration::from_secs(1);

impl SystemCollector {
    pub fn new() -> Self {
        Self {
            state: Mutex::new((System::new(), Components::new_with_refreshed_list(), None)),
            pid: sysinfo::get_current_pid().ok(),
        }
    }
}

impl Default for SystemCollector {
    fn default() -> Self {
        Self::new()
    }
}

/// The Raspberry Pi firmware's throttling bits, on a Pi.
pub fn pi_throttled_flags() -> Option<u64> {
    std::fs::read_to_string(PI_THROTTLED)
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
}

/// Sensor labels as Prometheus label values: lower case, spaces to underscores.
fn sensor_label(label: &str) -> String {
    label
        .trim()
        .to_lowercase()
        .replace(char::is_whitespace, "_")
}

impl Collector for SystemCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (sys, components, last) = &mut *guard;
        let fresh = last.is_some_and(|t| t.elapsed() < MIN_REFRESH);
        if !fresh {
            *last = Some(Instant::now());
            sys.refresh_memory();
            sys.refresh_cpu_usage();
            if let Some(pid) = self.pid {
                sys.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&[pid]),
                    true,
                    ProcessRefreshKind::nothing().with_memory(),
                );
            }
            components.refresh(true);
        }
        if let Some(pid) = self.pid {
            if let Some(p) = sys.process(pid) {
                const_gauge(
                    &mut enc,
                    "process_resident_memory_bytes",
                    "Resident memory of the daemon",
                    p.memory() as f64,
                )?;
            }
        }
        const_gauge(
            &mut enc,
            "memory_available_bytes",
            "Memory available to new allocations",
            sys.available_memory() as f64,
        )?;
        const_gauge(
            &mut enc,
            "memory_total_bytes",
            "Physical memory",
            sys.total_memory() as f64,
        )?;
        const_gauge(
            &mut enc,
            "cpu_usage_ratio",
            "CPU use over all cores since the previous scrape (0-1)",
            f64::from(sys.global_cpu_usage()) / 100.0,
        )?;
        let temps: Family<Vec<(&'static str, String)>, Gauge<f64, std::sync::atomic::AtomicU64>> =
            Family::default();
        let mut any = false;
        for c in components.iter() {
            if let Some(t) = c.temperature().filter(|t| t.is_finite()) {
                temps
                    .get_or_create(&vec![("sensor", sensor_label(c.label()))])
                    .set(f64::from(t));
                any = true;
            }
        }
        if any {
            temps.encode(enc.encode_descriptor(
                "temperature_celsius",
                "Temperature of each sensor",
                None,
                temps.metric_type(),
            )?)?;
        }
        if let Some(flags) = pi_throttled_flags() {
            const_gauge(&mut enc, "pi_throttled_flags", "Raspberry Pi firmware get_throttled bits (0x1 under-voltage, 0x4 throttled, 0x8 soft temp limit; high bits: has occurred)", flags as f64)?;
        }
        Ok(())
    }
}
