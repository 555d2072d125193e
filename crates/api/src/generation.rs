//! Reading a backend's event stream: all at once, or piece by piece.

use edgellm_backend::{
    Backend, BackendError, Event, EventStream, FinishReason, GenerateRequest, Timings,
    TokenLogprob, ToolCall, Usage,
};
use std::sync::Arc;

use edgellm_observe::Metrics;
use futures::Stream;
use futures::StreamExt;

use crate::error::ApiError;
use crate::state::AppState;

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    /// The tool calls the answer ended with (parsed by the engine), if any.
    pub calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub timings: Timings,
    /// The stop string that ended the answer, if one did.
    pub stop_sequence: Option<String>,
    /// The answer's tokens' log probabilities, when the request asked for them.
    pub logprobs: Vec<TokenLogprob>,
}

/// One item of a streamed generation, as endpoints render it.
#[derive(Debug)]
pub enum Piece {
    Text(String),
    /// The log probabilities of the tokens of the `Text` that follows (only when asked).
    Logprobs(Vec<TokenLogprob>),
    Calls(Vec<ToolCall>),
    Done {
        finish_reason: FinishReason,
        usage: Usage,
        timings: Timings,
        stop_sequence: Option<String>,
    },
    Error(ApiError),
}

/// Prepare a request off the async workers (template, tokeniser, grammars: up to
/// `--max-body-bytes` of text), then queue it with the backend, counting refusals for a
/// full queue.
pub async fn start(state: &AppState, request: GenerateRequest) -> Result<EventStream, ApiError> {
    let queued = match off_workers(state, move |backend| backend.prepare(request)).await {
        Ok(prepared) => state.backend.submit(prepared).map_err(ApiError::from),
        Err(e) => Err(e),
    };
    queued.inspect_err(|e| {
        if matches!(e, ApiError::Backend(BackendError::Overloaded { .. })) {
            state.metrics.overloaded.inc();
        }
    })
}

/// Run CPU-heavy backend work (template, tokenizer) on the blocking pool, at most
/// [`crate::state::PREP_CONCURRENCY`] at a time, so probes and streams on the async workers never stall.
pub async fn off_workers<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&dyn Backend) -> Result<T, BackendError> + Send + 'static,
) -> Result<T, ApiError> {
    // A bounded wait: behind a full set of preparations, the request is refused (503) rather
    // than held with its body for minutes.
    let _permit = match tokio::time::timeout(crate::state::PREP_WAIT, state.prep.acquire()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(BackendError::Unavailable("the server is stopping".into()).into()),
        Err(_) => {
            return Err(BackendError::Overloaded {
                queued: crate::state::PREP_CONCURRENCY,
                retry_after_secs: 1,
            }
            .into())
        }
    };
    let backend = Arc::clone(&state.backend);
    tokio::task::spawn_blocking(move || work(backend.as_ref()))
        .await
        .map_err(|e| BackendError::Internal(format!("request preparation failed: {e}")))?
        .map_err(ApiError::from)
}

/// Wait for the whole answer. Dropping this future (client gone) cancels the request.
pub async fn collect(events: EventStream, metrics: Arc<Metrics>) -> Result<Completion, ApiError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut logprobs = Vec::new();
    let mut pieces = std::pin::pin!(pieces(events, metrics));
    while let Some(piece) = pieces.next().await {
        match piece {
            Piece::Text(t) => text.push_str(&t),
            Piece::Logprobs(l) => logprobs.extend(l),
            Piece::Calls(c) => calls.extend(c),
            Piece::Done {
                finish_reason,
                usage,
                timings,
                stop_sequence,
            } => {
                return Ok(Completion {
                    text,
                    calls,
                    finish_reason,
                    usage,
                    timings,
                    stop_sequence,
                    logprobs,
                })
            }
            Piece::Error(e) => return Err(e),
        }
    }
    Err(lost())
}

/// The events as [`Piece`]s; a stream that ends without `Done` ends with an error piece.
/// Log probabilities are held until the text they belong to, and dropped for tokens whose
/// text is never sent (a stop string, a tool call).
pub fn pieces(
    events: EventStream,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = Piece> + Send + 'static {
    let start = Reading {
        events,
        logprobs: Vec::new(),
        text: None,
    };
    futures::stream::unfold(Some(start), move |state| {
        let metrics = Arc::clone(&metrics);
        async move {
            let mut r = state?;
            if let Some(t) = r.text.take() {
                return Some((Piece::Text(t), Some(r)));
            }
            loop {
                let piece = match r.events.recv().await {
                    None => return Some((Piece::Error(lost()), None)),
                    Some(Event::Started { .. }) => continue,
                    Some(Event::Logprob(l)) => {
                        r.logprobs.push(l);
                        continue;
                    }
                    Some(Event::Text(t)) if r.logprobs.is_empty() => {
                        return Some((Piece::Text(t), Some(r)))
                    }
                    Some(Event::Text(t)) => {
                        let logprobs = std::mem::take(&mut r.logprobs);
                        r.text = Some(t);
                        return Some((Piece::Logprobs(logprobs), Some(r)));
                    }
                    Some(Event::ToolCalls(c)) => {
                        r.logprobs.clear();
                        return Some((Piece::Calls(c), Some(r)));
                    }
                    Some(Event::Done {
                        finish_reason,
                        usage,
                        timings,
                        stop_sequence,
                    }) => {
                        record(&metrics, &usage, &timings);
                        Piece::Done {
                            finish_reason,
                            usage,
                            timings,
                            stop_sequence,
                        }
                    }
                    Some(Event::Error(e)) => Piece::Error(e.into()),
                };
                // Done and Error are final.
                return Some((piece, None));
            }
        }
    })
}

/// What [`pieces`] holds between items.
struct Reading {
    events: EventStream,
    /// Log probabilities waiting for their text.
    logprobs: Vec<TokenLogprob>,
    /// A text piece to send after its log probabilities.
    text: Option<String>,
}

/// Token log probabilities as OpenAI's chat and Ollama both list them: `[{"token",
/// "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]`.
pub fn logprob_entries(list: &[TokenLogprob]) -> Vec<serde_json::Value> {
    let entry = |token: &str, bytes: &[u8], logprob: f32| serde_json::json!({ "token": token, "logprob": logprob, "bytes": bytes });
    list.iter()
        .map(|t| {
            let mut e = entry(&t.token, &t.bytes, t.logprob);
            e["top_logprobs"] = t
                .top
                .iter()
                .map(|(tok, b, lp)| entry(tok, b, *lp))
                .collect();
            e
        })
        .collect()
}

fn lost() -> ApiError {
    edgellm_backend::BackendError::Internal("the engine ended the request without an answer".into())
        .into()
}

/// Time to first token and generation speed of a finished request.
fn record(metrics: &Metrics, usage: &Usage, timings: &Timings) {
    metrics
        .time_to_first_token
        .observe((timings.queue_us + timings.prompt_us) as f64 / 1e6);
    if usage.completion_tokens > 1 && timings.generation_us > 0 {
        let per_second =
            (usage.completion_tokens - 1) as f64 / (timings.generation_us as f64 / 1e6);
        metrics.generation_tokens_per_second.observe(per_second);
    }
}
