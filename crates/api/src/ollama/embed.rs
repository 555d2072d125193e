//! `POST /api/embed` (`input`: string or list; `truncate`, default true) and the older
//! `POST /api/embeddings` (`prompt`: one string).

use std::time::Instant;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::request::embeddings::{self as embedding, Input};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct EmbedRequest {
    input: Input,
    #[serde(default)]
    truncate: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingsRequest {
    prompt: String,
}

pub async fn embed(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, ApiError> {
    let t0 = Instant::now();
    let req: EmbedRequest = body.parse()?;
    let texts = req.input.texts("input")?;
    let out = embedding::embed(&state, texts, req.truncate.unwrap_or(true)).await?;
    let model = state
        .backend
        .model()
        .map(|m| super::name::tagged(&m.id))
        .unwrap_or_default();
    Ok(Json(json!({
        "model": model,
        "embeddings": out.vectors,
        "total_duration": t0.elapsed().as_nanos() as u64,
        "load_duration": 0,
        "prompt_eval_count": out.prompt_tokens,
    })))
}

pub async fn embeddings(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: EmbeddingsRequest = body.parse()?;
    let out = embedding::embed(&state, vec![req.prompt], true).await?;
    Ok(Json(json!({ "embedding": out.vectors.first() })))
}
