//! `GET /props`: llama.cpp server's description of itself, as clients written against it
//! read it (Frigate's llama.cpp mode reads the context size here): the context one request
//! may use, the slots, the model, what it takes in and the build.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn props(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let m = state.backend.model().ok_or_else(|| {
        ApiError::from(edgellm_backend::BackendError::Unavailable(
            "the model is still loading".into(),
        ))
    })?;
    let stats = state.backend.stats();
    Ok(Json(json!({
        "default_generation_settings": {
            "n_ctx": m.n_ctx_per_request,
            "model": m.id,
        },
        "total_slots": stats.slots_total,
        "model_path": m.id,
        "model_alias": m.id,
        "modalities": { "vision": false, "audio": false },
        "infill": m.infill.is_some(),
        "build_info": format!("edgellm {}", env!("CARGO_PKG_VERSION")),
    })))
}
