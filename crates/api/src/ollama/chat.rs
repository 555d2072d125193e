//! `POST /api/chat`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{GenerateRequest, Prompt};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::options::OllamaCommon;
use super::{done_fields, ndjson, now_rfc3339, OllamaError};
use crate::generation::{self, Piece};
use crate::guard;
use crate::json::JsonBody;
use crate::openai::chat::{to_messages, Message};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct ChatBody {
    messages: Vec<Message>,
}

pub async fn handler(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, OllamaError> {
    guard::admission::check(&state)?;
    let req: ChatBody = body.parse()?;
    let common: OllamaCommon = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let messages = to_messages(req.messages)?;
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            params,
        },
    )?;
    let line = move |content: &str| {
        json!({
            "model": model, "created_at": now_rfc3339(),
            "message": { "role": "assistant", "content": content }, "done": false,
        })
    };
    if !common.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let mut out = line(&done.text);
        done_fields(&mut out, done.finish_reason, &done.usage, &done.timings);
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
                out
            }
            Piece::Error(e) => json!({ "error": e.to_string() }),
        });
    Ok(ndjson(lines))
}
