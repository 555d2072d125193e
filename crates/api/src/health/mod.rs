//! Probes: `GET /healthz` (the process answers) and `GET /readyz` (it would accept a
//! request now). Load balancers and systemd-style supervisors poll these; they never need
//! an API key and are never rate limited.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// An engine that has not turned for this long is not sent work (`/readyz` fails): the
/// longest step it takes is one batch of prompt (`--batch-size`, 256 tokens: seconds on a
/// Pi), so this is a stall, not work.
pub const ENGINE_STALL_MS: u64 = 30_000;

/// What `/readyz` says while certificate orders fail.
pub const ACME_FAILING: &str = "ordering a certificate fails; see /status or the journal";

/// An engine that has not turned for this long fails `/healthz` too (systemd's watchdog,
/// `WatchdogSec=60`, restarts it at the same point).
pub const ENGINE_DEAD_MS: u64 = 60_000;

/// 200 while the process answers and its engine thread turns; 503 once the engine thread
/// has ended or stalled past [`ENGINE_DEAD_MS`] (k3s and HAProxy then restart or skip it).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let stats = state.backend.stats();
    let loaded = state.backend.model().is_some();
    let dead = if stats.engine_stopped {
        Some("engine_stopped")
    } else if loaded && stats.heartbeat_age_ms > ENGINE_DEAD_MS {
        Some("engine_stalled")
    } else {
        None
    };
    match dead {
        None => Json(json!({ "status": "ok" })).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason, "heartbeat_age_ms": stats.heartbeat_age_ms })),
        )
            .into_response(),
    }
}

/// Why a request would not be admitted now, if it would not.
pub(crate) fn not_ready(state: &AppState) -> Option<&'static str> {
    let stats = state.backend.stats();
    if state.runtime.draining() {
        Some("draining")
    } else if stats.engine_stopped {
        Some("engine_stopped")
    } else if state.backend.model().is_none() {
        Some("loading")
    } else if stats.heartbeat_age_ms > ENGINE_STALL_MS {
        Some("engine_stalled")
    } else if state.runtime.too_hot() {
        Some("too_hot")
    } else if stats.queue_depth >= state.limits.queue_capacity {
        Some("queue_full")
    } else {
        None
    }
}

/// 200 when a request would be admitted; 503 with the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let stats = state.backend.stats();
    let reason = not_ready(&state);
    // Which certificate is served, and why ACME has not delivered one, if it has not.
    let cert = state.status.as_ref().map(|s| (s.certificate)());
    let source = cert.as_ref().map(|c| c["source"].clone());
    // Probes need no key: they say that ordering fails, not how (the full error names hook
    // paths, DNS servers and a hook's own output; `/status` and the journal have it).
    let acme_error = cert.as_ref().map(|c| match &c["acme"]["last_error"] {
        serde_json::Value::String(e) if !e.is_empty() => json!(ACME_FAILING),
        _ => serde_json::Value::Null,
    });
    match reason {
        None => Json(json!({ "status": "ready", "node": &*state.node, "slots_busy": stats.slots_busy, "slots_total": stats.slots_total, "queue_depth": stats.queue_depth, "embeddings_active": stats.embeddings_active, "certificate": source, "acme_error": acme_error })).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(json!({ "status": "unavailable", "node": &*state.node, "reason": reason, "certificate": source, "acme_error": acme_error })),
        )
            .into_response(),
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
