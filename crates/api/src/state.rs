//! What every handler can reach.

use std::sync::Arc;

use edgellm_backend::Backend;

/// Request limits enforced by the API layer.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest `max_tokens` a client may ask for; `None` leaves it to the context size.
    pub max_tokens_cap: Option<u32>,
    /// Requests the engine queues before refusing; readiness reports "queue_full" there.
    pub queue_capacity: u64,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_tokens_cap: None,
            queue_capacity: 8,
        }
    }
}

/// Shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub backend: Arc<dyn Backend>,
    pub limits: ApiLimits,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
