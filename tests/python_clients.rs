//! The real `openai` and `ollama` Python clients (installed into a venv by tests/setup.sh)
//! against the daemon over HTTPS, trusting only its CA. Their results must match the
//! server's own greedy answers.

mod common;

use std::process::Command;

use common::{greedy_chat, Server};
use serde_json::{json, Value};

fn python() -> String {
    let home = std::env::var("HOME").unwrap();
    let venv = std::env::var("EDGELLM_TEST_VENV")
        .unwrap_or_else(|_| format!("{home}/.cache/edgellm/venv"));
    format!("{venv}/bin/python")
}

#[test]
fn openai_and_ollama_python_clients_get_the_servers_answers() {
    let server = Server::start(&["--model-id", "qwen-test"]);
    let ca = server.state.path().join("tls/ca.pem");
    let out = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/clients.py"
        ))
        .arg(format!("https://localhost:{}", server.port()))
        .arg(&ca)
        .output()
        .expect("the test venv exists (tests/setup.sh creates it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "clients failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    let client = server.blocking_client();
    let chat: Value = client
        .post(server.url("/v1/chat/completions"))
        .json(&greedy_chat(
            "Name two planets.",
            json!({ "max_tokens": 24 }),
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let expected_chat = chat["choices"][0]["message"]["content"].as_str().unwrap();
    let completion: Value = client
        .post(server.url("/v1/completions"))
        .json(&json!({ "prompt": "def add(a, b):", "temperature": 0, "max_tokens": 12 }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let expected_completion = completion["choices"][0]["text"].as_str().unwrap();

    assert_eq!(got["openai_chat"], expected_chat, "{got}");
    assert_eq!(got["openai_chat_stream"], expected_chat, "{got}");
    assert_eq!(got["openai_usage"], chat["usage"]["completion_tokens"]);
    assert_eq!(got["openai_completion"], expected_completion, "{got}");
    assert_eq!(got["openai_models"], json!(["qwen-test"]));
    assert_eq!(got["ollama_chat"], expected_chat, "{got}");
    assert_eq!(got["ollama_chat_stream"], expected_chat, "{got}");
    assert_eq!(got["ollama_generate_raw"], expected_completion, "{got}");
    assert_eq!(got["ollama_tags"], json!(["qwen-test"]));
}
