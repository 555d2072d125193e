//! Engine settings. Parsed and validated by the daemon's config module.

use std::path::PathBuf;

/// Everything the engine needs to load a model and serve requests.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// GGUF file.
    pub model_path: PathBuf,
    /// Id reported to clients; defaults to the file stem.
    pub model_id: String,
    /// Threads for generation.
    pub threads: u32,
    /// Threads for prompt processing.
    pub threads_batch: u32,
    /// Total context (tokens) shared by all slots; with [`EngineConfig::ctx_auto`], the
    /// least the automatic size may be.
    pub ctx_size: u32,
    /// `--ctx-size auto`: the KV cache budget in bytes; the context becomes the largest
    /// power of two (at least `ctx_size`, at most the model's training context) whose cache
    /// fits it, decided from the model's shape when the engine starts.
    pub ctx_auto: Option<u64>,
    /// Most tokens decoded in one step (prompt chunks plus one token per generating slot).
    pub batch_size: u32,
    /// Physical micro-batch; drives the compute buffer size (the main memory knob).
    pub ubatch_size: u32,
    /// Sequences decoded together.
    pub parallel: u32,
    /// Requests waiting for a slot before new ones are refused.
    pub queue: u32,
    /// Lock the model's pages in RAM.
    pub mlock: bool,
    /// Where llama.cpp's CPU backend variants are (aarch64 builds); `None` = the defaults.
    pub backend_dir: Option<PathBuf>,
    /// A dedicated embedding model (else embeddings come from the main model).
    pub embedding_model: Option<PathBuf>,
    /// KV cache element types (keys, values).
    pub cache_type_k: CacheType,
    pub cache_type_v: CacheType,
    pub flash_attn: FlashAttn,
    /// One KV cache shared by all slots (a request may use all of it); else each slot has its
    /// own `ctx_size / parallel` cells, and a stream's output does not depend on the streams
    /// decoded beside it.
    pub kv_unified: bool,
    /// Speculative decoding (drafts from the request's own tokens).
    pub spec: SpecMode,
    /// Most tokens drafted per step for one slot.
    pub draft_max: u32,
    /// End an answer whose last this many tokens repeat one stretch (0: never).
    pub loop_guard: u32,
}

impl CacheType {
    /// Bytes one cached element takes (quantised blocks hold 32 values).
    pub fn bytes_per_element(self) -> f64 {
        match self {
            CacheType::F16 => 2.0,
            CacheType::Q8_0 => 34.0 / 32.0,
            CacheType::Q4_0 => 18.0 / 32.0,
        }
    }
}

impl EngineConfig {
    /// Most tokens (prompt and answer) one request may hold.
    pub fn ctx_per_request(&self) -> usize {
        if self.kv_unified {
            self.ctx_size as usize
        } else {
            (self.ctx_size / self.parallel.max(1)) as usize
        }
    }
}

/// Speculative decoding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecMode {
    /// Prompt lookup: draft the continuation of an earlier match of the latest n-gram.
    #[default]
    Lookup,
    Off,
}

/// KV cache element type: f16 (llama.cpp's default), or quantised to save memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheType {
    #[default]
    F16,
    Q8_0,
    Q4_0,
}

/// llama.cpp's flash attention setting. A quantised V cache needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlashAttn {
    On,
    Off,
    #[default]
    Auto,
}

/// Most tokens one embedding input may have (the embedding context's size), or the
/// embedding model's training context where that is shorter (positions past it abort
/// llama.cpp).
pub const EMBED_MAX_TOKENS: usize = 512;
