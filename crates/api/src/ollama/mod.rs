//! Ollama-compatible endpoints, one file each, for tools written against Ollama's API.
//!
//! - [`generate`]: `POST /api/generate`
//! - [`chat`]: `POST /api/chat` (with tools)
//! - [`embed`]: `POST /api/embed`, `POST /api/embeddings`
//! - [`models`]: `GET /api/tags`, `POST /api/show`, `GET /api/ps`, `GET /api/version`
//! - [`pull`]: `POST /api/pull` (the served model is always present)
//! - [`name`]: `name:tag` model names, every spelling of the served one accepted
//! - [`options`]: the `options` object and `format`, mapped to sampling parameters.
//!
//! Streams are NDJSON (one object per line), on by default as in Ollama. Errors are
//! `{"error": "..."}` with the status our [`ApiError`] table gives ([`error_shape`]).

pub mod chat;
pub mod embed;
pub mod generate;
pub mod models;
pub mod name;
pub mod options;
pub mod pull;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use edgellm_backend::{FinishReason, Timings, ToolCall, Usage};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};

use crate::error::ApiError;

/// The layer that gives every error on `/api/*` Ollama's shape, `{"error": "..."}`, status
/// and headers kept, whichever layer produced it ([`crate::error::reshape`]).
pub async fn error_shape(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    crate::error::reshape(
        req,
        next,
        |path| path.starts_with("/api/"),
        |_, message| json!({ "error": message }),
    )
    .await
}

/// RFC 3339 time for `created_at`.
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The statistics Ollama puts on the final object (durations in nanoseconds).
pub(crate) fn done_fields(out: &mut Value, reason: FinishReason, usage: &Usage, timings: &Timings) {
    let ns = |us: u64| us * 1000;
    out["done"] = json!(true);
    // Ollama ends an answer with tool calls with "stop".
    let reason = match reason {
        FinishReason::ToolCalls => FinishReason::Stop,
        r => r,
    };
    out["done_reason"] = json!(reason.as_str());
    out["total_duration"] = json!(ns(timings.queue_us
        + timings.prompt_us
        + timings.generation_us));
    out["load_duration"] = json!(0);
    out["prompt_eval_count"] = json!(usage.prompt_tokens);
    out["prompt_eval_duration"] = json!(ns(timings.prompt_us));
    out["eval_count"] = json!(usage.completion_tokens);
    out["eval_duration"] = json!(ns(timings.generation_us));
    if out.get("response").is_some() {
        // /api/generate's final object carries a (here always empty) context.
        out["context"] = json!([]);
    }
}

/// Answer one generation: a single object (`stream: false`) or NDJSON lines. `line` wraps a
/// text piece in the endpoint's in-progress object; the last object gets the done fields.
/// Tool calls go into `message.tool_calls` (arguments as objects), on the final object or,
/// streamed, on one object of their own before it, as Ollama sends them.
pub(crate) async fn respond(
    state: &crate::state::AppState,
    events: edgellm_backend::EventStream,
    stream: bool,
    line: impl Fn(&str) -> Value + Send + 'static,
) -> Result<Response, ApiError> {
    use crate::generation::{self, Piece};
    let metrics = std::sync::Arc::clone(&state.metrics);
    if !stream {
        let done = generation::collect(events, metrics).await?;
        let mut out = line(&done.text);
        if !done.logprobs.is_empty() {
            out["logprobs"] = logprobs_json(&done.logprobs);
        }
        if !done.calls.is_empty() {
            out["message"]["tool_calls"] = ollama_calls(&done.calls);
        }
        done_fields(&mut out, done.finish_reason, &done.usage, &done.timings);
        return Ok(axum::Json(out).into_response());
    }
    // A text line carries its tokens' log probabilities (they arrive just before it).
    let mut pending = Vec::new();
    let lines = generation::pieces(events, metrics).flat_map(move |piece| {
        let out = match piece {
            Piece::Logprobs(l) => {
                pending = l;
                Vec::new()
            }
            Piece::Text(t) => {
                let mut l = line(&t);
                if !pending.is_empty() {
                    l["logprobs"] = logprobs_json(&std::mem::take(&mut pending));
                }
                vec![l]
            }
            Piece::Calls(calls) => {
                let mut l = line("");
                l["message"]["tool_calls"] = ollama_calls(&calls);
                vec![l]
            }
            Piece::Done {
                finish_reason,
                usage,
                timings,
                ..
            } => {
                let mut last = line("");
                done_fields(&mut last, finish_reason, &usage, &timings);
                vec![last]
            }
            Piece::Error(e) => vec![json!({ "error": e.to_string() })],
        };
        futures::stream::iter(out)
    });
    Ok(ndjson(lines))
}

/// Ollama's `logprobs`: `[{"token", "logprob", "bytes", "top_logprobs": [...]}]`.
fn logprobs_json(list: &[edgellm_backend::TokenLogprob]) -> Value {
    Value::Array(crate::generation::logprob_entries(list))
}

/// Ollama's `tool_calls`: arguments as objects.
fn ollama_calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| json!({ "function": { "name": c.name, "arguments": c.arguments } }))
        .collect()
}

/// One JSON object per line.
pub(crate) fn ndjson(lines: impl Stream<Item = Value> + Send + 'static) -> Response {
    let body =
        Body::from_stream(lines.map(|v| Ok::<_, std::convert::Infallible>(format!("{v}\n"))));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_328_071), "2026-11-22T06:14:31Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
