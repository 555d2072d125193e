//! Probes: `GET /healthz` (the process answers) and `GET /readyz` (it would accept a
//! request now). Load balancers and systemd-style supervisors poll these; they never need
//! an API key and are never rate limited.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Why a request would not be admitted now, if it would not.
pub(crate) fn not_ready(state: &AppState) -> Option<&'static str> {
    let stats = state.backend.stats();
    if state.runtime.draining() {
        Some("draining")
    } else if state.backend.model().is_none() {
        Some("loading")
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
    let acme_error = cert.as_ref().map(|c| c["acme"]["last_error"].clone());
    match reason {
        None => Json(json!({ "status": "ready", "node": &*state.node, "slots_busy": stats.slots_busy, "slots_total": stats.slots_total, "queue_depth": stats.queue_depth, "certificate": source, "acme_error": acme_error })).into_response(),
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
