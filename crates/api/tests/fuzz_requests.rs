//! Fuzz target (property-based, stable Rust): arbitrary request bodies through the real
//! router, JSON extractor, validation and Ollama option mapping, with a fake backend behind
//! the `Backend` seam. Every answer must be a 200 or a 4xx in the API's own error shape,
//! never a 5xx or a panic, and the backend only ever sees validated parameters.
//!
//! Cases per property: `PROPTEST_CASES` (CI runs a bounded number; raise it locally).

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use edgellm_api::{router, AppState};
use edgellm_backend::{
    Backend, BackendError, ChatMessage, EmbedReceiver, Embeddings, EngineStats, Event, EventStream,
    FinishReason, GenerateRequest, ModelInfo, Prepared, Timings, Usage,
};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Answers every request with "ok" and records the parameters it was given.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<GenerateRequest>>,
}

impl Backend for Fake {
    fn model(&self) -> Option<ModelInfo> {
        Some(common::model_info())
    }
    fn prepare(&self, request: GenerateRequest) -> Result<Prepared, BackendError> {
        Ok(Prepared::new(request))
    }
    fn submit(&self, prepared: Prepared) -> Result<EventStream, BackendError> {
        let request: GenerateRequest = prepared.into_inner()?;
        let p = &request.params;
        // What the engine relies on: everything already in range.
        assert!((0.0..=2.0).contains(&p.temperature), "{p:?}");
        assert!(p.top_p > 0.0 && p.top_p <= 1.0, "{p:?}");
        assert!((0.0..=1.0).contains(&p.min_p), "{p:?}");
        assert!(p.repeat_penalty > 0.0 && p.repeat_penalty <= 10.0, "{p:?}");
        assert!((-2.0..=2.0).contains(&p.presence_penalty), "{p:?}");
        assert!((-2.0..=2.0).contains(&p.frequency_penalty), "{p:?}");
        assert!(p.stop.len() <= 4, "{p:?}");
        assert!(p.max_tokens.is_none_or(|m| m >= 1), "{p:?}");
        self.seen.lock().unwrap().push(request);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Event::Started { prompt_tokens: 1 }).unwrap();
        tx.try_send(Event::Text("ok".into())).unwrap();
        tx.try_send(Event::Done {
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
            timings: Timings::default(),
            stop_sequence: None,
        })
        .unwrap();
        Ok(rx)
    }
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        Ok(text.bytes().map(i32::from).collect())
    }
    fn apply_template(
        &self,
        messages: &[ChatMessage],
        _tools: &[serde_json::Value],
    ) -> Result<String, BackendError> {
        Ok(messages.iter().map(|m| m.content.as_str()).collect())
    }
    fn embed(&self, inputs: Vec<String>, _truncate: bool) -> Result<EmbedReceiver, BackendError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let vectors = inputs.iter().map(|_| vec![0.5; 4]).collect();
        let _ = tx.send(Ok(Embeddings {
            vectors,
            prompt_tokens: inputs.len(),
        }));
        Ok(rx)
    }
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

const ROUTES: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/api/generate",
    "/api/chat",
    "/v1/embeddings",
    "/api/embed",
    "/api/embeddings",
    "/tokenize",
    "/apply-template",
    "/api/show",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/responses",
    "/infill",
];

fn send(path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = router(AppState::new(Arc::new(Fake::default())));
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, bytes.to_vec())
    })
}

/// 200, or a 4xx in the shape of the route's API.
fn check(path: &str, status: StatusCode, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        status.is_success() || status.is_client_error(),
        "{path}: {status} {}",
        String::from_utf8_lossy(body)
    );
    if status.is_client_error() {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| TestCaseError::fail(format!("{path}: error body is not JSON: {e}")))?;
        if path.starts_with("/api/") {
            prop_assert!(v["error"].is_string(), "{path}: not Ollama's shape: {v}");
        } else if path.starts_with("/v1/messages") {
            prop_assert!(
                v["type"] == "error" && v["error"]["message"].is_string(),
                "{path}: not Anthropic's shape: {v}"
            );
        } else {
            prop_assert!(
                v["error"]["message"].is_string(),
                "{path}: not OpenAI's shape: {v}"
            );
        }
    }
    Ok(())
}

/// JSON values of any shape, with extreme numbers and odd strings.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(1e308),
            Just(-1e308),
            Just(5e-324),
            Just(-0.0)
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from("\u{0}\u{feff}\u{10ffff}<|im_end|>")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(field(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the endpoints know, so generated objects hit real validation paths.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "model",
            "messages",
            "prompt",
            "role",
            "content",
            "stream",
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "seed",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "n",
            "presence_penalty",
            "frequency_penalty",
            "repeat_penalty",
            "response_format",
            "type",
            "options",
            "num_predict",
            "format",
            "system",
            "raw",
            "text",
            "tools",
            "stream_options",
            "include_usage",
            "name",
            "stop_sequences",
            "tool_choice",
            "tool_use_id",
            "input_schema",
            "thinking",
            "input",
            "instructions",
            "max_output_tokens",
            "call_id",
            "arguments",
            "output",
            "input_prefix",
            "input_suffix",
            "input_extra",
            "suffix",
            "n_predict",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

/// A valid chat body with each sampling field replaced by an arbitrary value.
fn mutated_chat() -> impl Strategy<Value = Value> {
    (field(), any_json()).prop_map(|(k, v)| {
        let mut body = json!({
            "messages": [{ "role": "user", "content": "hi" }],
            "temperature": 0, "max_tokens": 4,
        });
        body[k] = v;
        body
    })
}

fn mutated_ollama() -> impl Strategy<Value = Value> {
    (field(), any_json(), any::<bool>()).prop_map(|(k, v, in_options)| {
        let mut body = json!({ "prompt": "hi", "stream": false, "options": { "num_predict": 4 } });
        if in_options {
            body["options"][k] = v;
        } else {
            body[k] = v;
        }
        body
    })
}

/// A Responses body with a field at the top, in an input item or in a tool replaced.
fn mutated_responses() -> impl Strategy<Value = Value> {
    (field(), any_json(), 0..3u8).prop_map(|(k, v, place)| {
        let mut body = json!({
            "max_output_tokens": 4,
            "input": [
                { "role": "user", "content": "hi" },
                { "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}" },
                { "type": "function_call_output", "call_id": "c1", "output": "ok" },
            ],
            "tools": [{ "type": "function", "name": "f", "parameters": { "type": "object" } }],
        });
        match place {
            0 => body[k] = v,
            1 => body["input"][1][k] = v,
            _ => body["tools"][0][k] = v,
        }
        body
    })
}

/// A Messages body with a field at the top, in a content block or in a tool replaced.
fn mutated_anthropic() -> impl Strategy<Value = Value> {
    (field(), any_json(), 0..3u8).prop_map(|(k, v, place)| {
        let mut body = json!({
            "max_tokens": 4,
            "messages": [
                { "role": "user", "content": "hi" },
                { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "f", "input": {} }] },
                { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t1", "content": "ok" }] },
            ],
            "tools": [{ "name": "f", "input_schema": { "type": "object" } }],
        });
        match place {
            0 => body[k] = v,
            1 => body["messages"][2]["content"][0][k] = v,
            _ => body["tools"][0][k] = v,
        }
        body
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_a_4xx_in_the_right_shape(
        route in prop::sample::select(ROUTES),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let (status, bytes) = send(route, body);
        check(route, status, &bytes)?;
    }

    #[test]
    fn arbitrary_json_is_answered_or_refused_cleanly(
        route in prop::sample::select(ROUTES),
        body in any_json(),
    ) {
        let (status, bytes) = send(route, body.to_string().into_bytes());
        check(route, status, &bytes)?;
    }

    #[test]
    fn every_openai_field_with_any_value(body in mutated_chat(), completions in any::<bool>()) {
        let (route, body) = if completions {
            let mut b = body;
            b["prompt"] = b.get("prompt").cloned().unwrap_or(json!("hi"));
            ("/v1/completions", b)
        } else {
            ("/v1/chat/completions", body)
        };
        let (status, bytes) = send(route, body.to_string().into_bytes());
        check(route, status, &bytes)?;
    }

    #[test]
    fn every_responses_field_with_any_value(body in mutated_responses()) {
        let (status, bytes) = send("/v1/responses", body.to_string().into_bytes());
        check("/v1/responses", status, &bytes)?;
    }

    #[test]
    fn every_anthropic_field_with_any_value(body in mutated_anthropic(), count in any::<bool>()) {
        let route = if count { "/v1/messages/count_tokens" } else { "/v1/messages" };
        let (status, bytes) = send(route, body.to_string().into_bytes());
        check(route, status, &bytes)?;
    }

    #[test]
    fn every_ollama_option_with_any_value(body in mutated_ollama(), chat in any::<bool>()) {
        let (route, body) = if chat {
            let mut b = body;
            b["messages"] = json!([{ "role": "user", "content": "hi" }]);
            ("/api/chat", b)
        } else {
            ("/api/generate", body)
        };
        let (status, bytes) = send(route, body.to_string().into_bytes());
        check(route, status, &bytes)?;
    }
}

#[test]
fn deeply_nested_and_invalid_utf8_bodies_are_refused() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // /api/show reads no body (Ollama's clients send a model name it does not need).
    for route in ROUTES.iter().filter(|r| **r != "/api/show") {
        let (status, body) = send(route, deep.clone().into_bytes());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}");
        check(route, status, &body).unwrap();
        let bad = b"{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}], \"prompt\": \"\xc3\"}".to_vec();
        let (status, body) = send(route, bad);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}");
        check(route, status, &body).unwrap();
    }
}
