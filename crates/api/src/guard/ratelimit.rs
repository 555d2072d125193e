//! Per-IP rate limiting with tower-governor: a token bucket per client address,
//! refusals as our JSON 429 with `Retry-After`, and a pruned table.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, Request};
use axum::response::IntoResponse;
use ipnet::IpNet;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::ApiError;
use crate::state::AppState;

/// How often idle per-IP buckets are dropped, so the table cannot grow without bound.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Requests per second and burst per client address.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most untrusted address of `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|net| net.contains(ip)))
        .unwrap_or(peer)
}

#[derive(Debug, Clone)]
struct ClientIpKey {
    trusted: Arc<Vec<IpNet>>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_ip(peer, req.headers(), &self.trusted))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.5".parse().unwrap());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
    }
}
