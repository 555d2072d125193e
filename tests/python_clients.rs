//! The real `openai`, `ollama` and `anthropic` Python clients (installed into a venv by
//! tests/setup.sh) against the daemon over HTTPS, trusting only its CA. Their results must
//! match the server's own greedy answers.

mod common;

use common::{greedy_chat, Server};
use serde_json::json;

#[test]
fn openai_and_ollama_python_clients_get_the_servers_answers() {
    let server = Server::start(&["--model-id", "qwen-test"]);
    let got = common::run_client_script("clients.py", &server);

    let (_, chat) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat("Name two planets.", json!({ "max_tokens": 24 })),
    );
    let expected_chat = chat["choices"][0]["message"]["content"].as_str().unwrap();
    let (_, completion) = server.post_json(
        "/v1/completions",
        &json!({ "prompt": "def add(a, b):", "temperature": 0, "max_tokens": 12 }),
    );
    let expected_completion = completion["choices"][0]["text"].as_str().unwrap();

    assert_eq!(got["openai_chat"], expected_chat, "{got}");
    assert_eq!(got["openai_chat_stream"], expected_chat, "{got}");
    assert_eq!(got["openai_usage"], chat["usage"]["completion_tokens"]);
    assert_eq!(got["openai_completion"], expected_completion, "{got}");
    assert_eq!(got["openai_models"], json!(["qwen-test"]));
    assert_eq!(got["ollama_chat"], expected_chat, "{got}");
    assert_eq!(got["ollama_chat_stream"], expected_chat, "{got}");
    assert_eq!(got["ollama_generate_raw"], expected_completion, "{got}");
    assert_eq!(got["ollama_tags"], json!(["qwen-test:latest"]));

    // Anthropic's SDK on /v1/messages: the same greedy answer, whole and streamed.
    let a = common::run_client_script("anthropic_client.py", &server);
    assert_eq!(a["text"], expected_chat, "{a}");
    assert_eq!(a["stream_text"], expected_chat, "{a}");
    assert_eq!(a["stream_final_text"], expected_chat, "{a}");
    assert_eq!(
        a["output_tokens"], chat["usage"]["completion_tokens"],
        "{a}"
    );
    assert_eq!(a["stream_output_tokens"], a["output_tokens"], "{a}");
    let reason = |finish: &serde_json::Value| match finish.as_str() {
        Some("length") => "max_tokens",
        _ => "end_turn",
    };
    let finish = &chat["choices"][0]["finish_reason"];
    assert_eq!(a["stop_reason"], reason(finish), "{a}");
    assert_eq!(a["stream_stop_reason"], reason(finish), "{a}");
    assert_eq!(a["prompt_tokens"], chat["usage"]["prompt_tokens"], "{a}");
    assert_eq!(a["count_tokens"], chat["usage"]["prompt_tokens"], "{a}");
    // A stop sequence ends the answer just before it and is reported.
    let stop = &a["stop"];
    assert_eq!(stop["text"], stop["expected"], "{a}");
    assert_eq!(stop["stop_reason"], "stop_sequence", "{a}");
    assert_eq!(stop["stop_sequence"], stop["sequence"], "{a}");
    // Tools: the forced call, then text after its result; a streamed call parses too.
    assert_eq!(a["call"]["name"], "get_weather", "{a}");
    assert!(a["call"]["input"]["city"].is_string(), "{a}");
    assert_eq!(a["call"]["stop_reason"], "tool_use", "{a}");
    assert!(
        !a["after_result"]["text"].as_str().unwrap().is_empty(),
        "{a}"
    );
    assert_ne!(a["after_result"]["stop_reason"], "tool_use", "{a}");
    assert_eq!(a["stream_call"]["name"], "get_weather", "{a}");
    assert!(a["stream_call"]["input"]["city"].is_string(), "{a}");
    assert_eq!(a["stream_call"]["stop_reason"], "tool_use", "{a}");
    assert_eq!(
        a["thinking_error"],
        json!({"status": 400, "type": "invalid_request_error"})
    );
    assert_eq!(a["models"], json!(["qwen-test"]));

    // The openai package's Responses API: the same greedy answer, whole, streamed and
    // through its stream helper; tools as items; a schema in text.format.
    let r = common::run_client_script("responses_client.py", &server);
    assert_eq!(r["text"], expected_chat, "{r}");
    assert_eq!(r["stream_text"], expected_chat, "{r}");
    assert_eq!(r["stream_final_text"], expected_chat, "{r}");
    assert_eq!(r["helper_text"], expected_chat, "{r}");
    assert_eq!(
        r["stream_first_last"],
        json!(["response.created", "response.completed"])
    );
    assert_eq!(
        r["output_tokens"], chat["usage"]["completion_tokens"],
        "{r}"
    );
    assert_eq!(r["input_tokens"], chat["usage"]["prompt_tokens"], "{r}");
    let status = match finish.as_str() {
        Some("length") => "incomplete",
        _ => "completed",
    };
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(
        r["short"],
        json!({"status": "incomplete", "reason": "max_output_tokens"})
    );
    assert_eq!(r["call"]["name"], "get_weather", "{r}");
    assert!(r["call"]["arguments"]["city"].is_string(), "{r}");
    assert!(
        !r["after_output"]["text"].as_str().unwrap().is_empty(),
        "{r}"
    );
    assert_eq!(r["after_output"]["types"], json!(["message"]), "{r}");
    assert_eq!(r["stream_call"]["name"], "get_weather", "{r}");
    assert!(r["structured"]["planet"].is_string(), "{r}");
    assert_eq!(
        r["stateless_error"],
        json!({"status": 400, "param": "previous_response_id"})
    );
}
