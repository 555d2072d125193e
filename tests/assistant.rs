//! An assistant's features with the real model: tool calls, structured outputs and
//! embeddings through the real `openai` and `ollama` clients and LangChain (including a
//! Home Assistant-shaped exchange), a tool call starting inside a token, one request using
//! the whole shared context, and clear errors for requests that cannot be served.

mod common;

use common::Server;
use serde_json::{json, Value};

#[test]
fn clients_get_tool_calls_structured_outputs_and_embeddings() {
    let server = Server::start(&["--ctx-size", "4096", "--parallel", "2"]);
    let got = common::run_client_script("assistant.py", &server);
    eprintln!("{got:#}");
    // Qwen2.5-0.5B's hidden size.
    assert_eq!(got["embedding_dims"], 896);
    assert_eq!(got["openai_auto"]["name"], "get_weather");
    assert!(got["home_assistant_calls"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));
}

#[test]
fn one_request_may_use_the_whole_context_while_the_other_slot_is_idle() {
    let server = Server::start(&["--ctx-size", "1024", "--parallel", "2"]);
    let (_, models) = server.get_json("/v1/models");
    assert_eq!(models["data"][0]["meta"]["n_ctx"], 1024, "{models}");
    // About 700 tokens: more than ctx-size / parallel (512), less than ctx-size.
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(70);
    let (_, r) = server.post_json(
        "/v1/chat/completions",
        &json!({
            "messages": [{ "role": "user", "content": format!("{long}\nHow many foxes?") }],
            "temperature": 0, "max_tokens": 8,
        }),
    );
    let prompt = r["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    assert!(prompt > 512 && prompt < 1024, "{r}");
    // Twice that does not fit at all: the clear 400.
    let (status, e) = server.post_json(
        "/v1/chat/completions",
        &json!({ "messages": [{ "role": "user", "content": long.repeat(2) }] }),
    );
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "context_length_exceeded", "{e}");
}

/// A copy of the test model whose GGUF says it was trained on `n` positions.
fn model_trained_on(n: u32, dir: &common::TempDir) -> std::path::PathBuf {
    let mut bytes = std::fs::read(common::model_path()).unwrap();
    let key = b"qwen2.context_length";
    let at = bytes
        .windows(key.len())
        .take(1 << 20)
        .position(|w| w == key)
        .expect("the GGUF names its context length");
    let value = at + key.len();
    // GGUF type 4 is UINT32.
    assert_eq!(bytes[value..value + 4], 4u32.to_le_bytes());
    bytes[value + 4..value + 8].copy_from_slice(&n.to_le_bytes());
    let path = dir.path().join("short-context.gguf");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An embedding model trained on fewer positions than the embedding context: inputs are
/// cut (or refused) at its training length, not at 512 (positions past it abort llama.cpp
/// on models with learned positions).
#[test]
fn embedding_inputs_stop_at_the_embedding_models_training_length() {
    let dir = common::TempDir::new("short-ctx");
    let short = model_trained_on(128, &dir);
    let server = Server::start(&["--embedding-model", &short.display().to_string()]);
    let (_, models) = server.get_json("/v1/models");
    assert_eq!(
        models["data"][0]["meta"]["n_ctx_embedding"], 128,
        "{models}"
    );
    let long = "lamp ".repeat(300);
    let (status, e) = server.post_json("/v1/embeddings", &json!({ "input": long }));
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("128"),
        "{e}"
    );
    // Ollama's route truncates to the same length and answers.
    let (_, r) = server.post_json("/api/embed", &json!({ "input": long }));
    assert_eq!(r["prompt_eval_count"], 128, "{r}");
}

#[test]
fn embeddings_come_from_the_embedding_model_when_one_is_given() {
    // No dedicated embedding GGUF can be fetched here, so the test model is loaded a
    // second time as the embedding model: the path (second model, its own tokenizer and
    // context, GGUF pooling) is the same for any GGUF.
    let model = common::model_path();
    let second = model.display().to_string();
    let server = Server::start(&["--model-id", "chat", "--embedding-model", &second]);
    assert!(
        server.log().contains("embedding model loaded"),
        "{}",
        server.log()
    );
    let (_, models) = server.get_json("/v1/models");
    let stem = model.file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(models["data"][0]["id"], "chat");
    assert_eq!(
        models["data"][0]["meta"]["embedding_model"],
        stem.as_str(),
        "{models}"
    );
    let (_, e) = server.post_json(
        "/v1/embeddings",
        &json!({ "input": ["a cat on a mat", "a kitten on a rug"] }),
    );
    let v = |i: usize| -> Vec<f64> {
        e["data"][i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (a, b) = (v(0), v(1));
    assert_eq!(a.len(), 896, "{e}");
    let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    assert!(a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() > 0.5);
}

/// A call that starts inside a token (here ` {"`, after "OK") cannot use the call grammar
/// compiled at submit, which starts at a token boundary: its grammar is compiled on a
/// thread of its own while the slot sits out, and the call still comes out whole.
#[test]
fn a_call_starting_inside_a_token_gets_its_grammar_off_the_engine_thread() {
    let server = Server::start(&[]);
    let tools = json!([{ "type": "function", "function": { "name": "get_time",
        "description": "Current time in a city",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } },
            "required": ["city"] } } }]);
    let body = json!({
        "messages": [
            { "role": "system", "content": "You repeat text exactly." },
            { "role": "user", "content":
                r#"Repeat exactly: OK {"name": "get_time", "arguments": {"city": "Paris"}}"# },
        ],
        "tools": tools,
        "temperature": 0,
        "max_tokens": 60,
    });
    let (status, answer) = server.post_json("/v1/chat/completions", &body);
    assert_eq!(status, 200, "{answer}");
    let message = &answer["choices"][0]["message"];
    assert_eq!(
        message["content"].as_str().map(str::trim),
        Some("OK"),
        "{answer}"
    );
    let call = &message["tool_calls"][0]["function"];
    assert_eq!(call["name"], "get_time", "{answer}");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({ "city": "Paris" }), "{answer}");
    assert_eq!(
        answer["choices"][0]["finish_reason"], "tool_calls",
        "{answer}"
    );
    let log = server.log();
    assert!(
        log.contains(
            "tool call starts inside a token: its grammar is compiled off the engine thread"
        ),
        "the call did not take the background path:\n{log}"
    );
}

#[test]
fn requests_that_cannot_be_served_get_clear_errors() {
    let server = Server::start(&[]);
    let post = |path: &str, body: Value| server.post_json(path, &body);
    let msg = [json!({ "role": "user", "content": "hi" })];
    let weather = json!([{ "type": "function", "function": { "name": "get_weather",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } }]);
    for (body, param) in [
        (
            json!({ "messages": msg, "tools": weather, "tool_choice": { "type": "function", "function": { "name": "nope" } } }),
            "tool_choice",
        ),
        (
            json!({ "messages": msg, "tools": [{ "type": "function", "function": { "name": "bad name" } }] }),
            "tools[0].function.name",
        ),
        (
            json!({ "messages": msg, "response_format": { "type": "json_schema", "json_schema": { "name": "x" } } }),
            "response_format.json_schema.schema",
        ),
        (
            json!({ "messages": [{ "role": "assistant", "content": null, "tool_calls": [{ "id": "1", "type": "function",
                "function": { "name": "f", "arguments": "{not json" } }] }] }),
            "messages[0].tool_calls[0].function.arguments",
        ),
    ] {
        let (status, e) = post("/v1/chat/completions", body.clone());
        assert_eq!(status, 400, "{body} -> {e}");
        assert_eq!(e["error"]["param"], param, "{e}");
    }
    // A schema llguidance cannot use is refused before any generation.
    let (status, e) = post(
        "/v1/chat/completions",
        json!({ "messages": msg, "response_format": { "type": "json_schema",
            "json_schema": { "name": "x", "schema": { "type": "no-such-type" } } } }),
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("schema"),
        "{e}"
    );
    let (status, e) = post(
        "/api/chat",
        json!({ "messages": msg, "format": { "type": 7 }, "stream": false }),
    );
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].is_string(), "{e}");
    // Embeddings: token ids, too long without truncation, empty input.
    let (status, e) = post("/v1/embeddings", json!({ "input": [[1, 2, 3]] }));
    assert_eq!(
        (status, e["error"]["param"].clone()),
        (400, json!("input")),
        "{e}"
    );
    let long = "word ".repeat(2000);
    let (status, e) = post("/v1/embeddings", json!({ "input": long }));
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["code"], "context_length_exceeded", "{e}");
    let (status, e) = post("/api/embed", json!({ "input": long }));
    assert_eq!(status, 200, "Ollama truncates by default: {e}");
    assert_eq!(e["prompt_eval_count"], 512, "{e}");
    let (status, e) = post("/v1/embeddings", json!({ "input": "" }));
    assert_eq!(status, 400, "{e}");
    // The daemon is still serving.
    let (status, _) = post("/v1/embeddings", json!({ "input": "still here" }));
    assert_eq!(status, 200);
}
