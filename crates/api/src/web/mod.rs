//! The built-in chat page at `/` for browsers (one embedded HTML file; it loads nothing from
//! the internet). Non-browser clients get Ollama's plain-text answer, which some tools use
//! as a liveness check.

use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};

/// The page, embedded at build time.
const CHAT_HTML: &str = include_str!("chat.html");

/// Strict CSP: only this page's own inline script and style, and requests to this origin.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn index(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !wants_html {
        return "Ollama is running".into_response();
    }
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(CHAT_HTML),
    )
        .into_response()
}
