//! edgellm's HTTP surface. Knows the [`edgellm_backend::Backend`] trait, never llama.cpp.
//!
//! - [`router`]: every route in one place.
//! - [`error`]: [`ApiError`], the single status table, rendered in OpenAI's error shape.
//! - [`json`]: the JSON body extractor whose rejections are [`ApiError`]s naming the field.
//! - [`generation`]: collecting or streaming a backend's events.
//! - [`openai`]: one file per OpenAI endpoint, plus request parsing and validation.
//! - [`ollama`]: Ollama-compatible endpoints (NDJSON streams, `{"error"}` bodies).
//! - [`web`]: the embedded chat page at `/`.
//! - [`health`]: liveness and readiness probes, `/metrics`.
//! - [`guard`]: API keys, rate limits, admission, request logs and metrics.
//! - [`extra`]: llama.cpp-server-compatible helpers (`/tokenize`, `/apply-template`).
//! - [`status`]: the status page and its JSON at `/status`.
//! - [`tools`]: tool definitions, tool calls in the history, parsing the model's calls.
//! - [`embedding`]: the embedding request both APIs share (inputs, limits, usage).
//! - [`state`]: [`AppState`], what every handler gets (backend, limits, keys, metrics).
#![forbid(unsafe_code)]

pub mod embedding;
pub mod error;
pub mod extra;
pub mod generation;
pub mod guard;
pub mod health;
pub mod json;
pub mod ollama;
pub mod openai;
pub mod router;
pub mod state;
pub mod status;
pub mod tools;
pub mod web;

pub use error::ApiError;
pub use guard::keys::ApiKeys;
pub use guard::ratelimit::RateLimit;
pub use router::router;
pub use state::{AccessConfig, ApiLimits, AppState, RuntimeFlags};
