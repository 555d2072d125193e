//! edgellm's HTTP surface. Knows the [`edgellm_backend::Backend`] trait, never llama.cpp.
//!
//! - [`router`]: every route in one place.
//! - [`error`]: [`ApiError`], the single status table, rendered in OpenAI's error shape.
//! - [`json`]: the JSON body extractor whose rejections are [`ApiError`]s naming the field.
//! - [`generation`]: collecting or streaming a backend's events.
//! - [`request`]: the neutral request layer both dialects map into: messages, sampling,
//!   tools, embedding inputs; the checks live there.
//! - [`openai`]: one file per OpenAI endpoint: field mapping and rendering.
//! - [`ollama`]: Ollama-compatible endpoints: field mapping, NDJSON streams, and the
//!   `{"error"}` shape every `/api/*` error gets.
//! - [`anthropic`]: Anthropic's Messages API (`/v1/messages`, `count_tokens`): field
//!   mapping, named-event streams, and Anthropic's error shape on its routes.
//! - [`sse`]: server-sent events framing, data-only (OpenAI chat) or named events.
//! - [`web`]: the embedded chat page at `/`.
//! - [`health`]: liveness and readiness probes, `/metrics`.
//! - [`guard`]: API keys, rate limits, admission, request logs and metrics.
//! - [`extra`]: llama.cpp-server-compatible helpers (`/tokenize`, `/apply-template`).
//! - [`status`]: the status page and its JSON at `/status`.
//! - [`peer`]: who sent a request (trusted proxies, the per-client key).
//! - [`body`]: a response body that reports its end (slots and logs are released then).
//! - [`state`]: [`AppState`], what every handler gets (backend, limits, keys, metrics).
#![forbid(unsafe_code)]

pub mod anthropic;
pub mod body;
pub mod error;
pub mod extra;
pub mod generation;
pub mod guard;
pub mod health;
pub mod json;
pub mod ollama;
pub mod openai;
pub mod peer;
pub mod request;
pub mod router;
pub mod sse;
pub mod state;
pub mod status;
pub mod web;

pub use error::ApiError;
pub use guard::keys::ApiKeys;
pub use guard::ratelimit::RateLimit;
pub use router::router;
pub use state::{AccessConfig, ApiLimits, AppState, RuntimeFlags};
