//! The thermal guard: above `--thermal-limit-celsius` the device refuses new requests
//! (503 + Retry-After, readiness 503) and slows generation, until it has cooled below the
//! limit minus the hysteresis. Each episode is logged and counted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::Metrics;

/// Kernel thermal zones, read when no sensor file is configured.
const THERMAL_ZONES: &str = "/sys/class/thermal";

#[derive(Debug, Clone)]
pub struct ThermalConfig {
    /// `None` disables the guard.
    pub limit_celsius: Option<f64>,
    /// Service resumes below `limit - hysteresis`.
    pub hysteresis_celsius: f64,
    /// A file holding a temperature (degrees or millidegrees, as sysfs writes it);
    /// `None` reads the hottest kernel thermal zone.
    pub sensor: Option<PathBuf>,
    pub poll: Duration,
}

/// Shared "too hot" flag plus the loop that maintains it.
#[derive(Debug)]
pub struct ThermalGuard {
    config: ThermalConfig,
    hot: AtomicBool,
}

/// Called with `true` when an episode starts and `false` when it ends (e.g. to slow the engine).
pub type OnChange = Box<dyn Fn(bool) + Send + Sync>;

impl ThermalGuard {
    pub fn new(config: ThermalConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            hot: AtomicBool::new(false),
        })
    }

    /// True while new work must be refused.
    pub fn is_hot(&self) -> bool {
        self.hot.load(Ordering::Relaxed)
    }

    /// The current reading in °C, if a sensor answers.
    pub fn read_celsius(&self) -> Option<f64> {
        match &self.config.sensor {
            Some(path) => parse_temperature(&std::fs::read_to_string(path).ok()?),
            None => std::fs::read_dir(THERMAL_ZONES)
                .ok()?
                .filter_map(Result::ok)
                .filter_map(|zone| std::fs::read_to_string(zone.path().join("temp")).ok())
                .filter_map(|s| parse_temperature(&s))
                .reduce(f64::max),
        }
    }

    /// Apply one reading; returns whether the state changed.
    pub fn update(&self, celsius: f64) -> Option<bool> {
        let limit = self.config.limit_celsius?;
        let hot = self.is_hot();
        let next = if hot {
            celsius >= limit - self.config.hysteresis_celsius
        } else {
            celsius >= limit
        };
        if next == hot {
            return None;
        }
        self.hot.store(next, Ordering::Relaxed);
        if next {
            tracing::warn!(
                celsius,
                limit,
                "too hot: refusing new requests and slowing generation"
            );
        } else {
            tracing::info!(celsius, "cooled down: accepting requests again");
        }
        Some(next)
    }

    /// Poll the sensor until the process ends. Does nothing without a limit.
    pub async fn run(self: Arc<Self>, metrics: Arc<Metrics>, on_change: OnChange) {
        if self.config.limit_celsius.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(self.config.poll);
        loop {
            tick.tick().await;
            let Some(celsius) = self.read_celsius() else {
                continue;
            };
            if let Some(hot) = self.update(celsius) {
                metrics.thermal_throttled.set(i64::from(hot));
                if hot {
                    metrics.thermal_episodes.inc();
                }
                on_change(hot);
            }
        }
    }
}

/// sysfs writes millidegrees ("48312"); a test file may hold degrees ("85.5").
fn parse_temperature(text: &str) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    Some(if v.abs() >= 1000.0 { v / 1000.0 } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(limit: f64) -> Arc<ThermalGuard> {
        ThermalGuard::new(ThermalConfig {
            limit_celsius: Some(limit),
            hysteresis_celsius: 5.0,
            sensor: None,
            poll: Duration::from_secs(1),
        })
    }

    #[test]
    fn hysteresis_keeps_the_guard_on_until_cool() {
        let g = guard(80.0);
        assert_eq!(g.update(79.0), None);
        assert_eq!(g.update(81.0), Some(true));
        assert!(g.is_hot());
        assert_eq!(g.update(77.0), None, "still within the hysteresis band");
        assert_eq!(g.update(74.9), Some(false));
        assert!(!g.is_hot());
    }

    #[test]
    fn millidegrees_and_degrees_are_understood() {
        assert_eq!(parse_temperature("48312\n"), Some(48.312));
        assert_eq!(parse_temperature("85.5"), Some(85.5));
        assert_eq!(parse_temperature("hot"), None);
    }
}
