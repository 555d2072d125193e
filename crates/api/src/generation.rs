//! Reading a backend's event stream: all at once, or piece by piece.

use edgellm_backend::{
    Backend, BackendError, Event, EventStream, FinishReason, GenerateRequest, Timings, ToolCall,
    Usage,
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
}

/// One item of a streamed generation, as endpoints render it.
#[derive(Debug)]
pub enum Piece {
    Text(String),
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
    let mut pieces = std::pin::pin!(pieces(events, metrics));
    while let Some(piece) = pieces.next().await {
        match piece {
            Piece::Text(t) => text.push_str(&t),
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
                })
            }
            Piece::Error(e) => return Err(e),
        }
    }
    Err(lost())
}

/// The events as [`Piece`]s; a stream that ends without `Done` ends with an error piece.
pub fn pieces(
    events: EventStream,
    metrics: Arc<Metrics>,
) -> impl Stream<Item = Piece> + Send + 'static {
    futures::stream::unfold(Some(events), move |state| {
        let metrics = Arc::clone(&metrics);
        async move {
            let mut events = state?;
            loop {
                let piece = match events.recv().await {
                    None => return Some((Piece::Error(lost()), None)),
                    Some(Event::Started { .. }) => continue,
                    Some(Event::Text(t)) => return Some((Piece::Text(t), Some(events))),
                    Some(Event::ToolCalls(c)) => return Some((Piece::Calls(c), Some(events))),
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
