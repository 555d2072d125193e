//! Device health from `sysinfo`: one reader ([`DeviceReader`]) for `/metrics`, `/status` and
//! the history, refreshed at most once a second. A missing sensor is simply absent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;

use crate::fn_gauge::const_gauge;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sysinfo::{Components, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// The memory this process may use: the device's RAM, or its cgroup's limit (a systemd
/// `MemoryMax=`, a container) where that is lower. Read once, at start, to size the context.
pub fn memory_limit_bytes() -> u64 {
    let mut sys = System::new();
    sys.refresh_memory();
    let total = sys.total_memory();
    match sys.cgroup_limits() {
        Some(limits) if limits.total_memory > 0 => total.min(limits.total_memory),
        _ => total,
    }
}

/// Where the Raspberry Pi firmware reports under-voltage and throttling (hex bit flags).
const PI_THROTTLED: &str = "/sys/devices/platform/soc/soc:firmware/get_throttled";

/// What the device reports at one moment: read by [`DeviceReader`], shared by `/metrics`,
/// `/status` and the history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Resident memory of the daemon (absent when the process cannot be read).
    pub rss_bytes: Option<u64>,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    /// CPU use over all cores since the previous refresh (0-1).
    pub cpu_usage_ratio: f64,
    /// Every sensor with a finite temperature: (Prometheus label, °C).
    pub temperatures: Vec<(String, f64)>,
    /// Raspberry Pi firmware `get_throttled` bits, on a Pi.
    pub pi_throttled_flags: Option<u64>,
}

impl Snapshot {
    /// The hottest sensor.
    pub fn hottest_celsius(&self) -> Option<f64> {
        self.temperatures.iter().map(|(_, t)| *t).reduce(f64::max)
    }
}

/// The one `sysinfo` reader of the daemon. Reads closer together than [`MIN_REFRESH`] get
/// the last snapshot: `/metrics` and `/status` need no key by default, and each refresh
/// reads a dozen `/proc` and `/sys` files under the lock, on an async worker.
#[derive(Debug)]
pub struct DeviceReader {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    sys: System,
    components: Components,
    pid: Option<Pid>,
    last: Option<(Instant, Arc<Snapshot>)>,
    refreshes: u64,
}

/// The shortest time between two `sysinfo` refreshes.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);

impl DeviceReader {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                sys: System::new(),
                components: Components::new_with_refreshed_list(),
                pid: sysinfo::get_current_pid().ok(),
                last: None,
                refreshes: 0,
            }),
        }
    }

    /// The device now (or at most [`MIN_REFRESH`] ago).
    pub fn read(&self) -> Arc<Snapshot> {
        self.read_at(Instant::now())
    }

    /// As [`DeviceReader::read`], with the clock given.
    pub fn read_at(&self, now: Instant) -> Arc<Snapshot> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, snapshot)) = &inner.last {
            if now.saturating_duration_since(*at) < MIN_REFRESH {
                return Arc::clone(snapshot);
            }
        }
        let snapshot = Arc::new(inner.refresh());
        inner.last = Some((now, Arc::clone(&snapshot)));
        snapshot
    }

    /// How many times `sysinfo` was refreshed.
    pub fn refreshes(&self) -> u64 {
        self.inner.lock().map_or(0, |i| i.refreshes)
    }
}

impl Default for DeviceReader {
    fn default() -> Self {
        Self::new()
    }
}

impl Inner {
    fn refresh(&mut self) -> Snapshot {
        self.refreshes += 1;
        self.sys.refresh_memory();
        self.sys.refresh_cpu_usage();
        let mut rss_bytes = None;
        if let Some(pid) = self.pid {
            self.sys.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_memory(),
            );
            rss_bytes = self.sys.process(pid).map(|p| p.memory());
        }
        self.components.refresh(true);
        Snapshot {
            rss_bytes,
            memory_total_bytes: self.sys.total_memory(),
            memory_available_bytes: self.sys.available_memory(),
            cpu_usage_ratio: f64::from(self.sys.global_cpu_usage()) / 100.0,
            temperatures: self
                .components
                .iter()
                .filter_map(|c| {
                    let t = c.temperature().filter(|t| t.is_finite())?;
                    Some((sensor_label(c.label()), f64::from(t)))
                })
                .collect(),
            pi_throttled_flags: pi_throttled_flags(),
        }
    }
}

/// Process memory, system memory, CPU use, temperatures, Pi throttling, for `/metrics`.
#[derive(Debug)]
pub struct SystemCollector {
    device: Arc<DeviceReader>,
}

impl SystemCollector {
    pub fn new(device: Arc<DeviceReader>) -> Self {
        Self { device }
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
        let now = self.device.read();
        if let Some(rss) = now.rss_bytes {
            const_gauge(
                &mut enc,
                "process_resident_memory_bytes",
                "Resident memory of the daemon",
                rss as f64,
            )?;
        }
        const_gauge(
            &mut enc,
            "memory_available_bytes",
            "Memory available to new allocations",
            now.memory_available_bytes as f64,
        )?;
        const_gauge(
            &mut enc,
            "memory_total_bytes",
            "Physical memory",
            now.memory_total_bytes as f64,
        )?;
        const_gauge(
            &mut enc,
            "cpu_usage_ratio",
            "CPU use over all cores since the previous reading (0-1)",
            now.cpu_usage_ratio,
        )?;
        if !now.temperatures.is_empty() {
            let temps: Family<
                Vec<(&'static str, String)>,
                Gauge<f64, std::sync::atomic::AtomicU64>,
            > = Family::default();
            for (sensor, celsius) in &now.temperatures {
                temps
                    .get_or_create(&vec![("sensor", sensor.clone())])
                    .set(*celsius);
            }
            temps.encode(enc.encode_descriptor(
                "temperature_celsius",
                "Temperature of each sensor",
                None,
                temps.metric_type(),
            )?)?;
        }
        if let Some(flags) = now.pi_throttled_flags {
            const_gauge(&mut enc, "pi_throttled_flags", "Raspberry Pi firmware get_throttled bits (0x1 under-voltage, 0x4 throttled, 0x8 soft temp limit; high bits: has occurred)", flags as f64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_closer_than_the_minimum_share_one_refresh() {
        let device = DeviceReader::new();
        let t0 = Instant::now();
        let first = device.read_at(t0);
        assert!(
            first.rss_bytes.is_some_and(|r| r > 0)
                && first.memory_total_bytes >= first.memory_available_bytes,
            "{first:?}"
        );
        for ms in [0, 10, 500, 999] {
            let again = device.read_at(t0 + Duration::from_millis(ms));
            assert!(Arc::ptr_eq(&first, &again), "{ms} ms later refreshed");
        }
        assert_eq!(device.refreshes(), 1);
        let later = device.read_at(t0 + MIN_REFRESH);
        assert!(!Arc::ptr_eq(&first, &later));
        assert_eq!(device.refreshes(), 2);
    }
}
