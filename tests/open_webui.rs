//! Open WebUI's chat page as it behaves: every message it sends carries the page's 36
//! built-in tools. `tests/data/open_webui_tools.json` holds them: the names and parameters
//! of Open WebUI 0.12.4's built-in tools (from its `open_webui/tools/builtin.py`), with
//! descriptions written here; with the chat template a message is about 5,150 prompt tokens
//! (the real page: 5,563), more than the old fixed 4,096-token default context, which
//! refused it with a 400.
//!
//! With default settings (`--ctx-size auto`: this machine gets the model's full 32,768) the
//! first message is served over Open WebUI's Ollama connection (`/api/chat`, streamed), and
//! the second, a new conversation with the same tools, reuses the tool block from the KV
//! cache. The times to first token of both are printed (a figure, not a bound).

mod common;

use std::io::{BufRead, BufReader};
use std::time::Instant;

use common::{metric, Server};
use serde_json::{json, Value};

fn tools() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/open_webui_tools.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One streamed `/api/chat` message as the page sends it: the time to its first line with
/// content or calls, and the final line.
fn message(server: &Server, text: &str) -> (f64, Value) {
    let body = json!({
        "model": "qwen-test:latest",
        "messages": [{ "role": "user", "content": text }],
        "tools": tools(),
        "stream": true,
        // The page sets no limit; a short answer keeps the test cheap.
        "options": { "num_predict": 16 },
    });
    let started = Instant::now();
    let response = server.post("/api/chat", &body);
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().unwrap_or_default()
    );
    let mut first = None;
    let mut last = Value::Null;
    for line in BufReader::new(response).lines() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let message = &line["message"];
        let says = message["content"].as_str().is_some_and(|c| !c.is_empty())
            || message["tool_calls"].is_array();
        if says && first.is_none() {
            first = Some(started.elapsed().as_secs_f64());
        }
        last = line;
    }
    (first.unwrap_or(f64::NAN), last)
}

#[test]
fn open_webuis_default_chat_with_its_36_tools_is_served_and_the_second_message_reuses_them() {
    // The daemon's own defaults for the context and slots, over the harness's small ones.
    let server = Server::start(&[
        "--model-id",
        "qwen-test",
        "--ctx-size",
        "auto",
        "--parallel",
        "2",
    ]);
    let (_, models) = server.get_json("/v1/models");
    let n_ctx = models["data"][0]["meta"]["n_ctx"].as_u64().unwrap();
    assert!(
        n_ctx >= 8192,
        "auto context on a machine this size: {models}"
    );

    let (first_ttft, first) = message(&server, "Hello!");
    assert_eq!(first["done"], true, "{first}");
    let prompt = first["prompt_eval_count"].as_u64().unwrap();
    assert!(
        prompt > 4096,
        "the page's tools alone exceed the old default: {first}"
    );

    let reused_before = metric(&server.metrics(), "edgellm_prompt_tokens_reused_total");
    let (second_ttft, second) = message(&server, "Hello! What can you do?");
    assert_eq!(second["done"], true, "{second}");
    let reused = metric(&server.metrics(), "edgellm_prompt_tokens_reused_total") - reused_before;
    assert!(
        reused as u64 >= prompt - 16,
        "the second message reuses the tool block: {reused} of {prompt} tokens"
    );
    eprintln!(
        "open webui default chat: ctx {n_ctx}, {prompt} prompt tokens; first message TTFT {first_ttft:.1} s, second {second_ttft:.2} s ({reused} tokens reused)"
    );
}
