//! `POST /api/generate`. With a `suffix`, the model fills in the middle (code completion
//! between `prompt` and `suffix`, with the model's FIM tokens), as Ollama does for code
//! models.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{ChatMessage, GenerateRequest, Infill, Prompt};
use serde::Deserialize;
use serde_json::json;

use super::options::OllamaCommon;
use super::{now_rfc3339, respond};
use crate::error::ApiError;
use crate::generation;
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
    /// Code after the cursor: fill in the middle.
    #[serde(default)]
    suffix: Option<String>,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: GenerateBody = body.parse()?;
    let common: OllamaCommon = body.parse()?;
    let params = common.sampling(state.limits.max_tokens_cap)?;
    let model = state
        .backend
        .model()
        .map(|m| super::name::tagged(&m.id))
        .unwrap_or_default();
    let suffix = req.suffix.filter(|s| !s.is_empty());
    if req.prompt.is_empty() && req.system.is_none() && suffix.is_none() {
        // Ollama answers an empty prompt by loading the model and reporting done.
        return Ok(axum::Json(json!({
            "model": model, "created_at": now_rfc3339(), "response": "", "done": true, "done_reason": "load",
        }))
        .into_response());
    }
    let prompt = if let Some(suffix) = suffix {
        Prompt::Infill(Infill {
            prefix: req.prompt,
            suffix,
            ..Infill::default()
        })
    } else if req.raw {
        Prompt::Text(req.prompt)
    } else {
        let mut messages = Vec::new();
        if let Some(system) = req.system {
            messages.push(ChatMessage::new("system", system));
        }
        messages.push(ChatMessage::new("user", req.prompt));
        Prompt::Chat(messages)
    };
    let events = generation::start(&state, GenerateRequest::new(prompt, params)).await?;
    let line = move |response: &str| json!({ "model": model, "created_at": now_rfc3339(), "response": response, "done": false });
    respond(&state, events, common.stream, line).await
}
