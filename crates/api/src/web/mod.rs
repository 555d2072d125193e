//! The built-in chat page at `/` for browsers (one embedded HTML file; it loads nothing from
//! the internet). Non-browser clients get Ollama's plain-text answer, which some tools use
//! as a liveness check.

use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};

/// The page, embedded at build time.
const CHAT_HTML: &str = include_str!("chat.html");

/// Strict CSP: only this page's own inline script (allowed by its SHA-256, so no other
/// inline script could run even if markup were injected) and style, and requests to this
/// origin.
static CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| csp_for(CHAT_HTML));

/// The CSP of an embedded page with one inline script (the status page uses it too).
pub(crate) fn csp_for(html: &str) -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        script_hash(html)
    )
}

/// `sha256-<base64>` of the page's one inline script, as CSP hash sources are written.
fn script_hash(html: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let start = html.find("<script>").map_or(0, |i| i + "<script>".len());
    let end = html[start..]
        .find("</script>")
        .map_or(html.len(), |i| start + i);
    let digest = sha2::Sha256::digest(&html.as_bytes()[start..end]);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

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
            (header::CONTENT_SECURITY_POLICY, CSP.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(CHAT_HTML),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_csp_allows_the_page_script_by_hash_only() {
        assert!(!super::CSP.contains("script-src 'unsafe-inline'"));
        let hash = super::script_hash("<p><script>alert(1)</script>");
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(hash, "sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI=");
    }
}
