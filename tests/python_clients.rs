//! The real `openai` and `ollama` Python clients (installed into a venv by tests/setup.sh)
//! against the daemon over HTTPS, trusting only its CA. Their results must match the
//! server's own greedy answers.

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
}
