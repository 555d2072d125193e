//! Anthropic's Messages API, for tools written against the `anthropic` SDK (agents, coding
//! assistants): field mapping into the neutral [`crate::request`] layer and rendering.
//!
//! - [`request`]: `system`, content blocks (`text`, `tool_use`, `tool_result`), `tools`,
//!   `tool_choice`, sampling fields, mapped into the neutral request.
//! - [`messages`]: `POST /v1/messages`, whole or streamed.
//! - [`stream`]: the event sequence (`message_start`, `content_block_*`, `message_delta`,
//!   `message_stop`).
//! - [`count_tokens`]: `POST /v1/messages/count_tokens`.
//!
//! Errors on these routes take Anthropic's shape, `{"type": "error", "error": {"type",
//! "message"}}` ([`error_shape`]); the key may come as `x-api-key`, as that SDK sends it.

pub mod count_tokens;
pub mod messages;
pub mod request;
pub mod stream;

use axum::http::StatusCode;
use axum::response::Response;
use edgellm_backend::{FinishReason, Usage};
use serde_json::{json, Value};

use crate::error::ApiError;

/// Whether a path belongs to this dialect.
fn is_anthropic(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// Anthropic's error `type` for a status.
pub(crate) fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 408 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Anthropic's error body.
pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type(status), "message": message } })
}

/// An error met in the middle of a stream, as the `error` event's data.
pub(crate) fn stream_error(e: &ApiError) -> Value {
    error_body(e.status().0, &e.to_string())
}

/// The layer that gives every error on `/v1/messages*` Anthropic's shape, status and
/// headers kept, whichever layer produced it ([`crate::error::reshape`]).
pub async fn error_shape(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    crate::error::reshape(req, next, is_anthropic, error_body).await
}

/// `stop_reason`: `end_turn`, `stop_sequence`, `max_tokens` or `tool_use`.
pub(crate) fn stop_reason(reason: FinishReason, stop_sequence: Option<&str>) -> &'static str {
    match reason {
        FinishReason::Stop if stop_sequence.is_some() => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
    }
}

/// Anthropic's `usage`: `input_tokens` are the prompt tokens processed, and those served from
/// the KV cache are `cache_read_input_tokens` (the three add up to the prompt).
pub(crate) fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens - usage.cached_tokens.min(usage.prompt_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    })
}

/// An id as Anthropic forms them (`msg_...`, `toolu_...`).
pub(crate) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_anthropic_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (503, "overloaded_error"),
            (500, "api_error"),
        ] {
            assert_eq!(error_type(StatusCode::from_u16(status).unwrap()), kind);
        }
        assert!(is_anthropic("/v1/messages"));
        assert!(is_anthropic("/v1/messages/count_tokens"));
        assert!(!is_anthropic("/v1/messagesx"));
    }

    #[test]
    fn usage_splits_cached_tokens_out() {
        let u = usage_json(&Usage {
            prompt_tokens: 10,
            completion_tokens: 3,
            cached_tokens: 4,
        });
        assert_eq!(u["input_tokens"], 6);
        assert_eq!(u["cache_read_input_tokens"], 4);
        assert_eq!(u["output_tokens"], 3);
    }
}
