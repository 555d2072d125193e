//! `GET /v1/models` and `GET /v1/models/{id}`, readable by OpenAI's and Anthropic's clients
//! alike (each entry also carries Anthropic's `type`, `display_name` and `created_at`; the
//! list its `has_more`, `first_id`, `last_id`).

use axum::extract::{Path, State};
use axum::Json;
use edgellm_backend::ModelInfo;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

fn model_json(m: &ModelInfo) -> Value {
    json!({
        "id": m.id,
        "object": "model",
        "created": m.modified_unix,
        "owned_by": "edgellm",
        "type": "model",
        "display_name": m.id,
        "created_at": crate::ollama::rfc3339(m.modified_unix),
        "meta": {
            "n_ctx": m.n_ctx_per_request,
            "n_ctx_embedding": m.n_ctx_embedding,
            "embedding_dims": m.embedding_dims,
            "embedding_model": m.embedding_model,
            "n_ctx_train": m.n_ctx_train,
            "n_params": m.n_params,
            "size": m.size_bytes,
            "architecture": m.architecture,
            "quantization": m.quantization,
            "cpu_backend": m.cpu.backend,
            "cpu_features": m.cpu.features,
            "cpu": m.cpu.cpu,
        },
    })
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state.backend.model().iter().map(model_json).collect();
    let first = data.first().map(|m| m["id"].clone());
    let last = data.last().map(|m| m["id"].clone());
    Json(json!({
        "object": "list", "data": data,
        "has_more": false, "first_id": first, "last_id": last,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.backend.model() {
        Some(m) if m.id == id => Ok(Json(model_json(&m))),
        _ => Err(ApiError::NotFound {
            method: "GET".into(),
            path: format!("/v1/models/{id}"),
        }),
    }
}
