//! edgellm's inference engine: the only crate that uses llama.cpp (through `llama-cpp-2`).
//!
//! - [`config`]: engine settings (threads, context, batch, slots, queue).
//! - [`context_size`]: `--ctx-size auto`, the context sized to the device's memory.
//! - [`load`]: checking and loading the GGUF, creating the context.
//! - [`template`]: rendering the model's own Jinja chat template.
//! - [`handle`]: [`EngineHandle`], the [`edgellm_backend::Backend`] the API talks to.
//! - [`scheduler`]: the engine thread: slots, continuous batching, prefix reuse, cancellation.
//! - `shared`: what the engine thread and the handles share (model, counters, queue places).
//! - [`sampler`], [`decoder`], [`stop`]: per-request sampling chain, UTF-8-safe
//!   detokenisation and stop strings.
//! - `constraint`, [`trigger`], [`tool_calls`]: JSON schemas and tool calls enforced with
//!   llguidance, spotting where a tool call starts, and reading the finished calls (the
//!   API gets them parsed, as [`edgellm_backend::ToolCall`]s).
//! - [`embed`]: embeddings from the loaded model.
//! - `infill`: fill-in-the-middle prompts with the model's FIM tokens.
//! - `logprobs`: sampled tokens' log probabilities, for requests that ask.
//! - `repeat`: the loop guard, which ends an answer that repeats itself.
//! - `speculate`: prompt-lookup drafts (the scheduler verifies them in `scheduler::speculation`).
//! - [`cpu`]: which llama.cpp CPU kernels run (aarch64 variants picked at start).
//! - `batch`: one decode step's batch in parts per slot, so a failed decode fails only its request.
//! - [`error`]: [`EngineError`], why the engine could not start.
//!
//! One thread owns the llama.cpp context; requests reach it over a bounded channel and each
//! carries its own bounded event channel. Dropping that channel's receiver cancels the request.
#![forbid(unsafe_code)]

pub(crate) mod batch;
pub mod config;
pub mod constraint;
pub mod context_size;
pub mod cpu;
pub mod decoder;
pub mod embed;
pub mod error;
pub mod handle;
mod infill;
pub mod load;
mod logprobs;
mod repeat;
pub mod sampler;
pub mod scheduler;
mod shared;
mod speculate;
pub mod stop;
pub mod template;
pub mod tool_calls;
pub mod trigger;

/// Stack of the threads that compile grammars and prepare requests (and of the engine
/// thread): schemas are compiled recursively, and [`constraint::limits`] keeps the deepest
/// one allowed within a small part of this.
pub const PREP_STACK_BYTES: usize = 8 << 20;

pub use config::{CacheType, EngineConfig, FlashAttn, SpecMode};
pub use error::EngineError;
pub use handle::EngineHandle;
pub use repeat::MIN_SPAN as LOOP_GUARD_MIN;
