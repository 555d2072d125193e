//! API keys. Stored as SHA-256 digests and compared in constant time; never logged.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
pub use crate::state::keys::ApiKeys;
use crate::state::AppState;

/// The key a request presents, from `Authorization: Bearer` or `x-api-key`.
fn presented(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Middleware: 401 unless no keys are configured or a valid one is presented.
pub async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.keys.is_empty() || presented(&req).is_some_and(|k| state.keys.verify(k)) {
        return next.run(req).await;
    }
    state.metrics.auth_failures.inc();
    ApiError::Unauthorized.into_response()
}
