//! The last hour of the device, for the status page: temperature, generation speed and
//! memory, sampled in-process into a fixed ring buffer (no database, nothing written).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::system::DeviceReader;
use crate::ThermalGuard;
use edgellm_backend::Backend;
use serde::Serialize;

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
        device: Arc<DeviceReader>,
    ) {
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
                .or(reading.hottest_celsius());
            self.push(Sample {
                unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                temperature_c,
                tokens_per_second,
                rss_mib: reading.rss_bytes.unwrap_or(0) as f64 / (1024.0 * 1024.0),
            });
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
}
