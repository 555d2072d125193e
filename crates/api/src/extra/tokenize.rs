//! `POST /tokenize` (`{"content": "..."}` -> `{"tokens": [...]}`) and
//! `POST /apply-template` (`{"messages": [...], "tools": [...]}` -> `{"prompt": "..."}`).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::generation::off_workers;
use crate::json::JsonBody;
use crate::request::messages::{to_messages, Message};
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
    let tokens = off_workers(&state, move |b| b.tokenize(&req.content)).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn apply_template(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: TemplateRequest = body.parse()?;
    let tools = body
        .parse::<crate::request::tools::ToolFields>()?
        .to_tools()?
        .map(|t| t.definitions)
        .unwrap_or_default();
    let messages = to_messages(req.messages)?;
    let prompt = off_workers(&state, move |b| b.apply_template(&messages, &tools)).await?;
    Ok(Json(json!({ "prompt": prompt })))
}
