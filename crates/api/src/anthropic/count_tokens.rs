//! `POST /v1/messages/count_tokens`: the prompt's size in tokens (`{"input_tokens": N}`),
//! rendered as `/v1/messages` would render it, tools included.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::request::MessagesBody;
use crate::error::ApiError;
use crate::generation::off_workers;
use crate::json::JsonBody;
use crate::state::AppState;

pub async fn handler(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: MessagesBody = body.parse()?;
    let tools = req.tools()?.map(|t| t.definitions).unwrap_or_default();
    let chat = req.chat()?;
    let prefill = chat.prefill.unwrap_or_default();
    let messages = chat.messages;
    let count = off_workers(&state, move |b| {
        let prompt = b.apply_template(&messages, &tools)? + &prefill;
        Ok(b.tokenize(&prompt)?.len())
    })
    .await?;
    Ok(Json(json!({ "input_tokens": count })))
}
