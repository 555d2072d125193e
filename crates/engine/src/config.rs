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
    /// Total context (tokens) shared by all slots.
    pub ctx_size: u32,
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
    /// A dedicated embedding model (else embeddings come from the main model).
    pub embedding_model: Option<PathBuf>,
}
