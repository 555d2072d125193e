//! Server-sent events as OpenAI streams them: `data: {json}` frames, then `data: [DONE]`.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// Comment lines keep idle connections (and proxies) from timing out during long prompts.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Frame a stream of JSON chunks, append `[DONE]`, and ask proxies not to buffer.
pub fn response(chunks: impl Stream<Item = serde_json::Value> + Send + 'static) -> Response {
    let events = chunks
        .map(|chunk| Event::default().data(chunk.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }))
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
