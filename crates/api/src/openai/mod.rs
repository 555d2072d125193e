//! OpenAI-compatible endpoints, one file each.
//!
//! - [`chat`]: `POST /v1/chat/completions`
//! - [`completions`]: `POST /v1/completions`
//! - [`embeddings`]: `POST /v1/embeddings`
//! - [`models`]: `GET /v1/models`
//! - [`logprobs`]: `logprobs` / `top_logprobs`, read and rendered.
//! - [`params`]: request fields shared by both generation endpoints, and their validation.
//! - [`responses`]: `POST /v1/responses` (the Responses API, stateless).

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod logprobs;
pub mod models;
pub mod params;
pub mod responses;

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh id such as `chatcmpl-3f2a...`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// OpenAI's `usage` object.
pub(crate) fn usage_json(usage: &edgellm_backend::Usage) -> serde_json::Value {
    serde_json::json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": { "cached_tokens": usage.cached_tokens },
    })
}
