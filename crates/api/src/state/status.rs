//! What `/status` shows beyond the engine and the API state (set by the daemon).

use std::sync::Arc;
use std::time::Instant;

use edgellm_observe::{DeviceReader, History};
use serde_json::Value;

/// Where the status comes from besides the engine and the API state.
pub struct StatusSources {
    pub started: Instant,
    /// The last hour, sampled by [`History::run`].
    pub history: Arc<History>,
    /// Certificate in service: source, subject, issuer, expiry, ACME outcome.
    pub certificate: Box<dyn Fn() -> Value + Send + Sync>,
    /// CPU and llama.cpp backend description.
    pub cpu: Value,
    /// The daemon's one `sysinfo` reader (shared with `/metrics` and the history).
    pub device: Arc<DeviceReader>,
}

impl StatusSources {
    pub fn new(
        history: Arc<History>,
        certificate: Box<dyn Fn() -> Value + Send + Sync>,
        cpu: Value,
        device: Arc<DeviceReader>,
    ) -> Self {
        Self {
            started: Instant::now(),
            history,
            certificate,
            cpu,
            device,
        }
    }
}

impl std::fmt::Debug for StatusSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusSources")
    }
}
