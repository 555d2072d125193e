//! `POST /tokenize` (`{"content": "..."}` -> `{"tokens": [...]}`) and
//! `POST /apply-template` (`{"messages": [...]}` -> `{"prompt": "..."}`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::openai::chat::{to_messages, Message};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct TokenizeRequest {
    content: String,
}

#[derive(Debug, Deserialize)]
struct TemplateRequest {
    messages: Vec<Message>,
}

pub async fn tokenize(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: TokenizeRequest = body.parse()?;
    let tokens = state.backend.tokenize(&req.content)?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn apply_template(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: TemplateRequest = body.parse()?;
    let prompt = state.backend.apply_template(&to_messages(req.messages)?)?;
    Ok(Json(json!({ "prompt": prompt })))
}
