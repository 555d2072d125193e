//! Per-IP rate limiting with tower-governor: a token bucket per client address,
//! refusals as our JSON 429 with `Retry-After`, and a pruned table.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use axum::response::IntoResponse;
use ipnet::IpNet;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::ApiError;
use crate::peer::request_key;
use crate::state::AppState;
pub use crate::state::RateLimit;

/// How often idle per-IP buckets are dropped, so the table cannot grow without bound.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct ClientIpKey {
    trusted: Arc<Vec<IpNet>>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        request_key(req, &self.trusted).ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The layer for the API routes, or `None` when rate limiting is off.
pub fn layer(
    state: &AppState,
) -> Option<
    GovernorLayer<
        impl KeyExtractor<Key = IpAddr> + Send + Sync + 'static,
        governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
        axum::body::Body,
    >,
> {
    let limit = state.access.rate_limit?;
    let period_ns = (1e9 / limit.per_second.max(1e-6)) as u64;
    let config = GovernorConfigBuilder::default()
        .per_nanosecond(period_ns.max(1))
        .burst_size(limit.burst.max(1))
        .key_extractor(ClientIpKey {
            trusted: Arc::new(state.access.trusted_proxies.clone()),
        })
        .finish()?;
    let config = Arc::new(config);
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let limiter = Arc::clone(config.limiter());
        rt.spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tick.tick().await;
                limiter.retain_recent();
            }
        });
    }
    let metrics = Arc::clone(&state.metrics);
    Some(GovernorLayer::new(config).error_handler(move |e| match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            metrics.rate_limited.inc();
            ApiError::RateLimited {
                retry_after: wait_time.max(1),
            }
            .into_response()
        }
        other => {
            tracing::warn!(error = %other, "rate limiter could not identify the client");
            ApiError::Backend(edgellm_backend::BackendError::Internal(
                "cannot identify the client address".into(),
            ))
            .into_response()
        }
    }))
}
