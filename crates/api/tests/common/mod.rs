//! Shared by the router tests: what a fake backend reports as its loaded model, a backend
//! that plays a script of events, and a POST through the real router.
#![allow(dead_code)] // each test file uses a part

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use edgellm_api::{router, AppState};
use edgellm_backend::{
    Backend, BackendError, ChatMessage, EmbedReceiver, EngineStats, Event, EventStream,
    FinishReason, GenerateRequest, ModelInfo, Prepared, Timings, Usage,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A small loaded model (Qwen-like context, four-dimensional embeddings).
pub fn model_info() -> ModelInfo {
    ModelInfo {
        id: "fake".into(),
        n_ctx_per_request: 2048,
        n_ctx_embedding: 512,
        embedding_dims: 4,
        embedding_model: "fake".into(),
        n_ctx_train: 32768,
        size_bytes: 1,
        n_params: 1,
        architecture: "fake".into(),
        quantization: "Q4_K_M".into(),
        modified_unix: 0,
        cpu: Default::default(),
        infill: Some(["<fim_pre>".into(), "<fim_suf>".into(), "<fim_mid>".into()]),
    }
}

/// Plays `script` for every request, then `Done` with `finish`.
pub struct Scripted {
    pub script: Vec<Event>,
    pub finish: FinishReason,
    pub seen: Mutex<Vec<GenerateRequest>>,
}

impl Scripted {
    pub fn new(script: Vec<Event>, finish: FinishReason) -> Arc<Self> {
        Arc::new(Self {
            script,
            finish,
            seen: Mutex::default(),
        })
    }
}

impl Backend for Scripted {
    fn model(&self) -> Option<ModelInfo> {
        Some(model_info())
    }
    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError> {
        Ok(Prepared::new(request))
    }
    fn submit(&self, prepared: Prepared) -> Result<EventStream, BackendError> {
        let request: GenerateRequest = prepared.into_inner()?;
        self.seen.lock().unwrap().push(request);
        let (tx, rx) = tokio::sync::mpsc::channel(self.script.len() + 2);
        tx.try_send(Event::Started { prompt_tokens: 5 }).unwrap();
        for e in &self.script {
            tx.try_send(e.clone()).unwrap();
        }
        tx.try_send(Event::Done {
            finish_reason: self.finish,
            usage: Usage {
                prompt_tokens: 5,
                completion_tokens: 7,
                cached_tokens: 0,
            },
            timings: Timings::default(),
            stop_sequence: None,
        })
        .unwrap();
        Ok(rx)
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
        EngineStats::default()
    }
}

/// POST `body` through the router over a fresh state around `backend`.
pub async fn post(backend: &Arc<Scripted>, path: &str, body: Value) -> (StatusCode, String) {
    post_to(
        AppState::new(Arc::clone(backend) as Arc<dyn Backend>),
        path,
        body,
    )
    .await
}

/// POST `body` through the router over `state`; the status and the body as text.
pub async fn post_to(state: AppState, path: &str, body: Value) -> (StatusCode, String) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(state, request).await
}

/// A bodiless `method` request (GET, HEAD, ...) through the router over `state`.
pub async fn call(state: AppState, method: &str, path: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    send(state, request).await
}

/// Any request through the router over `state`; the status and the body as text.
pub async fn send(state: AppState, request: Request<Body>) -> (StatusCode, String) {
    let r = router(state).oneshot(request).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A JSON body, or a panic that shows it.
pub fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The `event:` names and data of a named-event SSE body (Responses, Anthropic Messages).
pub fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let name = frame.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), parse(data)))
        })
        .collect()
}

/// A tool call to `get_weather` for Paris, as the engine sends it.
pub fn weather_call() -> Event {
    Event::ToolCalls(vec![edgellm_backend::ToolCall {
        name: "get_weather".into(),
        arguments: serde_json::json!({"city": "Paris"}),
    }])
}
