//! The last hour of the device, for the status page: temperature, generation speed and
//! memory, sampled in-process into a fixed ring buffer (no database, nothing written).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgellm_backend::Backend;
use serde::Serialize;
use sysinfo::{Components, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::ThermalGuard;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub unix: u64,
    /// Hottest sensor (or the thermal guard's zone), when there is one.
    pub temperature_c: Option<f64>,
    /// Tokens generated per second since the previous sample.
    pub tokens_per_second: f64,
    /// Resident memory of the daemon.
    pub rss_mib: f64,
}

/// A ring buffer of the latest samples.
#[derive(Debug)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    capacity: usize,
    /// How often [`History::run`] samples.
    pub every: Duration,
}

impl History {
    /// An hour at one sample per `every`.
    pub fn hour(every: Duration) -> Arc<Self> {
        let capacity = (3600 / every.as_secs().max(1)) as usize;
        Arc::new(Self {
            samples: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity: capacity.max(2),
            every,
        })
    }

    pub fn push(&self, sample: Sample) {
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() == self.capacity {
            s.pop_front();
        }
        s.push_back(sample);
    }

    /// Oldest first.
    pub fn snapshot(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// Sample forever.
    pub async fn run(
        self: Arc<Self>,
        backend: Arc<dyn Backend>,
        thermal: Option<Arc<ThermalGuard>>,
    ) {
        let mut device = Device::new();
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<(std::time::Instant, u64)> = None;
        loop {
            tick.tick().await;
            let now = std::time::Instant::now();
            let generated = backend.stats().generated_tokens_total;
            let tokens_per_second = last.map_or(0.0, |(t, g)| {
                generated.saturating_sub(g) as f64 / now.duration_since(t).as_secs_f64().max(1e-3)
            });
            last = Some((now, generated));
            let reading = device.read();
            let temperature_c = thermal
                .as_ref()
                .and_then(|t| t.read_celsius())
                .or(reading.temperature_c);
            self.push(Sample {
                unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                temperature_c,
                tokens_per_second,
                rss_mib: reading.rss_mib,
            });
        }
    }
}

/// What the device reports now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Reading {
    pub rss_mib: f64,
    pub memory_total_mib: f64,
    pub memory_available_mib: f64,
    pub temperature_c: Option<f64>,
    /// Raspberry Pi firmware `get_throttled` bits, on a Pi.
    pub pi_throttled_flags: Option<u64>,
}

/// Reads memory and sensors with `sysinfo`.
#[derive(Debug)]
pub struct Device {
    sys: System,
    components: Components,
    pid: Option<Pid>,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    pub fn new() -> Self {
        Self {
            sys: System::new(),
            components: Components::new_with_refreshed_list(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }

    pub fn read(&mut self) -> Reading {
        const MIB: f64 = 1024.0 * 1024.0;
        self.sys.refresh_memory();
        let mut rss = 0.0;
        if let Some(pid) = self.pid {
            self.sys.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_memory(),
            );
            rss = self
                .sys
                .process(pid)
                .map_or(0.0, |p| p.memory() as f64 / MIB);
        }
        self.components.refresh(true);
        let temperature_c = self
            .components
            .iter()
            .filter_map(|c| c.temperature().filter(|t| t.is_finite()))
            .map(f64::from)
            .reduce(f64::max);
        Reading {
            rss_mib: rss,
            memory_total_mib: self.sys.total_memory() as f64 / MIB,
            memory_available_mib: self.sys.available_memory() as f64 / MIB,
            temperature_c,
            pi_throttled_flags: crate::system::pi_throttled_flags(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_latest_hour() {
        let h = History::hour(Duration::from_secs(600));
        for i in 0..10 {
            h.push(Sample {
                unix: i,
                temperature_c: None,
                tokens_per_second: 0.0,
                rss_mib: 0.0,
            });
        }
        let s = h.snapshot();
        assert_eq!(s.len(), 6);
        assert_eq!(s.first().unwrap().unix, 4);
        assert_eq!(s.last().unwrap().unix, 9);
    }

    #[test]
    fn the_device_reports_memory() {
        let r = Device::new().read();
        assert!(
            r.rss_mib > 0.0 && r.memory_total_mib >= r.memory_available_mib,
            "{r:?}"
        );
    }
}
