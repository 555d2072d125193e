//! llama-server's own routes through the real router, without a model: fill in the middle
//! (`/infill`'s fields, answer and stream; `/v1/completions` and `/api/generate` with a
//! `suffix` all ask the engine for an infill; bad fields are refused naming them) and
//! `/props` (the context size clients read there).

mod common;

use axum::http::StatusCode;
use common::{parse, post, Scripted};
use edgellm_backend::{Event, FinishReason, Infill, Prompt};
use serde_json::{json, Value};

fn backend() -> std::sync::Arc<Scripted> {
    Scripted::new(vec![Event::Text("a + b".into())], FinishReason::Stop)
}

fn asked(backend: &Scripted) -> Prompt {
    backend.seen.lock().unwrap().last().unwrap().prompt.clone()
}

#[tokio::test]
async fn infill_takes_llama_servers_fields_and_answers_in_its_shape() {
    let b = backend();
    let (status, body) = post(
        &b,
        "/infill",
        json!({
            "input_prefix": "def add(a, b):\n    return ",
            "input_suffix": "\n",
            "input_extra": [{"filename": "util.py", "text": "import math\n"}],
            "prompt": "",
            "n_predict": 16, "temperature": 0, "top_k": 40, "samplers": ["top_k"], "cache_prompt": true,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = parse(&body);
    assert_eq!(r["content"], "a + b");
    assert_eq!(r["stop"], true);
    assert_eq!(r["tokens_predicted"], 7);
    assert!(r["timings"]["predicted_n"].is_number(), "{r}");
    assert_eq!(
        asked(&b),
        Prompt::Infill(Infill {
            prefix: "def add(a, b):\n    return ".into(),
            suffix: "\n".into(),
            prompt: String::new(),
            extra: vec![("util.py".into(), "import math\n".into())],
        })
    );
    assert_eq!(b.seen.lock().unwrap()[0].params.max_tokens, Some(16));

    let (status, body) = post(
        &b,
        "/infill",
        json!({"input_prefix": "x = ", "input_suffix": "", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let frames: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(parse)
        .collect();
    assert_eq!(frames[0], json!({"content": "a + b", "stop": false}));
    assert_eq!(frames.last().unwrap()["stop"], true);
    assert!(!body.contains("[DONE]"));

    let (status, body) = post(&b, "/infill", json!({"input_prefix": "x", "n_predict": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(parse(&body)["error"]["param"], "n_predict");
}

#[tokio::test]
async fn a_suffix_on_completions_and_generate_asks_for_an_infill() {
    let b = backend();
    let want = Prompt::Infill(Infill {
        prefix: "def add(a, b):".into(),
        suffix: "\n\nprint(add(1, 2))".into(),
        ..Infill::default()
    });
    let (status, body) = post(
        &b,
        "/v1/completions",
        json!({"prompt": "def add(a, b):", "suffix": "\n\nprint(add(1, 2))", "max_tokens": 8}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(asked(&b), want);
    let (status, body) = post(
        &b,
        "/api/generate",
        json!({"prompt": "def add(a, b):", "suffix": "\n\nprint(add(1, 2))", "stream": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(asked(&b), want);
    assert_eq!(parse(&body)["response"], "a + b");
    // Without a suffix nothing changes.
    post(&b, "/v1/completions", json!({"prompt": "x", "suffix": ""})).await;
    assert_eq!(asked(&b), Prompt::Text("x".into()));
}

#[tokio::test]
async fn props_tells_the_context_and_the_slots() {
    let state =
        edgellm_api::AppState::new(backend() as std::sync::Arc<dyn edgellm_backend::Backend>);
    let (status, body) = common::call(state, "GET", "/props").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p = parse(&body);
    assert_eq!(
        p["default_generation_settings"]["n_ctx"],
        common::model_info().n_ctx_per_request
    );
    assert_eq!(p["infill"], true);
    assert!(p["total_slots"].is_number(), "{p}");
}
