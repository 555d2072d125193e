//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{ChatMessage, FinishReason, GenerateRequest, Prompt};
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
use crate::tools::{self, ToolFields};

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    /// Calls an assistant made (OpenAI: arguments as a string; Ollama: an object).
    #[serde(default)]
    pub tool_calls: Option<Vec<serde_json::Value>>,
    /// Legacy form of one call.
    #[serde(default)]
    pub function_call: Option<serde_json::Value>,
    /// For `role: "tool"`: OpenAI's call id, Ollama's `tool_name`.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_name: Option<String>,
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

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

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
            let role = match m.role.as_str() {
                "developer" => "system".into(),
                // The legacy function result is a tool message.
                "function" => "tool".into(),
                _ => m.role,
            };
            let mut calls = m.tool_calls.unwrap_or_default();
            calls.extend(m.function_call.map(|f| json!({ "function": f })));
            let tool_calls = calls
                .iter()
                .enumerate()
                .map(|(j, c)| tools::history_call(c, &format!("messages[{i}].tool_calls[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ChatMessage {
                role,
                content,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                tool_call_id: m.tool_call_id,
                name: m.name.or(m.tool_name),
            })
        })
        .collect()
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    guard::admission::check(&state)?;
    let req: ChatRequest = body.parse()?;
    let common: CommonParams = body.parse()?;
    let tool_fields: ToolFields = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let tools = tool_fields.to_tools()?;
    let legacy = tool_fields.legacy();
    let messages = to_messages(req.messages)?;
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            params,
            tools,
        },
    )
    .await?;
    let id = new_id("chatcmpl");
    let created = now_unix();
    if !common.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let (message, finish) = answer(done.text, &done.calls, done.finish_reason, legacy);
        return Ok(axum::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish,
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
    // Call text is gathered and sent as whole calls when the answer ends (calls are short,
    // and the model's format is only known to be complete then).
    let mut call_text = String::new();
    let rest = generation::pieces(events, Arc::clone(&state.metrics)).flat_map(move |piece| {
        let out = match piece {
            Piece::Text(t) => vec![chunk(json!({ "content": t }), None)],
            Piece::Call(t) => {
                call_text.push_str(&t);
                Vec::new()
            }
            Piece::Done {
                finish_reason,
                usage,
                ..
            } => {
                let calls = std::mem::take(&mut call_text);
                let (mut out, finish) = call_deltas(&calls, finish_reason, legacy, &chunk);
                out.push(chunk(json!({}), Some(finish)));
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

/// The assistant message and finish reason of a whole answer.
fn answer(
    mut text: String,
    calls: &str,
    finish: FinishReason,
    legacy: bool,
) -> (serde_json::Value, &'static str) {
    match tools::parse_calls(calls).filter(|_| finish == FinishReason::ToolCalls) {
        Some(calls) if legacy => {
            let c = &calls[0];
            let message = json!({
                "role": "assistant", "content": null,
                "function_call": { "name": c.name, "arguments": c.arguments.to_string() },
            });
            (message, "function_call")
        }
        Some(calls) => {
            let list: Vec<_> = calls
                .iter()
                .map(|c| {
                    json!({
                        "id": tools::call_id(), "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments.to_string() },
                    })
                })
                .collect();
            let content = (!text.is_empty()).then_some(text);
            let message = json!({ "role": "assistant", "content": content, "tool_calls": list });
            (message, "tool_calls")
        }
        None => {
            // Not a complete call (cut off by max_tokens): it is returned as text.
            text.push_str(calls);
            let finish = match finish {
                FinishReason::ToolCalls => FinishReason::Stop,
                f => f,
            };
            (
                json!({ "role": "assistant", "content": text }),
                finish.as_str(),
            )
        }
    }
}

/// Stream chunks for the calls at the end of an answer, as OpenAI sends them: per call, one
/// delta with index, id, type and name, then one with the arguments.
fn call_deltas(
    calls: &str,
    finish: FinishReason,
    legacy: bool,
    chunk: &impl Fn(serde_json::Value, Option<&str>) -> serde_json::Value,
) -> (Vec<serde_json::Value>, &'static str) {
    let parsed = tools::parse_calls(calls).filter(|_| finish == FinishReason::ToolCalls);
    let Some(parsed) = parsed else {
        let out = if calls.is_empty() {
            Vec::new()
        } else {
            vec![chunk(json!({ "content": calls }), None)]
        };
        let finish = match finish {
            FinishReason::ToolCalls => FinishReason::Stop,
            f => f,
        };
        return (out, finish.as_str());
    };
    if legacy {
        let c = &parsed[0];
        let out = vec![
            chunk(
                json!({ "function_call": { "name": c.name, "arguments": "" } }),
                None,
            ),
            chunk(
                json!({ "function_call": { "arguments": c.arguments.to_string() } }),
                None,
            ),
        ];
        return (out, "function_call");
    }
    let mut out = Vec::new();
    for (index, c) in parsed.iter().enumerate() {
        out.push(chunk(
            json!({ "tool_calls": [{ "index": index, "id": tools::call_id(), "type": "function",
                "function": { "name": c.name, "arguments": "" } }] }),
            None,
        ));
        out.push(chunk(
            json!({ "tool_calls": [{ "index": index, "function": { "arguments": c.arguments.to_string() } }] }),
            None,
        ));
    }
    (out, "tool_calls")
}
