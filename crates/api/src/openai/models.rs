//! `GET /v1/models` and `GET /v1/models/{id}`.

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
    Json(json!({ "object": "list", "data": data }))
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
