//! `POST /infill`: llama.cpp server's code completion, as editor plugins (llama.vim,
//! llama.vscode) call it: `input_prefix`, `input_suffix`, `input_extra` (other files'
//! chunks), `prompt`; sampling as `/completion` takes it (`n_predict`, `temperature`,
//! `top_k`, `top_p`, `min_p`, `seed`, `stop`, penalties). The answer is llama-server's
//! `{"content", "stop": true, "tokens_predicted", "timings", ...}`; streamed, one
//! `data: {"content", "stop": false}` frame per piece and the same final object.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{FinishReason, GenerateRequest, Infill, Prompt, Timings, Usage};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::generation::{self, Piece};
use crate::json::JsonBody;
use crate::request::sampling::{Field, Sampling};
use crate::state::AppState;

/// Most chunks of other files one request may carry.
const MAX_EXTRA: usize = 256;

#[derive(Debug, Deserialize)]
struct InfillBody {
    #[serde(default)]
    input_prefix: String,
    #[serde(default)]
    input_suffix: String,
    #[serde(default)]
    input_extra: Vec<ExtraChunk>,
    #[serde(default)]
    prompt: String,
    #[serde(default, deserialize_with = "crate::json::null_as_default")]
    stream: bool,
    n_predict: Option<i64>,
    temperature: Option<f32>,
    top_k: Option<i64>,
    top_p: Option<f32>,
    min_p: Option<f32>,
    seed: Option<i64>,
    #[serde(default)]
    stop: Option<Vec<String>>,
    repeat_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct ExtraChunk {
    #[serde(default)]
    filename: String,
    #[serde(default)]
    text: String,
}

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: InfillBody = body.parse()?;
    if req.input_extra.len() > MAX_EXTRA {
        return Err(ApiError::invalid(
            "input_extra",
            format!("at most {MAX_EXTRA} chunks are allowed in 'input_extra'"),
        ));
    }
    let params = Sampling {
        temperature: Field::new("temperature", req.temperature),
        top_p: Field::new("top_p", req.top_p),
        top_k: Field::new("top_k", req.top_k),
        min_p: Field::new("min_p", req.min_p),
        // llama-server's -1 means "no seed" and "no limit".
        seed: req.seed.filter(|&s| s >= 0),
        presence_penalty: Field::new("presence_penalty", req.presence_penalty),
        frequency_penalty: Field::new("frequency_penalty", req.frequency_penalty),
        repeat_penalty: Field::new("repeat_penalty", req.repeat_penalty),
        max_tokens: Field::new("n_predict", req.n_predict.filter(|&n| n != -1)),
        stop: Field::new("stop", req.stop),
        format: None,
    }
    .validate(state.limits.max_tokens_cap)?;
    let infill = Infill {
        prefix: req.input_prefix,
        suffix: req.input_suffix,
        prompt: req.prompt,
        extra: req
            .input_extra
            .into_iter()
            .map(|c| (c.filename, c.text))
            .collect(),
    };
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let events =
        generation::start(&state, GenerateRequest::new(Prompt::Infill(infill), params)).await?;
    if !req.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let out = last(
            &model,
            done.text,
            done.finish_reason,
            &done.usage,
            &done.timings,
        );
        return Ok(axum::Json(out).into_response());
    }
    let frames = generation::pieces(events, Arc::clone(&state.metrics)).filter_map(move |piece| {
        let frame = match piece {
            Piece::Text(t) => Some(json!({ "content": t, "stop": false })),
            Piece::Calls(_) | Piece::Logprobs(_) => None,
            Piece::Done {
                finish_reason,
                usage,
                timings,
                ..
            } => Some(last(&model, String::new(), finish_reason, &usage, &timings)),
            Piece::Error(e) => Some(e.body()),
        };
        futures::future::ready(frame)
    });
    Ok(crate::sse::frames(frames))
}

/// llama-server's final object.
fn last(model: &str, content: String, reason: FinishReason, usage: &Usage, t: &Timings) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    let per_second = |n: usize, us: u64| {
        if us == 0 {
            0.0
        } else {
            n as f64 * 1e6 / us as f64
        }
    };
    let evaluated = usage.prompt_tokens - usage.cached_tokens.min(usage.prompt_tokens);
    json!({
        "content": content,
        "stop": true,
        "model": model,
        "stop_type": if reason == FinishReason::Length { "limit" } else { "eos" },
        "tokens_predicted": usage.completion_tokens,
        "tokens_evaluated": usage.prompt_tokens,
        "tokens_cached": usage.cached_tokens,
        "truncated": false,
        "timings": {
            "prompt_n": evaluated,
            "prompt_ms": ms(t.prompt_us),
            "prompt_per_second": per_second(evaluated, t.prompt_us),
            "predicted_n": usage.completion_tokens,
            "predicted_ms": ms(t.generation_us),
            "predicted_per_second": per_second(usage.completion_tokens, t.generation_us),
        },
    })
}
