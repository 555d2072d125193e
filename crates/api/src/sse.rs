//! Server-sent events, as the dialects frame them: OpenAI's chat and completions stream
//! `data: {json}` frames ending in `data: [DONE]` ([`data_only`]); llama.cpp's `/infill`
//! the frames alone ([`frames`]); the Responses and Anthropic Messages APIs name each event
//! (`event: name`, then `data: {json}`; [`named`]).

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::Value;

/// Comment lines keep idle connections (and proxies) from timing out during long prompts.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Frame a stream of JSON chunks, append `[DONE]`, and ask proxies not to buffer.
pub fn data_only(chunks: impl Stream<Item = Value> + Send + 'static) -> Response {
    let events = chunks
        .map(|chunk| Event::default().data(chunk.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }));
    respond(events)
}

/// Frame a stream of JSON objects as `data:` frames only, as llama.cpp's own endpoints do.
pub fn frames(chunks: impl Stream<Item = Value> + Send + 'static) -> Response {
    respond(chunks.map(|chunk| Event::default().data(chunk.to_string())))
}

/// Frame `(name, data)` pairs as named events.
pub fn named(events: impl Stream<Item = (&'static str, Value)> + Send + 'static) -> Response {
    respond(events.map(|(name, data)| Event::default().event(name).data(data.to_string())))
}

fn respond(events: impl Stream<Item = Event> + Send + 'static) -> Response {
    let mut response = Sse::new(events.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
