//! The Ollama-compatible API with the real model: NDJSON streams, done statistics, JSON
//! format, model listing, Ollama-shaped errors.

mod common;

use common::Server;
use serde_json::{json, Value};

fn ndjson(raw: &str) -> Vec<Value> {
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn chat_and_generate_stream_ndjson_and_match_the_non_stream_answer() {
    let server = Server::start(&["--model-id", "qwen2.5:0.5b"]);
    let chat = json!({
        "model": "qwen2.5:0.5b",
        "messages": [{ "role": "user", "content": "Name two planets." }],
        "options": { "temperature": 0, "num_predict": 24 },
    });
    let r = server
        .blocking_client()
        .post(server.url("/api/chat"))
        .json(&chat)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let lines = ndjson(&r.text().unwrap());
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert!(lines[..lines.len() - 1]
        .iter()
        .all(|l| l["done"] == false && l["message"]["role"] == "assistant"));
    let streamed: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ] {
        assert!(last[key].is_u64(), "{key} missing: {last}");
    }
    assert!(last["eval_count"].as_u64().unwrap() <= 24);
    assert!(last["created_at"].as_str().unwrap().ends_with('Z'));

    let mut once = chat.clone();
    once["stream"] = json!(false);
    let (_, single) = server.post_json("/api/chat", &once);
    assert_eq!(single["done"], true);
    assert_eq!(single["message"]["content"].as_str().unwrap(), streamed);
    assert_eq!(single["model"], "qwen2.5:0.5b");

    // /api/generate with a system prompt, not streamed.
    let gen = json!({ "model": "qwen2.5:0.5b", "prompt": "Say hello.", "system": "Answer in French.", "stream": false, "options": { "temperature": 0, "num_predict": 12 } });
    let (_, g) = server.post_json("/api/generate", &gen);
    assert_eq!(g["done"], true);
    assert!(!g["response"].as_str().unwrap().is_empty());
    assert!(g["done_reason"] == "stop" || g["done_reason"] == "length");
    // Streamed generate concatenates to the same text.
    let mut gen_stream = gen.clone();
    gen_stream["stream"] = json!(true);
    let lines = ndjson(&server.post_text("/api/generate", &gen_stream).1);
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert_eq!(text, g["response"].as_str().unwrap());
}

#[test]
fn format_json_constrains_the_answer_to_json() {
    let server = Server::start(&[]);
    let body = json!({
        "prompt": "Describe a cat with the keys name and age.",
        "format": "json",
        "stream": false,
        "options": { "temperature": 0, "num_predict": 80 },
    });
    let (_, r) = server.post_json("/api/generate", &body);
    let text = r["response"].as_str().unwrap();
    if r["done_reason"] == "stop" {
        let parsed: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        assert!(parsed.is_object(), "{text}");
    } else {
        assert!(text.trim_start().starts_with('{'), "{text}");
    }
}

#[test]
fn model_listing_and_errors_look_like_ollama() {
    let server = Server::start(&["--model-id", "qwen2.5:0.5b"]);
    let (_, tags) = server.get_json("/api/tags");
    let m = &tags["models"][0];
    assert_eq!(m["name"], "qwen2.5:0.5b");
    assert_eq!(m["details"]["format"], "gguf");
    assert_eq!(m["details"]["family"], "qwen2");
    assert!(m["size"].as_u64().unwrap() > 400_000_000);
    assert_eq!(m["digest"].as_str().unwrap().len(), 64);
    let (_, ps) = server.get_json("/api/ps");
    assert_eq!(ps["models"][0]["name"], "qwen2.5:0.5b");
    // Ollama always sends the running model's context; here the daemon's per-request limit.
    let (_, v1) = server.get_json("/v1/models");
    assert_eq!(
        ps["models"][0]["context_length"], v1["data"][0]["meta"]["n_ctx"],
        "{ps} {v1}"
    );
    let (_, v) = server.get_json("/api/version");
    assert!(v["version"].is_string());
    let (_, show) = server.post_json("/api/show", &json!({ "model": "qwen2.5:0.5b" }));
    assert_eq!(show["details"]["family"], "qwen2");
    assert!(show["template"].as_str().unwrap().contains("{{ .Prompt }}"));
    // Qwen2.5-Coder has FIM tokens, so it can `insert` (a `suffix` on /api/generate).
    assert_eq!(
        show["capabilities"],
        json!(["completion", "tools", "embedding", "insert"]),
        "{show}"
    );

    // Unknown models: Ollama's own words; a pull of the served model succeeds.
    let (status, e) = server.post_json("/api/show", &json!({ "model": "llama3:70b" }));
    assert_eq!(status, 404);
    assert_eq!(e, json!({ "error": "model 'llama3:70b' not found" }));
    let (status, pulled) = server.post_text("/api/pull", &json!({ "model": "qwen2.5" }));
    assert_eq!(status, 200);
    assert_eq!(
        ndjson(&pulled).last().unwrap(),
        &json!({ "status": "success" })
    );
    let (status, e) = server.post_json("/api/pull", &json!({ "model": "llama3" }));
    assert_eq!(status, 404);
    assert!(e["error"].as_str().unwrap().contains("qwen2.5:0.5b"), "{e}");

    let (status, e) = server.post_json(
        "/api/chat",
        &json!({ "messages": [{ "role": "user", "content": "hi" }], "options": { "temperature": -3 } }),
    );
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("temperature"), "{e}");
    let r = server
        .blocking_client()
        .post(server.url("/api/generate"))
        .body("{oops")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().unwrap()["error"].is_string());
}
