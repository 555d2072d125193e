//! Refusing new generations while the daemon drains or the device is too hot: one layer on
//! the generating routes (see [`crate::router`]).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Seconds a client should wait when the device is too hot.
const HOT_RETRY_AFTER: u64 = 30;

/// Why a new generation would be refused now, if it would.
pub fn refusal(state: &AppState) -> Option<ApiError> {
    if state.runtime.draining() {
        return Some(ApiError::Unavailable {
            message: "the server is shutting down; retry on another instance or later",
            retry_after: 5,
        });
    }
    if state.runtime.too_hot() {
        return Some(ApiError::Unavailable {
            message: "the device is too hot and is cooling down; retry later",
            retry_after: HOT_RETRY_AFTER,
        });
    }
    None
}

/// Middleware for the generating routes: 503 (with `Retry-After`) while draining or hot.
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match refusal(&state) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}
