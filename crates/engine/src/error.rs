//! Errors of loading a model and starting the engine.

use std::path::PathBuf;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "model file {path} does not exist; `edgellm pull` downloads the default model (to <state-dir>/models/model.gguf, or --models-dir DIR)"
    )]
    ModelMissing { path: PathBuf },
    #[error("model file {path} cannot be read: {source}")]
    ModelUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model file {path} is not a GGUF file (it starts with {magic:?}, expected \"GGUF\")")]
    NotGguf { path: PathBuf, magic: String },
    #[error("llama.cpp could not load {path} ({size} bytes): the file is truncated or corrupt")]
    LoadFailed { path: PathBuf, size: u64 },
    #[error("llama.cpp backend could not start: {0}")]
    Backend(String),
    #[error(
        "could not create an inference context (ctx-size {ctx_size}, batch {batch_size}): {reason}"
    )]
    Context {
        ctx_size: u32,
        batch_size: u32,
        reason: String,
    },
    #[error("the model's chat template is not usable: {0}")]
    Template(String),
    #[error("the engine thread stopped before the model was loaded")]
    ThreadGone,
}
