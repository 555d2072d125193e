//! `POST /v1/completions` (legacy text completion). With a `suffix`, the model fills in the
//! middle between `prompt` and `suffix` (its FIM tokens).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{GenerateRequest, Infill, Prompt};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::params::CommonParams;
use super::{logprobs, new_id, now_unix, usage_json};
use crate::sse;
use std::sync::Arc;

use crate::error::ApiError;
use crate::generation::{self, Piece};
use crate::json::JsonBody;
use crate::state::AppState;

/// `prompt` may be a string or a one-element list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PromptField {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    pub prompt: PromptField,
    /// Text after the insertion point: fill in the middle.
    #[serde(default)]
    pub suffix: Option<String>,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: CompletionRequest = body.parse()?;
    let common: CommonParams = body.parse()?;
    let mut params = common.sampling(state.limits.max_tokens_cap)?;
    params.logprobs = common.completion_logprobs()?;
    let asked_logprobs = params.logprobs.is_some();
    let prompt = match req.prompt {
        PromptField::One(p) => p,
        PromptField::Many(mut v) if v.len() == 1 => v.remove(0),
        PromptField::Many(_) => {
            return Err(ApiError::invalid(
                "prompt",
                "only one prompt per request is supported",
            ))
        }
    };
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let prompt = match req.suffix.filter(|s| !s.is_empty()) {
        Some(suffix) => Prompt::Infill(Infill {
            prefix: prompt,
            suffix,
            ..Infill::default()
        }),
        None => Prompt::Text(prompt),
    };
    let events = generation::start(&state, GenerateRequest::new(prompt, params)).await?;
    let id = new_id("cmpl");
    let created = now_unix();
    let body = move |text: &str, finish: Option<&str>| {
        json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [{ "index": 0, "text": text, "logprobs": null, "finish_reason": finish }],
        })
    };
    if !common.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let mut out = body(&done.text, Some(done.finish_reason.as_str()));
        if asked_logprobs {
            out["choices"][0]["logprobs"] = logprobs::completion(&done.logprobs, 0);
        }
        out["usage"] = usage_json(&done.usage);
        return Ok(axum::Json(out).into_response());
    }
    let include_usage = common.include_usage();
    // Each text chunk carries its tokens' log probabilities, offsets counted from the start.
    let (mut pending, mut offset) = (Vec::new(), 0);
    let chunks = generation::pieces(events, Arc::clone(&state.metrics)).flat_map(move |piece| {
        let out = match piece {
            Piece::Logprobs(l) => {
                pending = l;
                Vec::new()
            }
            Piece::Text(t) => {
                let mut c = body(&t, None);
                if !pending.is_empty() {
                    c["choices"][0]["logprobs"] = logprobs::completion(&pending, offset);
                    pending.clear();
                }
                offset += t.chars().count();
                vec![c]
            }
            // Text completions offer no tools, so there are no calls.
            Piece::Calls(_) => Vec::new(),
            Piece::Done {
                finish_reason,
                usage,
                ..
            } => {
                let mut out = vec![body("", Some(finish_reason.as_str()))];
                if include_usage {
                    let mut last = body("", None);
                    last["choices"] = json!([]);
                    last["usage"] = usage_json(&usage);
                    out.push(last);
                }
                out
            }
            Piece::Error(e) => vec![e.body()],
        };
        futures::stream::iter(out)
    });
    Ok(sse::data_only(chunks))
}
