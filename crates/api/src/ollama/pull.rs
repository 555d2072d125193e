//! `POST /api/pull`. The device serves the one model it was started with, so there is
//! nothing to download: pulling that model (any spelling, [`super::name`]) answers as
//! Ollama does when the model is already present, streamed progress lines ending in
//! `{"status":"success"}` (one object with `stream: false`); any other name is an
//! Ollama-shaped 404 saying which model this device serves. Home Assistant pulls a model it
//! does not find in `/api/tags`; Open WebUI passes pulls through.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{models::digest, name, ndjson};
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct PullBody {
    #[serde(alias = "name")]
    model: String,
    /// On unless `false`, as in Ollama.
    #[serde(default)]
    stream: Option<bool>,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: PullBody = body.parse()?;
    let m = state.backend.model().ok_or_else(|| {
        ApiError::from(edgellm_backend::BackendError::Unavailable(
            "the model is still loading".into(),
        ))
    })?;
    if !name::names(&req.model, &m.id) {
        return Err(ApiError::ModelNotFound {
            name: req.model,
            hint: format!(
                "; this device serves one model, '{}', and downloads none",
                name::tagged(&m.id)
            ),
        });
    }
    let success = json!({ "status": "success" });
    if req.stream == Some(false) {
        return Ok(axum::Json(success).into_response());
    }
    let digest = digest(&m);
    let lines = vec![
        json!({ "status": "pulling manifest" }),
        json!({
            "status": format!("pulling {}", &digest[..12]),
            "digest": format!("sha256:{digest}"),
            "total": m.size_bytes,
            "completed": m.size_bytes,
        }),
        json!({ "status": "verifying sha256 digest" }),
        json!({ "status": "writing manifest" }),
        success,
    ];
    Ok(ndjson(futures::stream::iter(lines)))
}
