//! `POST /v1/embeddings`: `input` as a string or a list, `encoding_format` `float` or
//! `base64` (little-endian f32), vectors of unit length.

use axum::extract::State;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::request::embeddings::{self as embedding, Input};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct EmbeddingsRequest {
    input: Input,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<u64>,
}

pub async fn handler(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let req: EmbeddingsRequest = body.parse()?;
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "encoding_format",
                format!("'encoding_format' must be 'float' or 'base64', got '{other}'"),
            ))
        }
    };
    let model = state.backend.model();
    let dims = model.as_ref().map_or(0, |m| m.embedding_dims);
    if let Some(d) = req.dimensions.filter(|&d| d as usize != dims) {
        return Err(ApiError::invalid(
            "dimensions",
            format!(
                "this model's embeddings have {dims} dimensions; 'dimensions' {d} is not supported"
            ),
        ));
    }
    let texts = req.input.texts("input")?;
    let out = embedding::embed(&state, texts, false).await?;
    let data: Vec<Value> = out
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model.map(|m| m.id).unwrap_or_default(),
        "usage": { "prompt_tokens": out.prompt_tokens, "total_tokens": out.prompt_tokens },
    })))
}
