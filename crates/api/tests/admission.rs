//! Admission is one layer on the generating routes: while the daemon drains (or the device
//! is too hot) every generating and embedding route answers 503 with `Retry-After`, in its
//! dialect's error shape, before any backend work; the other routes are not affected.

mod common;

use axum::http::StatusCode;
use common::{post_to, Scripted};
use edgellm_api::AppState;
use edgellm_backend::{Backend, Event, FinishReason};
use serde_json::{json, Value};

#[tokio::test]
async fn a_draining_daemon_refuses_every_generating_route_and_nothing_else() {
    let backend = Scripted::new(vec![Event::Text("hi".into())], FinishReason::Stop);
    let state = AppState::new(std::sync::Arc::clone(&backend) as std::sync::Arc<dyn Backend>);
    let chat = json!({ "model": "m", "messages": [{ "role": "user", "content": "hi" }] });
    let generating = [
        ("/v1/chat/completions", chat.clone()),
        ("/v1/completions", json!({ "prompt": "hi" })),
        ("/v1/embeddings", json!({ "input": "hi" })),
        ("/api/chat", chat.clone()),
        ("/api/generate", json!({ "model": "m", "prompt": "hi" })),
        ("/api/embed", json!({ "model": "m", "input": "hi" })),
        ("/api/embeddings", json!({ "model": "m", "prompt": "hi" })),
    ];
    // Before: served.
    let (status, body) = post_to(state.clone(), "/v1/chat/completions", chat.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    state.runtime.start_draining();
    for (path, body) in generating {
        let (status, text) = post_to(state.clone(), path, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let message = if path.starts_with("/api/") {
            v["error"].as_str()
        } else {
            v["error"]["message"].as_str()
        };
        assert!(
            message.is_some_and(|m| m.contains("shutting down")),
            "{path}: {text}"
        );
    }
    assert_eq!(
        backend.seen.lock().unwrap().len(),
        1,
        "no work after draining began"
    );
    // Tokenising is not a generation.
    let (status, text) = post_to(state.clone(), "/tokenize", json!({ "content": "hi" })).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}
