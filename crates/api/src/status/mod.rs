//! `GET /status`: what the device is doing, for people. Browsers get an embedded page
//! (no key needed to load it; it asks for the key, as the chat page does, and loads nothing
//! from the internet); everyone else gets JSON, under the same key rule as `/metrics`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use edgellm_observe::Snapshot;
use serde_json::{json, Value};

use crate::state::AppState;

/// The page, embedded at build time.
const STATUS_HTML: &str = include_str!("status.html");

static CSP: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::web::csp_for(STATUS_HTML));

pub use crate::state::status::StatusSources;

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// The page loads without a key; the JSON needs one unless `/metrics` is public.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if wants_html(req.headers()) || state.access.metrics_public {
        return next.run(req).await;
    }
    crate::guard::keys::require_key(State(state), req, next).await
}

pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        return (
            [
                (header::CONTENT_SECURITY_POLICY, CSP.as_str()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Html(STATUS_HTML),
        )
            .into_response();
    }
    let reading = match &state.status {
        Some(s) => s.device.read(),
        None => Arc::new(Snapshot::default()),
    };
    Json(document(&state, &reading)).into_response()
}

/// The JSON form (every field the page shows).
fn document(state: &AppState, reading: &Snapshot) -> Value {
    const MIB: f64 = 1024.0 * 1024.0;
    let stats = state.backend.stats();
    let model = state.backend.model();
    let samples = state
        .status
        .as_ref()
        .map(|s| s.history.snapshot())
        .unwrap_or_default();
    let latest_rate = samples.last().map_or(0.0, |s| s.tokens_per_second);
    let not_ready = crate::health::not_ready(state);
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node": &*state.node,
        "model": model.as_ref().map(|m| json!({
            "id": m.id,
            "n_ctx_per_request": m.n_ctx_per_request,
            "embedding_dims": m.embedding_dims,
        })),
        "ready": not_ready.is_none(),
        "not_ready_reason": not_ready,
        "cpu": match &model {
            Some(m) => json!(m.cpu),
            None => state.status.as_ref().map_or(Value::Null, |s| s.cpu.clone()),
        },
        "uptime_seconds": state.status.as_ref().map_or(0, |s| s.started.elapsed().as_secs()),
        "certificate": state.status.as_ref().map_or(Value::Null, |s| (s.certificate)()),
        "slots": { "busy": stats.slots_busy, "total": stats.slots_total },
        "queue_depth": stats.queue_depth,
        "requests_total": stats.requests_total,
        "generated_tokens_total": stats.generated_tokens_total,
        "tokens_per_second": latest_rate,
        "speculation": {
            "drafted_tokens_total": stats.spec_drafted_tokens_total,
            "accepted_tokens_total": stats.spec_accepted_tokens_total,
        },
        "temperature_c": reading.hottest_celsius(),
        "thermal_throttled": state.runtime.too_hot(),
        "pi_throttled_flags": reading.pi_throttled_flags,
        "memory": {
            "rss_mib": reading.rss_bytes.unwrap_or(0) as f64 / MIB,
            "total_mib": reading.memory_total_bytes as f64 / MIB,
            "available_mib": reading.memory_available_bytes as f64 / MIB,
        },
        "history": {
            "interval_seconds": state.status.as_ref().map_or(0, |s| s.history.every.as_secs()),
            "samples": samples,
        },
    })
}
