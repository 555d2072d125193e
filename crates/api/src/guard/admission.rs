//! Refusing new generations while the daemon drains or the device is too hot.

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

/// Call at the start of every generating handler.
pub fn check(state: &AppState) -> Result<(), ApiError> {
    match refusal(state) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
