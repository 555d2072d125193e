//! What the engine thread and its handles share: the settings, the loaded model, the load
//! state, the counters, and the `--queue` accounting. Both `handle` and `scheduler` use it;
//! neither reaches into the other for it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use edgellm_backend::{BackendError, EngineStats, ModelInfo};
use llama_cpp_2::model::LlamaModel;
use tokio::sync::{mpsc, watch};

use crate::constraint::Constraints;
use crate::template::ChatTemplate;
use crate::EngineConfig;

/// Where the engine is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    Loading,
    Ready,
    Failed(String),
}

/// What the engine thread and the handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: EngineConfig,
    pub(crate) loaded: OnceLock<Loaded>,
    pub(crate) state: watch::Sender<LoadState>,
    /// What the engine counts (for `/metrics`, `/status` and `bench`).
    pub(crate) counters: Counters,
    pub(crate) queued: AtomicU64,
    /// The generation jobs counted in `queued`, so `submit` can release those whose client
    /// left while the engine is busy in a long step (it notices only between steps).
    pub(crate) queued_jobs: std::sync::Mutex<Vec<QueuedJob>>,
    pub(crate) busy: AtomicU64,
    /// Embedding requests the engine holds.
    pub(crate) embeds: AtomicU64,
    /// Set when the engine thread ends, however it ends.
    pub(crate) stopped: AtomicBool,
    pub(crate) kv_tokens: AtomicU64,
    /// Milliseconds since `started` at the engine loop's last turn (liveness for the watchdog).
    pub(crate) heartbeat_ms: AtomicU64,
    pub(crate) started: Instant,
    /// Pause after each decode step (thermal guard), in milliseconds; 0 = full speed.
    pub(crate) step_pause_ms: AtomicU64,
    /// Speculative decoding on (`--spec lookup`; `edgellm bench` switches it).
    pub(crate) spec_on: AtomicBool,
}

/// The engine's counters, in one place: adding one is a field here, a line in
/// [`Shared::snapshot`], a field of [`EngineStats`] with its row in
/// [`EngineStats::series`], and the increment.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) prompt_tokens: AtomicU64,
    pub(crate) reused_tokens: AtomicU64,
    pub(crate) processed_tokens: AtomicU64,
    pub(crate) generated_tokens: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    /// Answers ended by the loop guard.
    pub(crate) loops_stopped: AtomicU64,
    /// Drafted tokens decoded, and those of them accepted.
    pub(crate) spec_drafted: AtomicU64,
    pub(crate) spec_accepted: AtomicU64,
}

/// Whether a generation job still counts against `--queue`. Whoever releases it (the engine
/// when the job starts or its client has left, a later `submit` that finds the client gone)
/// takes it off the count, once.
#[derive(Debug, Clone)]
pub(crate) struct QueueTicket(Arc<AtomicBool>);

impl QueueTicket {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }

    pub(crate) fn held(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Take the job off the count; false if that was done already.
    pub(crate) fn release(&self, shared: &Shared) -> bool {
        let was = self.0.swap(false, Ordering::AcqRel);
        if was {
            shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        was
    }
}

/// A job counted against `--queue`, seen from the handle: its ticket and its event channel
/// (weakly: the handle must not keep a finished stream open).
#[derive(Debug)]
pub(crate) struct QueuedJob {
    pub(crate) ticket: QueueTicket,
    pub(crate) events: mpsc::WeakSender<edgellm_backend::Event>,
}

impl Shared {
    /// Every counter and gauge at once; `heartbeat_age_ms` is measured by the caller.
    pub(crate) fn snapshot(&self, heartbeat_age_ms: u64) -> EngineStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        EngineStats {
            requests_total: get(&c.requests),
            prompt_tokens_total: get(&c.prompt_tokens),
            prompt_tokens_reused_total: get(&c.reused_tokens),
            prompt_tokens_processed_total: get(&c.processed_tokens),
            generated_tokens_total: get(&c.generated_tokens),
            cancelled_total: get(&c.cancelled),
            loops_stopped_total: get(&c.loops_stopped),
            spec_drafted_tokens_total: get(&c.spec_drafted),
            spec_accepted_tokens_total: get(&c.spec_accepted),
            queue_depth: get(&self.queued),
            slots_busy: get(&self.busy),
            slots_total: u64::from(self.config.parallel),
            kv_cache_tokens: get(&self.kv_tokens),
            embeddings_active: get(&self.embeds),
            heartbeat_age_ms,
            engine_stopped: self.stopped.load(Ordering::Relaxed),
        }
    }

    /// Take jobs whose client has left off the `--queue` count at once, and forget jobs that
    /// started or ended.
    pub(crate) fn release_departed(&self) {
        let mut jobs = self.queued_jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.retain(|job| {
            if !job.ticket.held() {
                return false;
            }
            let sender = job.events.upgrade();
            let left = sender.as_ref().is_some_and(|s| s.is_closed());
            let gone = left || sender.is_none();
            if gone {
                let released = job.ticket.release(self);
                if released && left {
                    self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
                }
            }
            !gone
        });
    }
}

/// The model and what is derived from it; set once when loading succeeds.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) model: Arc<LlamaModel>,
    pub(crate) template: ChatTemplate,
    pub(crate) info: ModelInfo,
    pub(crate) load_secs: f64,
    /// `--embedding-model`, when given.
    pub(crate) embedding: Option<Arc<LlamaModel>>,
    /// Built on first use (it walks the whole vocabulary).
    pub(crate) constraints: OnceLock<Result<Constraints, String>>,
}

impl Loaded {
    pub(crate) fn constraints(&self) -> Result<&Constraints, BackendError> {
        self.constraints
            .get_or_init(|| Constraints::new(&self.model))
            .as_ref()
            .map_err(|e| {
                BackendError::Internal(format!("constrained decoding is unavailable: {e}"))
            })
    }
}
