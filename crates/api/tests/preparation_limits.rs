//! `/tokenize` and `/apply-template` run on the preparation threads as a generation's
//! template and tokenizer do, so they are bounded the same way: a client holds at most
//! `--max-client-requests` of them, and a request that finds every preparation thread busy
//! waits at most `PREP_WAIT`, then gets 503. Against the real router with a fake backend
//! whose tokenizer holds on until the test lets it go.

mod common;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use edgellm_api::guard::clients::ClientSlots;
use edgellm_api::{router, AppState};
use edgellm_backend::{
    Backend, BackendError, ChatMessage, EmbedReceiver, EngineStats, EventStream, GenerateRequest,
    ModelInfo, Prepared,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Tokenising `"hold"` reports that it started and waits for the test's release.
struct Holding {
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Backend for Holding {
    fn model(&self) -> Option<ModelInfo> {
        Some(common::model_info())
    }
    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError> {
        Ok(Prepared::new(request))
    }
    fn submit(&self, _: Prepared) -> Result<EventStream, BackendError> {
        Err(BackendError::Unavailable("not in this test".into()))
    }
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        if text == "hold" {
            let _ = self.entered.lock().unwrap().send(());
            let _ = self.release.lock().unwrap().recv();
        }
        Ok(vec![1, 2, 3])
    }
    fn apply_template(&self, _: &[ChatMessage], _: &[Value]) -> Result<String, BackendError> {
        Ok("prompt".into())
    }
    fn embed(&self, _: Vec<String>, _: bool) -> Result<EmbedReceiver, BackendError> {
        Err(BackendError::Unavailable("not in this test".into()))
    }
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

async fn post(state: &AppState, client: [u8; 4], path: &str, body: Value) -> (StatusCode, Value) {
    let peer = SocketAddr::from((client, 40000));
    let request = Request::post(path)
        .header("content-type", "application/json")
        .extension(ConnectInfo(peer))
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = router(state.clone()).oneshot(request).await.unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn tokenize_and_apply_template_are_capped_per_client_and_wait_a_bounded_time() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let backend = Arc::new(Holding {
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let mut state = AppState::new(backend);
    state.clients = Arc::new(ClientSlots::new(Some(1)));
    let hold = json!({ "content": "hold" });
    let template = json!({ "messages": [{ "role": "user", "content": "hi" }] });
    // The runtime has one thread: wait for the tokenizer without blocking it.
    let wait_entered = |what: &'static str| {
        let entered = &entered;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while entered.try_recv().is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{what} never reached the tokenizer"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };

    // Client A's tokenize holds its one slot (and one preparation thread).
    let first = tokio::spawn({
        let state = state.clone();
        let hold = hold.clone();
        async move { post(&state, [127, 0, 0, 2], "/tokenize", hold).await }
    });
    wait_entered("client A's request").await;
    for (path, body) in [
        ("/tokenize", json!({ "content": "x" })),
        ("/apply-template", template.clone()),
    ] {
        let (status, body) = post(&state, [127, 0, 0, 2], path, body).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}: {body}");
        assert_eq!(
            body["error"]["code"], "too_many_concurrent_requests",
            "{body}"
        );
    }

    // Client B takes the second preparation thread; client C finds none free and is
    // refused after the bounded wait (the clock is paused, so the wait passes at once).
    let second = tokio::spawn({
        let state = state.clone();
        let hold = hold.clone();
        async move { post(&state, [127, 0, 0, 3], "/tokenize", hold).await }
    });
    wait_entered("client B's request").await;
    tokio::time::pause();
    let third = tokio::spawn({
        let state = state.clone();
        let template = template.clone();
        async move { post(&state, [127, 0, 0, 4], "/apply-template", template).await }
    });
    // The paused clock does not run on its own while blocking work is in flight.
    let mut waited = std::time::Duration::ZERO;
    while !third.is_finished() {
        assert!(
            waited <= 3 * edgellm_api::state::PREP_WAIT,
            "client C still waits"
        );
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        waited += std::time::Duration::from_secs(1);
    }
    tokio::time::resume();
    let (status, body) = third.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        waited >= edgellm_api::state::PREP_WAIT,
        "refused after {waited:?}"
    );

    // Let both go: they finish, and client A may send again.
    release.send(()).unwrap();
    release.send(()).unwrap();
    for task in [first, second] {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["tokens"], json!([1, 2, 3]));
    }
    let (status, body) = post(&state, [127, 0, 0, 2], "/apply-template", template).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["prompt"], "prompt");
}
