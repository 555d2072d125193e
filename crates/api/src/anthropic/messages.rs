//! `POST /v1/messages`: Anthropic's Messages API, whole or streamed (named SSE events).
//!
//! A final assistant message is a prefill: the answer continues it (the chat is rendered
//! with the model's template up to the assistant's turn, the prefill appended). A prefill
//! cannot be combined with tools.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{GenerateRequest, Prompt, ToolCall};
use futures::StreamExt;
use serde_json::{json, Value};

use super::request::{MessagesBody, MessagesParams};
use super::stream::Blocks;
use super::{new_id, stop_reason, usage_json};
use crate::error::ApiError;
use crate::generation::{self, off_workers};
use crate::json::JsonBody;
use crate::state::AppState;

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let params: MessagesParams = body.parse()?;
    let sampling = params.sampling(state.limits.max_tokens_cap)?;
    let req: MessagesBody = body.parse()?;
    let tools = req.tools()?;
    let chat = req.chat()?;
    let prompt = match chat.prefill.filter(|p| !p.is_empty()) {
        None => Prompt::Chat(chat.messages),
        Some(_) if tools.is_some() => {
            return Err(ApiError::invalid(
                "messages",
                "a final assistant message (a prefill) cannot be combined with 'tools'",
            ))
        }
        Some(prefill) => {
            let messages = chat.messages;
            let rendered = off_workers(&state, move |b| b.apply_template(&messages, &[])).await?;
            Prompt::Text(rendered + &prefill)
        }
    };
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt,
            params: sampling,
            tools,
        },
    )
    .await?;
    let id = new_id("msg");
    if !params.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        return Ok(axum::Json(json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content(done.text, &done.calls),
            "stop_reason": stop_reason(done.finish_reason, done.stop_sequence.as_deref()),
            "stop_sequence": done.stop_sequence,
            "usage": usage_json(&done.usage),
        }))
        .into_response());
    }
    let start = json!({
        "type": "message_start",
        "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": 0, "output_tokens": 0 },
        },
    });
    let head = futures::stream::iter([
        ("message_start", start),
        ("ping", json!({ "type": "ping" })),
    ]);
    let mut blocks = Blocks::default();
    let rest = generation::pieces(events, Arc::clone(&state.metrics))
        .flat_map(move |piece| futures::stream::iter(blocks.events(piece)));
    Ok(crate::sse::named(head.chain(rest)))
}

/// The content blocks of a whole answer: its text (always, when there are no calls), then
/// one `tool_use` block per call.
pub(crate) fn content(text: String, calls: &[ToolCall]) -> Value {
    let mut blocks = Vec::new();
    if !text.is_empty() || calls.is_empty() {
        blocks.push(json!({ "type": "text", "text": text }));
    }
    for c in calls {
        blocks.push(json!({
            "type": "tool_use", "id": new_id("toolu"), "name": c.name, "input": c.arguments,
        }));
    }
    Value::Array(blocks)
}
