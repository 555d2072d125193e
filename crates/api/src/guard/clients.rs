//! Per-client concurrency: one address (an IPv6 /64) may have at most
//! `--max-client-requests` generations queued or running, so one script cannot hold every
//! slot and the whole queue. The slot is held until the response body ends.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::body;
use crate::error::ApiError;
use crate::peer::request_key;
pub use crate::state::clients::{ClientPermit, ClientSlots};
use crate::state::AppState;

/// Middleware for the generating routes: 429 when this client is at its limit.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.clients.limit().is_none() {
        return next.run(req).await;
    }
    let Some(key) = request_key(&req, &state.access.trusted_proxies) else {
        return next.run(req).await;
    };
    let Some(permit) = state.clients.try_acquire(key) else {
        state.metrics.rate_limited.inc();
        return ApiError::TooManyInFlight {
            limit: state.clients.limit().unwrap_or(0),
        }
        .into_response();
    };
    let response = next.run(req).await;
    body::on_end(response, move |_| drop(permit))
}
