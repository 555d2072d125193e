//! What every handler can reach.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use edgellm_backend::Backend;
use edgellm_observe::{Metrics, ThermalGuard};
use ipnet::IpNet;

pub mod clients;
pub mod keys;
pub mod status;

use keys::ApiKeys;

/// Request limits enforced by the API layer.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest `max_tokens` a client may ask for; `None` leaves it to the context size.
    pub max_tokens_cap: Option<u32>,
    /// Requests the engine queues before refusing; readiness reports "queue_full" there.
    pub queue_capacity: u64,
    /// Time a request body may take to arrive in full.
    pub body_timeout: std::time::Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_tokens_cap: None,
            queue_capacity: 8,
            body_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Who may use the API and how often.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// `None` disables per-IP rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Serve `/metrics` without an API key.
    pub metrics_public: bool,
    /// Browser origins (`https://host:port`) allowed to call the API cross-origin.
    pub cors_origins: Vec<String>,
}

/// Conditions that change while running: draining after SIGTERM, the thermal guard.
#[derive(Debug, Default)]
pub struct RuntimeFlags {
    draining: AtomicBool,
    pub thermal: Option<Arc<ThermalGuard>>,
}

impl RuntimeFlags {
    pub fn new(thermal: Option<Arc<ThermalGuard>>) -> Self {
        Self {
            draining: AtomicBool::new(false),
            thermal,
        }
    }
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
    pub fn too_hot(&self) -> bool {
        self.thermal.as_ref().is_some_and(|t| t.is_hot())
    }
}

/// Shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub limits: ApiLimits,
    pub access: AccessConfig,
    pub keys: Arc<ApiKeys>,
    pub metrics: Arc<Metrics>,
    pub runtime: Arc<RuntimeFlags>,
    /// Bounds request preparation (template, tokenizer) running on the blocking pool.
    pub prep: Arc<tokio::sync::Semaphore>,
    /// Generations in flight per client (`--max-client-requests`).
    pub clients: Arc<clients::ClientSlots>,
    /// This board's name, sent as `x-edgellm-node` (none when empty).
    pub node: Arc<str>,
    /// What `/status` shows beyond the engine (history, certificate, CPU); set by the daemon.
    pub status: Option<Arc<status::StatusSources>>,
}

/// Requests prepared (template + tokenizer) at once, off the async workers.
pub const PREP_CONCURRENCY: usize = 2;

/// Longest a request waits for a preparation thread before it is refused with 503.
pub const PREP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl AppState {
    /// A state with defaults around `backend`: no keys, no rate limit, fresh metrics.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            limits: ApiLimits::default(),
            access: AccessConfig::default(),
            keys: Arc::new(ApiKeys::default()),
            metrics: Arc::new(Metrics::new()),
            runtime: Arc::new(RuntimeFlags::default()),
            prep: Arc::new(tokio::sync::Semaphore::new(PREP_CONCURRENCY)),
            clients: Arc::new(clients::ClientSlots::new(None)),
            node: Arc::from(""),
            status: None,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .field("access", &self.access)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// Requests per second and burst per client address (`guard::ratelimit` enforces it).
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}
