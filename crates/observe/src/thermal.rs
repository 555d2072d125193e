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
    /// The sensor read when none is configured, chosen once at start.
    zone: Sensor,
}

/// Where readings come from.
#[derive(Debug, Clone, PartialEq)]
enum Sensor {
    /// A configured file, or the SoC's CPU zone found by its name.
    File(PathBuf),
    /// No CPU zone: the hottest plausible zone at each reading.
    Hottest(PathBuf),
}

/// Zone types that name the SoC's CPU: Raspberry Pi ("cpu-thermal"), Jetson ("CPU-therm"),
/// many other ARM boards ("cpu0-thermal", "cpu_thermal"), x86 ("x86_pkg_temp").
const CPU_ZONE_TYPES: &[&str] = &["cpu-thermal", "cpu_thermal", "cpu-therm", "x86_pkg_temp"];
/// Readings outside this range are bogus (unpopulated sensors report -273, 0 or 255 °C).
const PLAUSIBLE_CELSIUS: std::ops::RangeInclusive<f64> = 1.0..=150.0;

/// Pick the sensor under a sysfs thermal directory: the CPU zone by name, else the hottest.
fn choose_zone(zones: &std::path::Path) -> Sensor {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(zones)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for zone in &entries {
        let kind = std::fs::read_to_string(zone.join("type")).unwrap_or_default();
        let kind = kind.trim().to_ascii_lowercase();
        let named_cpu = CPU_ZONE_TYPES.iter().any(|t| kind == *t)
            || (kind.starts_with("cpu") && kind.contains("therm"));
        if named_cpu && read_file(&zone.join("temp")).is_some() {
            tracing::info!(zone = %zone.display(), kind, "thermal guard reads the CPU zone");
            return Sensor::File(zone.join("temp"));
        }
    }
    tracing::warn!(
        dir = %zones.display(),
        "no CPU thermal zone found by name; the thermal guard reads the hottest plausible zone (set --thermal-sensor to choose one)"
    );
    Sensor::Hottest(zones.to_path_buf())
}

fn read_file(path: &std::path::Path) -> Option<f64> {
    parse_temperature(&std::fs::read_to_string(path).ok()?)
        .filter(|c| PLAUSIBLE_CELSIUS.contains(c))
}

/// Called with `true` when an episode starts and `false` when it ends (e.g. to slow the engine).
pub type OnChange = Box<dyn Fn(bool) + Send + Sync>;

impl ThermalGuard {
    pub fn new(config: ThermalConfig) -> Arc<Self> {
        Self::with_zones(config, std::path::Path::new(THERMAL_ZONES))
    }

    fn with_zones(config: ThermalConfig, zones: &std::path::Path) -> Arc<Self> {
        let zone = match (&config.sensor, config.limit_celsius) {
            (Some(path), _) => Sensor::File(path.clone()),
            (None, Some(_)) => choose_zone(zones),
            (None, None) => Sensor::Hottest(zones.to_path_buf()),
        };
        Arc::new(Self {
            config,
            hot: AtomicBool::new(false),
            zone,
        })
    }

    /// True while new work must be refused.
    pub fn is_hot(&self) -> bool {
        self.hot.load(Ordering::Relaxed)
    }

    /// The current reading in °C, if a sensor answers.
    pub fn read_celsius(&self) -> Option<f64> {
        match &self.zone {
            Sensor::File(path) => read_file(path),
            Sensor::Hottest(dir) => std::fs::read_dir(dir)
                .ok()?
                .filter_map(Result::ok)
                .filter_map(|zone| read_file(&zone.path().join("temp")))
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

    fn zones(list: &[(&str, &str)]) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "edgellm-zones-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (i, (kind, temp)) in list.iter().enumerate() {
            let z = dir.join(format!("thermal_zone{i}"));
            std::fs::create_dir_all(&z).unwrap();
            std::fs::write(z.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(z.join("temp"), format!("{temp}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn the_cpu_zone_is_chosen_by_name_and_bogus_zones_are_ignored() {
        let config = ThermalConfig {
            limit_celsius: Some(80.0),
            hysteresis_celsius: 5.0,
            sensor: None,
            poll: Duration::from_secs(1),
        };
        // Pi 5: a bogus 255 C zone must not trip the guard; the CPU zone reads 48.3.
        let pi = zones(&[("rp1_adc", "255000"), ("cpu-thermal", "48312")]);
        let g = ThermalGuard::with_zones(config.clone(), &pi);
        assert_eq!(g.read_celsius(), Some(48.312));
        // Jetson names its zones in upper case.
        let jetson = zones(&[
            ("GPU-therm", "51000"),
            ("CPU-therm", "47500"),
            ("PMIC-Die", "100000"),
        ]);
        assert_eq!(
            ThermalGuard::with_zones(config.clone(), &jetson).read_celsius(),
            Some(47.5)
        );
        // No CPU zone: the hottest plausible one (not the -273 or 255 C ones).
        let other = zones(&[("acpitz", "-273200"), ("soc", "61000"), ("junk", "255000")]);
        assert_eq!(
            ThermalGuard::with_zones(config, &other).read_celsius(),
            Some(61.0)
        );
        for d in [pi, jetson, other] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn millidegrees_and_degrees_are_understood() {
        assert_eq!(parse_temperature("48312\n"), Some(48.312));
        assert_eq!(parse_temperature("85.5"), Some(85.5));
        assert_eq!(parse_temperature("hot"), None);
    }
}
