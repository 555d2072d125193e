//! Browser cross-origin requests. Any web page the user visits could otherwise POST to the
//! API (a `text/plain` body needs no preflight) and spend the device, or read answers when
//! no key is set. Browsers send `Origin` on such requests; one that is not the daemon's own
//! (`https://<Host>`) and not in `--cors-origin` gets 403. Listed origins also get CORS
//! headers and answered preflights (tower-http's `CorsLayer`, added by the router).

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: refuse requests whose `Origin` is neither ours nor allowed.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(ORIGIN) else {
        return next.run(req).await;
    };
    let origin = origin.to_str().unwrap_or("");
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if is_own(origin, host) || state.access.cors_origins.iter().any(|o| o == origin) {
        return next.run(req).await;
    }
    tracing::info!(origin, "refused a cross-origin request");
    ApiError::CrossOrigin {
        origin: origin.chars().take(200).collect(),
    }
    .into_response()
}

/// Same origin: `https://` plus exactly the host (and port) the request was sent to.
fn is_own(origin: &str, host: Option<&str>) -> bool {
    match (origin.strip_prefix("https://"), host) {
        (Some(rest), Some(host)) => rest.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// CORS headers and preflight answers for the allowed origins, if any.
pub fn cors_layer(allowed: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderName::from_static("x-api-key"),
            ]),
    )
}

#[cfg(test)]
mod tests {
    use super::is_own;

    #[test]
    fn only_our_own_https_origin_is_same_origin() {
        assert!(is_own("https://pi.local:8443", Some("pi.local:8443")));
        assert!(is_own("https://PI.local:8443", Some("pi.local:8443")));
        assert!(!is_own("http://pi.local:8443", Some("pi.local:8443")));
        assert!(!is_own("https://evil.example", Some("pi.local:8443")));
        assert!(!is_own("https://pi.local:8443.evil", Some("pi.local:8443")));
        assert!(!is_own("null", Some("pi.local")));
        assert!(!is_own("https://pi.local", None));
    }
}
