//! Health follows the engine: `/readyz` and `/healthz` against the real router with a fake
//! backend whose engine heartbeat and thread state the test sets.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use edgellm_api::{router, AppState};
use edgellm_backend::{
    Backend, BackendError, ChatMessage, EmbedReceiver, EngineStats, EventStream, GenerateRequest,
    ModelInfo, Prepared,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A loaded model whose engine reports `stats`.
struct Engine {
    stats: Mutex<EngineStats>,
}

impl Backend for Engine {
    fn model(&self) -> Option<ModelInfo> {
        Some(common::model_info())
    }
    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError> {
        Ok(Prepared::new(request))
    }
    fn submit(&self, _: Prepared) -> Result<EventStream, BackendError> {
        Err(BackendError::Unavailable("not in this test".into()))
    }
    fn tokenize(&self, _: &str) -> Result<Vec<i32>, BackendError> {
        Ok(Vec::new())
    }
    fn apply_template(&self, _: &[ChatMessage], _: &[Value]) -> Result<String, BackendError> {
        Ok(String::new())
    }
    fn embed(&self, _: Vec<String>, _: bool) -> Result<EmbedReceiver, BackendError> {
        Err(BackendError::Unavailable("not in this test".into()))
    }
    fn stats(&self) -> EngineStats {
        *self.stats.lock().unwrap()
    }
}

async fn get(state: &AppState, path: &str) -> (StatusCode, Value) {
    let r = router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn probes_fail_when_the_engine_stalls_or_stops() {
    let engine = Arc::new(Engine {
        stats: Mutex::new(EngineStats::default()),
    });
    let state = AppState::new(Arc::clone(&engine) as Arc<dyn Backend>);
    let set = |f: &dyn Fn(&mut EngineStats)| f(&mut engine.stats.lock().unwrap());

    // A turning engine: both probes pass.
    set(&|s| s.heartbeat_age_ms = 400);
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);

    // Stalled past the readiness bound: not sent work, still alive.
    set(&|s| s.heartbeat_age_ms = edgellm_api::health::ENGINE_STALL_MS + 1);
    let (status, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "engine_stalled", "{body}");
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);

    // Stalled past the liveness bound: /healthz fails too.
    set(&|s| s.heartbeat_age_ms = edgellm_api::health::ENGINE_DEAD_MS + 1);
    let (status, body) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "engine_stalled", "{body}");

    // The engine thread has ended: both fail at once, whatever its last heartbeat.
    set(&|s| {
        s.heartbeat_age_ms = 0;
        s.engine_stopped = true;
    });
    let (status, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "engine_stopped", "{body}");
    let (status, body) = get(&state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "engine_stopped", "{body}");
}
