//! `POST /api/generate`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{ChatMessage, GenerateRequest, Prompt};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::options::OllamaCommon;
use super::{done_fields, ndjson, now_rfc3339, OllamaError};
use crate::generation::{self, Piece};
use crate::guard;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct GenerateBody {
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    system: Option<String>,
    /// `raw: true` sends the prompt as is, without the chat template.
    #[serde(default)]
    raw: bool,
}

pub async fn handler(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, OllamaError> {
    guard::admission::check(&state)?;
    let req: GenerateBody = body.parse()?;
    let common: OllamaCommon = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    if req.prompt.is_empty() && req.system.is_none() {
        // Ollama answers an empty prompt by loading the model and reporting done.
        return Ok(axum::Json(json!({
            "model": model, "created_at": now_rfc3339(), "response": "", "done": true, "done_reason": "load",
        }))
        .into_response());
    }
    let prompt = if req.raw {
        Prompt::Text(req.prompt)
    } else {
        let mut messages = Vec::new();
        if let Some(system) = req.system {
            messages.push(ChatMessage {
                role: "system".into(),
                content: system,
            });
        }
        messages.push(ChatMessage {
            role: "user".into(),
            content: req.prompt,
        });
        Prompt::Chat(messages)
    };
    let events = generation::start(&state, GenerateRequest { prompt, params })?;
    let line = move |response: &str| json!({ "model": model, "created_at": now_rfc3339(), "response": response, "done": false });
    if !common.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let mut out = line(&done.text);
        done_fields(&mut out, done.finish_reason, &done.usage, &done.timings);
        out["context"] = json!([]);
        return Ok(axum::Json(out).into_response());
    }
    let lines =
        generation::pieces(events, Arc::clone(&state.metrics)).map(move |piece| match piece {
            Piece::Text(t) => line(&t),
            Piece::Done {
                finish_reason,
                usage,
                timings,
            } => {
                let mut out = line("");
                done_fields(&mut out, finish_reason, &usage, &timings);
                out["context"] = json!([]);
                out
            }
            Piece::Error(e) => json!({ "error": e.to_string() }),
        });
    Ok(ndjson(lines))
}
