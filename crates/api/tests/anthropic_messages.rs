//! Anthropic's Messages API through the real router, without a model: the whole answer's
//! blocks and stop reasons, the stream's event sequence, a prefill, the request mapping the
//! backend receives, and errors in Anthropic's shape (a missing `max_tokens`, a wrong key
//! sent as `x-api-key`, an unknown block type).

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{events, parse, post, send, weather_call, Scripted};
use edgellm_api::{ApiKeys, AppState};
use edgellm_backend::{Backend, Event, FinishReason, Prompt};
use serde_json::{json, Value};

fn request(extra: Value) -> Value {
    let mut r = json!({
        "model": "claude-anything",
        "max_tokens": 32,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
        "tools": [{"name": "get_weather", "description": "Weather of a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[tokio::test]
async fn a_whole_answer_has_text_and_tool_use_blocks() {
    let backend = Scripted::new(
        vec![Event::Text("Checking.".into()), weather_call()],
        FinishReason::ToolCalls,
    );
    let (status, body) = post(&backend, "/v1/messages", request(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let m = parse(&body);
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "fake");
    assert!(m["id"].as_str().unwrap().starts_with("msg_"), "{m}");
    assert_eq!(
        m["content"][0],
        json!({"type": "text", "text": "Checking."})
    );
    assert_eq!(m["content"][1]["type"], "tool_use");
    assert_eq!(m["content"][1]["name"], "get_weather");
    assert_eq!(m["content"][1]["input"], json!({"city": "Paris"}));
    assert!(m["content"][1]["id"]
        .as_str()
        .unwrap()
        .starts_with("toolu_"));
    assert_eq!(m["stop_reason"], "tool_use");
    assert_eq!(m["stop_sequence"], Value::Null);
    assert_eq!(m["usage"]["input_tokens"], 5);
    assert_eq!(m["usage"]["output_tokens"], 7);

    // What the engine was asked: the system prompt first, the tool as a function.
    let seen = backend.seen.lock().unwrap();
    let Prompt::Chat(messages) = &seen[0].prompt else {
        panic!("a chat prompt: {:?}", seen[0].prompt)
    };
    assert_eq!(messages[0].role, "system");
    assert_eq!(messages[1].content, "Weather in Paris?");
    let tools = seen[0].tools.as_ref().unwrap();
    assert_eq!(tools.definitions[0]["function"]["name"], "get_weather");
    assert_eq!(seen[0].params.max_tokens, Some(32));
}

#[tokio::test]
async fn a_stream_follows_anthropics_event_sequence() {
    let backend = Scripted::new(
        vec![
            Event::Text("Check".into()),
            Event::Text("ing.".into()),
            weather_call(),
        ],
        FinishReason::ToolCalls,
    );
    let (status, body) = post(&backend, "/v1/messages", request(json!({"stream": true}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = events(&body);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ],
        "{body}"
    );
    // Each event's data names its own type, as the SDK reads it.
    for (name, data) in &got {
        assert_eq!(data["type"], name.as_str(), "{data}");
    }
    assert_eq!(got[0].1["message"]["content"], json!([]));
    let text: String = got
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Checking.");
    assert_eq!(got[6].1["content_block"]["name"], "get_weather");
    let args = got[7].1["delta"]["partial_json"].as_str().unwrap();
    assert_eq!(parse(args), json!({"city": "Paris"}));
    assert_eq!(got[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(got[9].1["usage"]["output_tokens"], 7);
}

#[tokio::test]
async fn a_final_assistant_message_is_continued() {
    let backend = Scripted::new(vec![Event::Text("\"a\": 1}".into())], FinishReason::Stop);
    let body = json!({
        "max_tokens": 16,
        "messages": [
            {"role": "user", "content": "JSON"},
            {"role": "assistant", "content": [{"type": "text", "text": "{"}]},
        ],
    });
    let (status, answer) = post(&backend, "/v1/messages", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(parse(&answer)["stop_reason"], "end_turn");
    let prompt = backend.seen.lock().unwrap()[0].prompt.clone();
    assert_eq!(
        prompt,
        Prompt::Text("{".into()),
        "the fake template renders nothing"
    );

    let mut with_tools = body;
    with_tools["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let (status, answer) = post(&backend, "/v1/messages", with_tools).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
}

#[tokio::test]
async fn errors_take_anthropics_shape() {
    let backend = Scripted::new(vec![], FinishReason::Stop);
    for (body, param_word) in [
        (
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            "max_tokens",
        ),
        (
            json!({"max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}),
            "image",
        ),
        (
            json!({"max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "bash_20250124", "name": "bash"}]}),
            "bash_20250124",
        ),
    ] {
        let (status, answer) = post(&backend, "/v1/messages", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let e = parse(&answer);
        assert_eq!(e["type"], "error", "{e}");
        assert_eq!(e["error"]["type"], "invalid_request_error", "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(param_word),
            "{e}"
        );
    }

    // The key as the anthropic SDK sends it.
    let mut state = AppState::new(Arc::clone(&backend) as Arc<dyn Backend>);
    state.keys = Arc::new(ApiKeys::load(None, &["sk-right".into()]).unwrap());
    let ask = |key: &str| {
        Request::post("/v1/messages/count_tokens")
            .header("content-type", "application/json")
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .body(Body::from(
                json!({"messages": [{"role": "user", "content": "hi"}]}).to_string(),
            ))
            .unwrap()
    };
    let (status, answer) = send(state.clone(), ask("sk-wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&answer)["error"]["type"], "authentication_error");
    let (status, answer) = send(state, ask("sk-right")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        parse(&answer)["input_tokens"],
        0,
        "the fake tokenizer gives none"
    );

    // Other routes keep their own shapes.
    let (status, answer) = post(&backend, "/v1/chat/completions", json!({"messages": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(parse(&answer)["error"]["message"].is_string(), "{answer}");
}
