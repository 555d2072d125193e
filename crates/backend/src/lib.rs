//! The seam between HTTP and inference.
//!
//! The API crate only knows [`Backend`]; the engine crate implements it with llama.cpp.
//! Router tests use a scripted backend, the daemon uses the real one.
//!
//! - [`request`]: what a client asks for (prompt, sampling parameters).
//! - [`event`]: what comes back, as a stream of [`Event`]s per request.
//! - [`BackendError`]: why a request could not be served.
#![forbid(unsafe_code)]

pub mod event;
pub mod request;

pub use event::{Event, FinishReason, Timings, TokenLogprob, ToolCall, Usage};
pub use request::{
    ChatMessage, GenerateRequest, Infill, Prompt, SamplingParams, ToolChoice, Tools,
    MAX_TOP_LOGPROBS,
};

use tokio::sync::mpsc;

/// Events of one request, in order: text pieces, then exactly one `Done` or `Error`.
pub type EventStream = mpsc::Receiver<Event>;

/// Why a request could not be served. Each variant maps to exactly one HTTP status in the API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The prompt does not fit in the context window of a slot.
    #[error("this request needs {prompt_tokens} prompt tokens, but the context window is {limit} tokens; shorten the prompt or the conversation")]
    ContextOverflow { prompt_tokens: usize, limit: usize },
    /// The admission queue is full.
    #[error("the server is busy ({queued} requests queued); retry later")]
    Overloaded {
        queued: usize,
        retry_after_secs: u64,
    },
    /// The model is not loaded yet, or the engine stopped.
    #[error("{0}")]
    Unavailable(String),
    /// The request is valid JSON but cannot be served (bad template input, etc.).
    #[error("{0}")]
    InvalidRequest(String),
    /// Something broke inside the engine.
    #[error("inference failed: {0}")]
    Internal(String),
}

/// Vectors of one embedding request, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens of all inputs together.
    pub prompt_tokens: usize,
}

/// Where an embedding request's result arrives.
pub type EmbedReceiver = tokio::sync::oneshot::Receiver<Result<Embeddings, BackendError>>;

/// The CPU backend in use.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuBackend {
    /// `x86_64`, `aarch64`.
    pub arch: String,
    /// The llama.cpp CPU kernels in use.
    pub backend: String,
    /// SIMD extensions the CPU has.
    pub features: Vec<String>,
    /// The CPU as llama.cpp names it (empty before the backend starts).
    pub cpu: String,
}

impl CpuBackend {
    /// One line for logs and stderr.
    pub fn summary(&self) -> String {
        let mut s = format!("{} on {}", self.backend, self.arch);
        if !self.cpu.is_empty() {
            s.push_str(&format!(" ({})", self.cpu));
        }
        s.push_str(&format!("; CPU features: {}", self.features.join(" ")));
        s
    }
}

/// Facts about the loaded model that the API reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The id clients use in `model` fields.
    pub id: String,
    /// Most tokens one request may use: the whole context with `--kv-unified on` (shared by
    /// the slots), a slot's share (`ctx-size / parallel`) with it off.
    pub n_ctx_per_request: usize,
    /// Most tokens one embedding input may have.
    pub n_ctx_embedding: usize,
    /// Length of the embedding vectors.
    pub embedding_dims: usize,
    /// The model embeddings come from (`--embedding-model`'s file name, else `id`).
    pub embedding_model: String,
    /// Training context length from the GGUF.
    pub n_ctx_train: usize,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Parameter count.
    pub n_params: u64,
    /// Architecture from the GGUF (`qwen2`, ...).
    pub architecture: String,
    /// Quantisation label from the GGUF file type, if known.
    pub quantization: String,
    /// Unix time the model file was last modified.
    pub modified_unix: u64,
    /// The CPU kernels running the model.
    pub cpu: CpuBackend,
    /// The model's fill-in-the-middle tokens as text (prefix, suffix, middle), when it has
    /// them (code completion: `/infill`, a `suffix`).
    pub infill: Option<[String; 3]>,
}

/// Counters the engine keeps; read by metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    pub requests_total: u64,
    pub prompt_tokens_total: u64,
    /// Prompt tokens that were not processed because a slot's KV cache already held them.
    pub prompt_tokens_reused_total: u64,
    /// Prompt tokens actually decoded (not reused, not skipped by a cancellation).
    pub prompt_tokens_processed_total: u64,
    pub generated_tokens_total: u64,
    pub cancelled_total: u64,
    /// Answers ended because they repeated themselves (`--loop-guard`).
    pub loops_stopped_total: u64,
    pub queue_depth: u64,
    pub slots_busy: u64,
    pub slots_total: u64,
    /// Tokens held in the KV cache across all slots (kept for prefix reuse).
    pub kv_cache_tokens: u64,
    /// Tokens drafted by speculative decoding and decoded for verification.
    pub spec_drafted_tokens_total: u64,
    /// Drafted tokens that matched what the model sampled (kept).
    pub spec_accepted_tokens_total: u64,
    /// Embedding requests the engine holds (in progress or waiting their turn).
    pub embeddings_active: u64,
    /// How long ago the engine thread last turned (milliseconds).
    pub heartbeat_age_ms: u64,
    /// The engine thread has ended (it never does while the daemon serves).
    pub engine_stopped: bool,
}

/// Whether a series only grows (a Prometheus counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    Counter,
    Gauge,
}

/// One exposed value of [`EngineStats`]: its metric name (the exporter adds the `edgellm_`
/// prefix, and `_total` to counters), help text, kind and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: SeriesKind,
    pub value: u64,
}

impl EngineStats {
    /// Every counter and gauge, as `/metrics` shows them: the one table of names and help
    /// texts (a new field gets its row here).
    pub fn series(&self) -> Vec<Series> {
        vec![
            Series {
                name: "engine_requests",
                help: "Requests a slot started",
                kind: SeriesKind::Counter,
                value: self.requests_total,
            },
            Series {
                name: "prompt_tokens",
                help: "Prompt tokens of started requests",
                kind: SeriesKind::Counter,
                value: self.prompt_tokens_total,
            },
            Series {
                name: "prompt_tokens_reused",
                help: "Prompt tokens served from a slot's KV cache (prefix reuse) instead of being processed",
                kind: SeriesKind::Counter,
                value: self.prompt_tokens_reused_total,
            },
            Series {
                name: "prompt_tokens_processed",
                help: "Prompt tokens decoded (not reused from cache, not skipped by a cancellation)",
                kind: SeriesKind::Counter,
                value: self.prompt_tokens_processed_total,
            },
            Series {
                name: "generated_tokens",
                help: "Tokens generated",
                kind: SeriesKind::Counter,
                value: self.generated_tokens_total,
            },
            Series {
                name: "spec_drafted_tokens",
                help: "Tokens drafted by speculative decoding (prompt lookup) and decoded to be checked",
                kind: SeriesKind::Counter,
                value: self.spec_drafted_tokens_total,
            },
            Series {
                name: "spec_accepted_tokens",
                help: "Drafted tokens that matched what the model sampled, kept without a step of their own",
                kind: SeriesKind::Counter,
                value: self.spec_accepted_tokens_total,
            },
            Series {
                name: "requests_cancelled",
                help: "Requests stopped because the client left (queued or running)",
                kind: SeriesKind::Counter,
                value: self.cancelled_total,
            },
            Series {
                name: "loops_stopped",
                help: "Answers ended with finish reason length because they kept repeating the same tokens (--loop-guard)",
                kind: SeriesKind::Counter,
                value: self.loops_stopped_total,
            },
            Series {
                name: "queue_depth",
                help: "Requests waiting for a slot",
                kind: SeriesKind::Gauge,
                value: self.queue_depth,
            },
            Series {
                name: "slots_busy",
                help: "Slots generating or reading a prompt",
                kind: SeriesKind::Gauge,
                value: self.slots_busy,
            },
            Series {
                name: "slots",
                help: "Slots (--parallel)",
                kind: SeriesKind::Gauge,
                value: self.slots_total,
            },
            Series {
                name: "kv_cache_tokens",
                help: "Tokens held in the KV cache across slots (kept for prefix reuse)",
                kind: SeriesKind::Gauge,
                value: self.kv_cache_tokens,
            },
        ]
    }
}

/// A request made ready by [`Backend::prepare`], for the same backend's
/// [`Backend::submit`]; what it holds is the backend's own business.
pub struct Prepared(Box<dyn std::any::Any + Send>);

impl Prepared {
    pub fn new<T: Send + 'static>(ready: T) -> Self {
        Self(Box::new(ready))
    }

    /// What the backend put in; an internal error if it was another backend's.
    pub fn into_inner<T: 'static>(self) -> Result<T, BackendError> {
        self.0
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| BackendError::Internal("a request prepared by another backend".into()))
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared")
    }
}

/// What the HTTP layer needs from an inference engine.
pub trait Backend: Send + Sync + 'static {
    /// The loaded model, or `None` while loading.
    fn model(&self) -> Option<ModelInfo>;

    /// The heavy part of a request, before it is queued: the chat template rendered, the
    /// prompt tokenised and checked against the context, the schema or tool-call grammar
    /// compiled. CPU-bound (up to the body limit of text, a grammar compile), so the API
    /// runs it on the blocking pool, a bounded number at a time, never on the async workers
    /// or the engine thread. A request that cannot be served fails here.
    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError>;

    /// Queue a prepared request. Cheap, returns at once: `Overloaded` when the queue is
    /// full, `Unavailable` while loading. Dropping the returned stream cancels the request.
    fn submit(&self, prepared: Prepared) -> Result<EventStream, BackendError>;

    /// Token ids of a text under the model's tokenizer (special tokens parsed, no BOS added).
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError>;

    /// The prompt a chat (with these tool definitions) becomes under the model's chat template.
    fn apply_template(
        &self,
        messages: &[ChatMessage],
        tools: &[serde_json::Value],
    ) -> Result<String, BackendError>;

    /// Embed each input (pooled over its tokens, unit length). Runs on the engine between
    /// decode steps; the receiver gets the result. An input longer than
    /// [`ModelInfo::n_ctx_embedding`] is cut to it with `truncate`, else refused.
    fn embed(&self, inputs: Vec<String>, truncate: bool) -> Result<EmbedReceiver, BackendError>;

    /// Current counters.
    fn stats(&self) -> EngineStats;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_and_gauge_is_exposed_once() {
        let stats = EngineStats {
            requests_total: 1,
            prompt_tokens_total: 2,
            prompt_tokens_reused_total: 3,
            prompt_tokens_processed_total: 4,
            generated_tokens_total: 5,
            cancelled_total: 6,
            loops_stopped_total: 7,
            queue_depth: 8,
            slots_busy: 9,
            slots_total: 10,
            kv_cache_tokens: 11,
            spec_drafted_tokens_total: 12,
            spec_accepted_tokens_total: 13,
            // Probes' business, not metrics.
            embeddings_active: 0,
            heartbeat_age_ms: 0,
            engine_stopped: false,
        };
        let series = stats.series();
        let mut values: Vec<u64> = series.iter().map(|s| s.value).collect();
        values.sort_unstable();
        assert_eq!(values, (1..=13).collect::<Vec<_>>());
        let mut names: Vec<&str> = series.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), series.len(), "a name is used twice");
        for s in &series {
            assert!(!s.name.ends_with("_total") && !s.help.is_empty(), "{s:?}");
        }
    }
}
