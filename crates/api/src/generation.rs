//! Reading a backend's event stream: all at once, or piece by piece.

use edgellm_backend::{Event, EventStream, FinishReason, Timings, Usage};
use futures::Stream;
use futures::StreamExt;

use crate::error::ApiError;

/// A finished generation.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub timings: Timings,
}

/// One item of a streamed generation, as endpoints render it.
#[derive(Debug)]
pub enum Piece {
    Text(String),
    Done {
        finish_reason: FinishReason,
        usage: Usage,
        timings: Timings,
    },
    Error(ApiError),
}

/// Wait for the whole answer. Dropping this future (client gone) cancels the request.
pub async fn collect(events: EventStream) -> Result<Completion, ApiError> {
    let mut text = String::new();
    let mut pieces = std::pin::pin!(pieces(events));
    while let Some(piece) = pieces.next().await {
        match piece {
            Piece::Text(t) => text.push_str(&t),
            Piece::Done {
                finish_reason,
                usage,
                timings,
            } => {
                return Ok(Completion {
                    text,
                    finish_reason,
                    usage,
                    timings,
                })
            }
            Piece::Error(e) => return Err(e),
        }
    }
    Err(lost())
}

/// The events as [`Piece`]s; a stream that ends without `Done` ends with an error piece.
pub fn pieces(events: EventStream) -> impl Stream<Item = Piece> + Send + 'static {
    futures::stream::unfold(Some(events), |state| async move {
        let mut events = state?;
        loop {
            let piece = match events.recv().await {
                None => return Some((Piece::Error(lost()), None)),
                Some(Event::Started { .. }) => continue,
                Some(Event::Text(t)) => return Some((Piece::Text(t), Some(events))),
                Some(Event::Done {
                    finish_reason,
                    usage,
                    timings,
                }) => Piece::Done {
                    finish_reason,
                    usage,
                    timings,
                },
                Some(Event::Error(e)) => Piece::Error(e.into()),
            };
            // Done and Error are final.
            return Some((piece, None));
        }
    })
}

fn lost() -> ApiError {
    edgellm_backend::BackendError::Internal("the engine ended the request without an answer".into())
        .into()
}
