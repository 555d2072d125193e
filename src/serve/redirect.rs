//! The plain-HTTP listener (`--redirect-listen`): every request gets a 308 to the same host
//! and path on HTTPS. Nothing else is ever served over plain HTTP.

use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::config::ConnectionLimits;

/// The `https://` URL for a request that arrived as `http://host[:port]/path?query`.
pub fn target(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    // Strip the port, keeping IPv6 brackets.
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    if name.is_empty() || name.contains(['/', '@', ' ']) {
        return None;
    }
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Some(format!("https://{name}{port}{path}"))
}

/// Most open connections on the redirect listener: browsers open a few, nothing else
/// should; a flood of idle sockets must not exhaust the daemon's file descriptors.
const MAX_CONNECTIONS: usize = 64;

/// The redirect listener's limits: the HTTPS listener's timeouts, a small connection cap.
pub fn limits(https: &ConnectionLimits) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: MAX_CONNECTIONS.min(https.max_connections),
        ..https.clone()
    }
}

/// Every request gets its redirect.
pub fn router(https_port: u16) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        respond(&headers, &uri, https_port)
    })
}

/// 308 to the HTTPS URL, or 400 without a usable Host header.
pub fn respond(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    match target(headers, uri, https_port) {
        Some(url) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, url)]).into_response(),
        None => (StatusCode::BAD_REQUEST, "a Host header is required\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, h.parse().unwrap());
        m
    }

    #[test]
    fn redirects_keep_host_and_path_and_use_the_https_port() {
        let uri: Uri = "/v1/models?x=1".parse().unwrap();
        assert_eq!(
            target(&host("pi.local:8080"), &uri, 8443).unwrap(),
            "https://pi.local:8443/v1/models?x=1"
        );
        assert_eq!(
            target(&host("pi.local"), &uri, 443).unwrap(),
            "https://pi.local/v1/models?x=1"
        );
        assert_eq!(
            target(&host("[::1]:80"), &uri, 8443).unwrap(),
            "https://[::1]:8443/v1/models?x=1"
        );
        assert!(target(&HeaderMap::new(), &uri, 443).is_none());
        assert!(target(&host("evil.com/x"), &uri, 443).is_none());
    }
}
