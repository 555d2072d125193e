//! Request ids, one structured log line per request, and per-route metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::body::{self, Outcome};
use crate::state::AppState;

/// Middleware around every route. Logs method, route, status and duration under a request
/// id that is also returned as `x-request-id`. Never logs headers or bodies (keys, prompts).
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut response = next.run(req).await;
    let status = response.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    // Logged and measured when the body ends (a stream's real length and outcome), not
    // when the headers leave.
    let metrics = std::sync::Arc::clone(&state.metrics);
    body::on_end(response, move |outcome| {
        let seconds = started.elapsed().as_secs_f64();
        // A stream the client abandoned is counted as 499 (nginx's "client closed request").
        let status = if outcome == Outcome::Aborted && status < 400 {
            499
        } else {
            status
        };
        metrics.observe_request(&route, status, seconds);
        if route != "/healthz" && route != "/readyz" && route != "/metrics" {
            tracing::info!(request_id = %id, %method, %route, status, outcome = outcome.as_str(), duration_ms = (seconds * 1000.0) as u64, "request");
        }
    })
}
