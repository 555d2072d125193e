//! The model routes of both dialects as their clients read them, without a model: Ollama's
//! `name:tag` names, `/api/ps`'s `context_length`, `/api/show`'s and `/api/pull`'s answers
//! for the served model and for any other name, `HEAD /api/tags`; OpenAI's `refusal` and
//! the refusal of options that would change the answer and are not implemented
//! (`logit_bias`, audio) or out of range (`top_logprobs` without `logprobs`, above 20).

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{call, model_info, parse, post_to, Scripted};
use edgellm_api::AppState;
use edgellm_backend::{Backend, Event, FinishReason};
use serde_json::{json, Value};

fn state() -> AppState {
    let backend: Arc<dyn Backend> =
        Scripted::new(vec![Event::Text("Hi".into())], FinishReason::Stop);
    AppState::new(backend)
}

#[tokio::test]
async fn ollama_lists_the_model_with_a_tag_and_its_context() {
    let (status, body) = call(state(), "GET", "/api/tags").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tags = parse(&body);
    assert_eq!(tags["models"][0]["name"], "fake:latest", "{tags}");
    assert_eq!(tags["models"][0]["model"], "fake:latest", "{tags}");

    let (status, body) = call(state(), "GET", "/api/ps").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ps = parse(&body);
    assert_eq!(ps["models"][0]["name"], "fake:latest", "{ps}");
    assert_eq!(
        ps["models"][0]["context_length"],
        model_info().n_ctx_per_request,
        "{ps}"
    );

    // Clients probe the server with HEAD: a 200 without a body.
    let (status, body) = call(state(), "HEAD", "/api/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty(), "{body}");

    let (_, body) = call(state(), "GET", "/api/version").await;
    let version = parse(&body)["version"].as_str().unwrap().to_owned();
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(
        minor >= 9,
        "clients enable tools and think from 0.9: {version}"
    );
}

#[tokio::test]
async fn ollama_show_accepts_every_spelling_and_names_an_unknown_model_as_ollama_does() {
    for name in ["fake", "fake:latest", "FAKE:0.5b"] {
        let (status, body) = post_to(state(), "/api/show", json!({ "model": name })).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(parse(&body)["details"]["quantization_level"], "Q4_K_M");
    }
    // A model with FIM tokens can insert, and its template says so as Ollama's code models'
    // do (Continue looks for `.Suffix`).
    let (_, body) = post_to(state(), "/api/show", json!({ "model": "fake" })).await;
    let show = parse(&body);
    assert!(show["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("insert")));
    let template = show["template"].as_str().unwrap();
    assert!(
        template.starts_with(
            "{{- if .Suffix }}<fim_pre>{{ .Prompt }}<fim_suf>{{ .Suffix }}<fim_mid>{{- else }}"
        ),
        "{template}"
    );
    let (status, body) = post_to(state(), "/api/show", json!({ "model": "llama3:70b" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        parse(&body),
        json!({ "error": "model 'llama3:70b' not found" })
    );
}

#[tokio::test]
async fn ollama_pull_of_the_served_model_succeeds_and_of_another_says_what_is_served() {
    let (status, body) = post_to(state(), "/api/pull", json!({ "model": "fake:latest" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines: Vec<Value> = body.lines().map(parse).collect();
    assert!(lines.len() > 1, "{body}");
    assert_eq!(lines.last().unwrap(), &json!({ "status": "success" }));
    assert!(lines.iter().all(|l| l["status"].is_string()), "{body}");

    let (status, body) = post_to(
        state(),
        "/api/pull",
        json!({ "name": "fake", "stream": false }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse(&body), json!({ "status": "success" }));

    let (status, body) = post_to(state(), "/api/pull", json!({ "model": "llama3" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let error = parse(&body)["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("model 'llama3' not found"), "{error}");
    assert!(error.contains("'fake:latest'"), "{error}");
}

#[tokio::test]
async fn ollama_answers_carry_the_tagged_name() {
    let (status, body) = post_to(
        state(),
        "/api/chat",
        json!({ "model": "fake", "stream": false,
            "messages": [{ "role": "user", "content": "hi" }] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(parse(&body)["model"], "fake:latest");
}

#[tokio::test]
async fn openai_answers_carry_refusal_and_refuse_unsupported_or_out_of_range_options_by_name() {
    let messages = json!([{ "role": "user", "content": "hi" }]);
    let (status, body) = post_to(
        state(),
        "/v1/chat/completions",
        json!({ "messages": messages, "logprobs": false, "top_logprobs": 0,
            "logit_bias": {}, "modalities": ["text"], "audio": null }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let message = &parse(&body)["choices"][0]["message"];
    assert!(
        message["refusal"].is_null() && message.get("refusal").is_some(),
        "{message}"
    );

    let refused = [
        // Alternatives need logprobs asked for; counts are bounded.
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "top_logprobs": 3 }),
            "top_logprobs",
        ),
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "logprobs": true, "top_logprobs": 21 }),
            "top_logprobs",
        ),
        (
            "/v1/completions",
            json!({ "prompt": "hi", "logprobs": 21 }),
            "logprobs",
        ),
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "logprobs": "yes" }),
            "logprobs",
        ),
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "logit_bias": { "15": 100 } }),
            "logit_bias",
        ),
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "modalities": ["text", "audio"] }),
            "modalities",
        ),
        (
            "/v1/chat/completions",
            json!({ "messages": messages, "audio": { "voice": "alloy" } }),
            "audio",
        ),
    ];
    for (path, body, param) in refused {
        let (status, text) = post_to(state(), path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        let e = parse(&text);
        assert_eq!(e["error"]["param"], param, "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(param),
            "{e}"
        );
    }
}
