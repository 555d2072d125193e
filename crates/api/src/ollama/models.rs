//! `GET /api/tags`, `POST /api/show`, `GET /api/ps`, `GET /api/version`: the one loaded
//! model as Ollama lists it (named `name:tag`, [`super::name`]).

use axum::extract::State;
use axum::Json;
use edgellm_backend::ModelInfo;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{name, rfc3339};
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;

/// The Ollama API version we follow (that of `../shared/specs/ollama-openapi.yaml`),
/// reported by `/api/version`: clients enable tools (0.3+) and `think` (0.9+) by it.
const OLLAMA_API_VERSION: &str = "0.12.6";

fn details(m: &ModelInfo) -> Value {
    json!({
        "parent_model": "",
        "format": "gguf",
        "family": m.architecture,
        "families": [m.architecture],
        "parameter_size": format!("{:.1}B", m.n_params as f64 / 1e9),
        "quantization_level": m.quantization,
    })
}

/// A stable pseudo-digest (Ollama reports a sha256 of the blob; hashing 0.5 GB at every
/// request would be wasteful, so this digests identity and size instead).
pub(crate) fn digest(m: &ModelInfo) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}:{}:{}", m.id, m.size_bytes, m.modified_unix));
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(m: &ModelInfo) -> Value {
    let name = name::tagged(&m.id);
    json!({
        "name": name,
        "model": name,
        "modified_at": rfc3339(m.modified_unix),
        "size": m.size_bytes,
        "digest": digest(m),
        "details": details(m),
    })
}

pub async fn tags(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state.backend.model().iter().map(entry).collect();
    Json(json!({ "models": models }))
}

pub async fn ps(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state
        .backend
        .model()
        .iter()
        .map(|m| {
            let mut e = entry(m);
            // Loaded for as long as the daemon runs.
            e["expires_at"] = json!("9999-12-31T23:59:59Z");
            e["size_vram"] = json!(0);
            e["context_length"] = json!(m.n_ctx_per_request);
            e
        })
        .collect();
    Json(json!({ "models": models }))
}

#[derive(Debug, Deserialize)]
struct ShowBody {
    #[serde(default, alias = "name")]
    model: Option<String>,
}

pub async fn show(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, ApiError> {
    let req: ShowBody = body.parse()?;
    let m = state.backend.model().ok_or_else(|| {
        ApiError::from(edgellm_backend::BackendError::Unavailable(
            "the model is still loading".into(),
        ))
    })?;
    if let Some(asked) = req.model.filter(|n| !name::names(n, &m.id)) {
        return Err(ApiError::ModelNotFound {
            name: asked,
            hint: String::new(),
        });
    }
    let template = state
        .backend
        .apply_template(
            &[edgellm_backend::ChatMessage::new("user", "{{ .Prompt }}")],
            &[],
        )
        .unwrap_or_default();
    // Clients (Continue) read a template that uses `.Suffix` as "this model fills in the
    // middle", as Ollama's code-model templates do.
    let template = match &m.infill {
        Some([pre, suf, mid]) => format!(
            "{{{{- if .Suffix }}}}{pre}{{{{ .Prompt }}}}{suf}{{{{ .Suffix }}}}{mid}{{{{- else }}}}{template}{{{{- end }}}}"
        ),
        None => template,
    };
    Ok(Json(json!({
        "license": "",
        "modelfile": format!("FROM {}\n", name::tagged(&m.id)),
        "parameters": format!("num_ctx {}", m.n_ctx_per_request),
        "template": template,
        "details": details(&m),
        "model_info": {
            "general.architecture": m.architecture,
            "general.parameter_count": m.n_params,
            format!("{}.context_length", m.architecture): m.n_ctx_train,
        },
        "capabilities": capabilities(&m),
        "modified_at": rfc3339(m.modified_unix),
    })))
}

/// What Ollama's clients may ask of the model: `insert` (a `suffix`) only with FIM tokens.
fn capabilities(m: &ModelInfo) -> Vec<&'static str> {
    let mut c = vec!["completion", "tools", "embedding"];
    if m.infill.is_some() {
        c.push("insert");
    }
    c
}

pub async fn version() -> Json<Value> {
    Json(json!({ "version": OLLAMA_API_VERSION }))
}
