//! Embedding requests, shared by `POST /v1/embeddings`, `POST /api/embed` and
//! `POST /api/embeddings`.

use edgellm_backend::{BackendError, Embeddings};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::generation::off_workers;
use crate::state::AppState;

/// `input`: one string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    One(String),
    Many(Vec<Value>),
}

impl Input {
    /// The texts, or an error naming `field`. Token-id arrays (which OpenAI accepts) are
    /// refused: ids from another tokenizer (tiktoken) mean nothing to this model.
    pub fn texts(self, field: &str) -> Result<Vec<String>, ApiError> {
        match self {
            Input::One(s) => Ok(vec![s]),
            Input::Many(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    Value::Number(_) | Value::Array(_) => Err(ApiError::invalid(
                        field,
                        format!("'{field}' holds token ids; send text instead (ids from another tokenizer mean nothing to this model; in LangChain set check_embedding_ctx_length=False)"),
                    )),
                    other => Err(ApiError::invalid(
                        format!("{field}[{i}]"),
                        format!("'{field}[{i}]' must be a string, got {other}"),
                    )),
                })
                .collect(),
        }
    }
}

/// Embed `inputs` on the engine. Dropping this future (client gone) before the engine gets
/// to the request skips it.
pub async fn embed(
    state: &AppState,
    inputs: Vec<String>,
    truncate: bool,
) -> Result<Embeddings, ApiError> {
    let rx = off_workers(state, move |b| b.embed(inputs, truncate)).await?;
    rx.await
        .map_err(|_| BackendError::Internal("the engine dropped the embedding request".into()))?
        .map_err(ApiError::from)
}
