//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{FinishReason, GenerateRequest, Prompt, ToolCall};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::params::CommonParams;
use super::{logprobs, new_id, now_unix, usage_json};
use crate::sse;
use std::sync::Arc;

use crate::error::ApiError;
use crate::generation::{self, Piece};
use crate::json::JsonBody;
use crate::request::messages::{to_messages, Message};
use crate::request::tools::ToolFields;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: ChatRequest = body.parse()?;
    let common: CommonParams = body.parse()?;
    let tool_fields: ToolFields = body.parse()?;
    let mut params = common.sampling(state.limits.max_tokens_cap)?;
    params.logprobs = common.chat_logprobs()?;
    let asked_logprobs = params.logprobs.is_some();
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
        let message = answer(done.text, &done.calls, legacy);
        let finish = finish(done.finish_reason, legacy);
        return Ok(axum::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": asked_logprobs.then(|| logprobs::chat(&done.logprobs)),
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
    // A text chunk carries its own tokens' log probabilities (they arrive just before it).
    let mut pending = Vec::new();
    let first = chunk(json!({ "role": "assistant", "content": "" }), None);
    // Calls arrive whole, parsed by the engine, just before the end.
    let rest = generation::pieces(events, Arc::clone(&state.metrics)).flat_map(move |piece| {
        let out = match piece {
            Piece::Logprobs(l) => {
                pending = l;
                Vec::new()
            }
            Piece::Text(t) => {
                let mut c = chunk(json!({ "content": t }), None);
                if !pending.is_empty() {
                    c["choices"][0]["logprobs"] = logprobs::chat(&std::mem::take(&mut pending));
                }
                vec![c]
            }
            Piece::Calls(calls) => call_deltas(&calls, legacy, &chunk),
            Piece::Done {
                finish_reason,
                usage,
                ..
            } => {
                let mut out = vec![chunk(json!({}), Some(finish(finish_reason, legacy)))];
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
    Ok(sse::data_only(
        futures::stream::once(async { first }).chain(rest),
    ))
}

/// An id for a call, as OpenAI forms them.
fn call_id() -> String {
    format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

/// OpenAI's finish reason; the legacy `functions` form ends its call with `function_call`.
fn finish(reason: FinishReason, legacy: bool) -> &'static str {
    match reason {
        FinishReason::ToolCalls if legacy => "function_call",
        r => r.as_str(),
    }
}

/// The assistant message of a whole answer. `refusal` is always there (the spec requires
/// it; this model never refuses in that structured way, so it is `null`).
fn answer(text: String, calls: &[ToolCall], legacy: bool) -> serde_json::Value {
    match calls {
        [] => json!({ "role": "assistant", "content": text, "refusal": null }),
        [c, ..] if legacy => json!({
            "role": "assistant", "content": null, "refusal": null,
            "function_call": { "name": c.name, "arguments": c.arguments.to_string() },
        }),
        calls => {
            let list: Vec<_> = calls
                .iter()
                .map(|c| {
                    json!({
                        "id": call_id(), "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments.to_string() },
                    })
                })
                .collect();
            let content = (!text.is_empty()).then_some(text);
            json!({ "role": "assistant", "content": content, "refusal": null, "tool_calls": list })
        }
    }
}

/// Stream chunks for the calls at the end of an answer, as OpenAI sends them: per call, one
/// delta with index, id, type and name, then one with the arguments.
fn call_deltas(
    calls: &[ToolCall],
    legacy: bool,
    chunk: &impl Fn(serde_json::Value, Option<&str>) -> serde_json::Value,
) -> Vec<serde_json::Value> {
    if legacy {
        let Some(c) = calls.first() else {
            return Vec::new();
        };
        return vec![
            chunk(
                json!({ "function_call": { "name": c.name, "arguments": "" } }),
                None,
            ),
            chunk(
                json!({ "function_call": { "arguments": c.arguments.to_string() } }),
                None,
            ),
        ];
    }
    let mut out = Vec::new();
    for (index, c) in calls.iter().enumerate() {
        out.push(chunk(
            json!({ "tool_calls": [{ "index": index, "id": call_id(), "type": "function",
                "function": { "name": c.name, "arguments": "" } }] }),
            None,
        ));
        out.push(chunk(
            json!({ "tool_calls": [{ "index": index, "function": { "arguments": c.arguments.to_string() } }] }),
            None,
        ));
    }
    out
}
