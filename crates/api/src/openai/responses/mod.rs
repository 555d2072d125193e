//! `POST /v1/responses`: OpenAI's Responses API, stateless (nothing is stored; the whole
//! conversation comes in `input`), whole or streamed as named events.
//!
//! - [`input`]: the request's fields mapped into the neutral request.
//! - [`output`]: the response object and its items.
//! - [`stream`]: the event sequence.

pub mod input;
pub mod output;
pub mod stream;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use edgellm_backend::{GenerateRequest, Prompt};
use futures::StreamExt;

use crate::error::ApiError;
use crate::generation;
use crate::json::JsonBody;
use crate::state::AppState;
use input::ResponsesBody;
use output::Head;

pub async fn handler(State(state): State<AppState>, body: JsonBody) -> Result<Response, ApiError> {
    let req: ResponsesBody = body.parse()?;
    req.refuse_unsupported()?;
    let params = req.sampling(state.limits.max_tokens_cap)?;
    let tools = req.tools()?;
    let messages = req.messages()?;
    let model = state.backend.model().map(|m| m.id).unwrap_or_default();
    let head = Head::new(model, &req);
    let events = generation::start(
        &state,
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            params,
            tools,
        },
    )
    .await?;
    if !req.stream {
        let done = generation::collect(events, Arc::clone(&state.metrics)).await?;
        let items = output::whole(&done.text, &done.calls, done.finish_reason);
        let state = output::State::finished(&items, done.finish_reason, &done.usage);
        return Ok(axum::Json(head.response(state)).into_response());
    }
    let mut events_out = stream::Events::new(head);
    let start = futures::stream::iter(events_out.start());
    let rest = generation::pieces(events, Arc::clone(&state.metrics))
        .flat_map(move |piece| futures::stream::iter(events_out.events(piece)));
    Ok(crate::sse::named(start.chain(rest)))
}
