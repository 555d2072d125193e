//! How both dialects render what the engine sends, without a model: a fake backend plays a
//! script of events (text, parsed tool calls, the end) and the real router renders it as
//! OpenAI JSON and SSE (tools and the legacy `functions` form) and as Ollama JSON and
//! NDJSON. The engine decides what is a call; these tests pin how each API shows one.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{post, Scripted};
use edgellm_backend::{Event, FinishReason, ToolCall};
use serde_json::{json, Value};

fn weather(city: &str) -> ToolCall {
    ToolCall {
        name: "get_weather".into(),
        arguments: json!({ "city": city }),
    }
}

/// A text answer, and one that ends with two calls after some text.
fn scripts() -> (Arc<Scripted>, Arc<Scripted>) {
    let text = Scripted::new(
        vec![Event::Text("Hel".into()), Event::Text("lo".into())],
        FinishReason::Stop,
    );
    let calls = Scripted::new(
        vec![
            Event::Text("Checking.".into()),
            Event::ToolCalls(vec![weather("Paris"), weather("Oslo")]),
        ],
        FinishReason::ToolCalls,
    );
    (text, calls)
}

fn tools() -> Value {
    json!([{ "type": "function", "function": { "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } }])
}

fn messages() -> Value {
    json!([{ "role": "user", "content": "weather?" }])
}

/// The `data:` payloads of an SSE body, `[DONE]` excluded.
fn sse(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn openai_chat_renders_text_and_calls_whole_and_streamed() {
    let (text, calls) = scripts();
    let (status, body) = post(
        &text,
        "/v1/chat/completions",
        json!({ "messages": messages() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello");
    assert!(
        v["choices"][0]["message"].get("tool_calls").is_none(),
        "{v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 7);

    let (status, body) = post(
        &calls,
        "/v1/chat/completions",
        json!({ "messages": messages(), "tools": tools() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let message = &v["choices"][0]["message"];
    assert_eq!(message["content"], "Checking.", "{v}");
    let list = message["tool_calls"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    for (call, city) in list.iter().zip(["Paris", "Oslo"]) {
        assert_eq!(call["type"], "function");
        assert!(call["id"].as_str().unwrap().starts_with("call_"), "{call}");
        assert_eq!(call["function"]["name"], "get_weather");
        // OpenAI sends arguments as a JSON string.
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({ "city": city }));
    }
    assert_ne!(list[0]["id"], list[1]["id"]);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");

    // Streamed: the role, the text, per call a head (index, id, name) and its arguments,
    // then the finish reason.
    let (status, body) = post(
        &calls,
        "/v1/chat/completions",
        json!({ "messages": messages(), "tools": tools(), "stream": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let chunks = sse(&body);
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[0]["role"], "assistant");
    assert_eq!(deltas[1]["content"], "Checking.");
    for (i, city) in ["Paris", "Oslo"].iter().enumerate() {
        let head = &deltas[2 + 2 * i]["tool_calls"][0];
        assert_eq!(head["index"], i, "{body}");
        assert_eq!(head["function"]["name"], "get_weather");
        assert_eq!(head["function"]["arguments"], "");
        assert!(head["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_")));
        let args = &deltas[3 + 2 * i]["tool_calls"][0];
        assert_eq!(args["index"], i);
        let args: Value =
            serde_json::from_str(args["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({ "city": city }));
    }
    assert_eq!(chunks.len(), 7, "{body}");
    assert_eq!(chunks[6]["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn the_legacy_functions_form_gets_one_function_call() {
    let (_, calls) = scripts();
    let functions = json!([{ "name": "get_weather", "parameters": { "type": "object" } }]);
    let (status, body) = post(
        &calls,
        "/v1/chat/completions",
        json!({ "messages": messages(), "functions": functions }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let message = &v["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null, "{v}");
    assert_eq!(message["function_call"]["name"], "get_weather");
    assert_eq!(
        message["function_call"]["arguments"],
        json!({ "city": "Paris" }).to_string()
    );
    assert_eq!(v["choices"][0]["finish_reason"], "function_call");

    let (_, body) = post(
        &calls,
        "/v1/chat/completions",
        json!({ "messages": messages(), "functions": functions, "stream": true }),
    )
    .await;
    let chunks = sse(&body);
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[2]["function_call"]["name"], "get_weather", "{body}");
    assert_eq!(
        deltas[3]["function_call"]["arguments"],
        json!({ "city": "Paris" }).to_string()
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "function_call"
    );
}

#[tokio::test]
async fn ollama_chat_renders_calls_with_object_arguments_and_ends_with_stop() {
    let (text, calls) = scripts();
    let (status, body) = post(
        &calls,
        "/api/chat",
        json!({ "model": "m", "messages": messages(), "tools": tools(), "stream": false }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"]["content"], "Checking.", "{v}");
    assert_eq!(
        v["message"]["tool_calls"],
        json!([
            { "function": { "name": "get_weather", "arguments": { "city": "Paris" } } },
            { "function": { "name": "get_weather", "arguments": { "city": "Oslo" } } },
        ])
    );
    assert_eq!(v["done"], true);
    // Ollama ends an answer with calls with "stop".
    assert_eq!(v["done_reason"], "stop");
    assert_eq!(v["eval_count"], 7);

    // Streamed (Ollama's default): text lines, one line with the calls, the final line.
    let (status, body) = post(
        &calls,
        "/api/chat",
        json!({ "model": "m", "messages": messages(), "tools": tools() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert_eq!(lines[0]["message"]["content"], "Checking.");
    assert_eq!(
        lines[1]["message"]["tool_calls"][1]["function"]["arguments"],
        json!({ "city": "Oslo" })
    );
    assert_eq!(lines[1]["done"], false);
    assert_eq!(lines[2]["done"], true);
    assert_eq!(lines[2]["done_reason"], "stop");

    // A plain answer has no tool_calls at all.
    let (_, body) = post(
        &text,
        "/api/chat",
        json!({ "model": "m", "messages": messages(), "stream": false }),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"]["content"], "Hello");
    assert!(v["message"].get("tool_calls").is_none(), "{v}");
}

#[tokio::test]
async fn requests_reach_the_backend_with_the_tools_they_offered() {
    let (_, calls) = scripts();
    post(
        &calls,
        "/api/chat",
        json!({ "model": "m", "messages": messages(), "tools": tools(), "stream": false }),
    )
    .await;
    post(
        &calls,
        "/v1/chat/completions",
        json!({ "messages": messages(), "tools": tools(), "tool_choice": "required" }),
    )
    .await;
    let seen = calls.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for r in seen.iter() {
        let t = r.tools.as_ref().expect("the tools reach the backend");
        assert_eq!(t.definitions[0]["function"]["name"], "get_weather");
    }
    assert_eq!(
        seen[1].tools.as_ref().unwrap().choice,
        edgellm_backend::ToolChoice::Required
    );
}
