//! `POST /api/chat`.

use axum::extract::State;
use axum::response::Response;
use edgellm_backend::{GenerateRequest, Prompt};
use serde::Deserialize;
use serde_json::json;

use super::options::OllamaCommon;
use super::{now_rfc3339, respond, OllamaError};
use crate::generation;
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
    )
    .await?;
    let line = move |content: &str| {
        json!({
            "model": model, "created_at": now_rfc3339(),
            "message": { "role": "assistant", "content": content }, "done": false,
        })
    };
    respond(&state, events, common.stream, line).await
}
