//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{ChatMessage, GenerateRequest, Prompt};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::params::CommonParams;
use super::{new_id, now_unix, sse, usage_json};
use std::sync::Arc;

use crate::error::ApiError;
use crate::generation::{self, Piece};
use crate::guard;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
}

/// A string, or a list of content parts of which the text ones are used.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// Check messages and turn them into the engine's form.
pub fn to_messages(messages: Vec<Message>) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "'messages' must contain at least one message",
        ));
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(ApiError::invalid(
                    format!("messages[{i}].role"),
                    format!("messages[{i}].role: unknown role '{}'; expected one of {}", m.role, ROLES.join(", ")),
                ));
            }
            let content = match m.content {
                None => String::new(),
                Some(Content::Text(t)) => t,
                Some(Content::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, part) in parts.into_iter().enumerate() {
                        match (part.kind.as_str(), part.text) {
                            ("text", Some(t)) => text.push_str(&t),
                            (kind, _) => {
                                return Err(ApiError::invalid(
                                    format!("messages[{i}].content[{j}].type"),
                                    format!("messages[{i}].content[{j}]: content part type '{kind}' is not supported; only 'text' is"),
                                ))
                            }
                        }
                    }
                    text
                }
            };
            let role = if m.role == "developer" { "system".into() } else { m.role };
            Ok(ChatMessage { role, content })
        })
        .collect()
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    guard::admission::check(&state)?;
    let req: ChatRequest = body.parse()?;
    let common: CommonParams = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let messages = to_messages(req.messages)?;
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            params,
        },
    )
    .await?;
    let id = new_id("chatcmpl");
    let created = now_unix();
    if !common.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        return Ok(axum::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": done.text },
                "logprobs": null,
                "finish_reason": done.finish_reason.as_str(),
            }],
            "usage": usage_json(&done.usage),
        }))
        .into_response());
    }
    let include_usage = common.include_usage();
    let chunk = move |delta: serde_json::Value, finish: Option<&str>| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        })
    };
    let first = chunk(json!({ "role": "assistant", "content": "" }), None);
    let rest = generation::pieces(events, Arc::clone(&state.metrics)).flat_map(move |piece| {
        let out = match piece {
            Piece::Text(t) => vec![chunk(json!({ "content": t }), None)],
            Piece::Done {
                finish_reason,
                usage,
                ..
            } => {
                let mut out = vec![chunk(json!({}), Some(finish_reason.as_str()))];
                if include_usage {
                    let mut last = chunk(json!({}), None);
                    last["choices"] = json!([]);
                    last["usage"] = usage_json(&usage);
                    out.push(last);
                }
                out
            }
            Piece::Error(e) => vec![e.body()],
        };
        futures::stream::iter(out)
    });
    Ok(sse::response(
        futures::stream::once(async { first }).chain(rest),
    ))
}
