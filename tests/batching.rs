//! Serving many at once: continuous batching, prefix reuse, cancellation that really stops
//! work, and admission control. Real model, real binary, real TLS.

mod common;

use std::time::Duration;

use common::{greedy_chat, metric, sse_data, streamed_content, Server};
use serde_json::{json, Value};

fn chat(server: &Server, body: &Value) -> Value {
    let (status, answer) = server.post_json("/v1/chat/completions", body);
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn four_concurrent_streams_complete_and_match_the_single_stream_answer() {
    let server = Server::start(&["--parallel", "4", "--ctx-size", "4096"]);
    let prompts = [
        "Name three primary colors.",
        "What is the capital of France?",
        "Write a Python function that adds two numbers.",
        "Give two tips for sleeping well.",
    ];
    let alone = chat(
        &server,
        &greedy_chat(prompts[0], json!({ "max_tokens": 32 })),
    );
    let alone = alone["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();

    let client = server.client();
    let url = server.url("/v1/chat/completions");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bodies: Vec<String> = rt.block_on(async {
        let requests = prompts.iter().map(|p| {
            let body = greedy_chat(p, json!({ "max_tokens": 32, "stream": true }));
            let (client, url) = (client.clone(), url.clone());
            async move {
                let r = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.text().await.unwrap()
            }
        });
        futures::future::join_all(requests).await
    });
    for (raw, prompt) in bodies.iter().zip(prompts) {
        let data = sse_data(raw);
        assert_eq!(
            data.last().map(String::as_str),
            Some("[DONE]"),
            "{prompt}: {raw}"
        );
        assert_eq!(
            data.iter()
                .filter(|d| d.contains("\"finish_reason\":\""))
                .count(),
            1,
            "{prompt}: {raw}"
        );
        assert!(
            !streamed_content(raw).trim().is_empty(),
            "{prompt}: empty answer"
        );
    }
    assert_eq!(
        streamed_content(&bodies[0]),
        alone,
        "greedy output changed when batched with other streams"
    );
    // They really ran together: four slots, and all four requests were started.
    let m = server.metrics();
    assert_eq!(metric(&m, "edgellm_slots"), 4.0);
    assert_eq!(metric(&m, "edgellm_engine_requests_total"), 5.0);
}

#[test]
fn a_client_that_leaves_mid_generation_frees_the_slot_at_once() {
    let server = Server::start(&["--parallel", "1"]);
    let client = server.client();
    let url = server.url("/v1/chat/completions");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let body = greedy_chat(
            "Write a very long essay about the history of bridges.",
            json!({ "max_tokens": 400, "stream": true }),
        );
        let mut r = client.post(&url).json(&body).send().await.unwrap();
        let mut seen = 0;
        while seen < 5 {
            r.chunk().await.unwrap().expect("stream ended early");
            seen += 1;
        }
        drop(r);
    });
    // The engine notices before its next step; the cells of what it generated are freed,
    // the prompt's are kept for reuse.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = server.metrics();
        if metric(&m, "edgellm_requests_cancelled_total") == 1.0 {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cancellation was not noticed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(metric(&m, "edgellm_generated_tokens_total") >= 5.0);
    assert_eq!(
        metric(&m, "edgellm_kv_cache_tokens"),
        metric(&m, "edgellm_prompt_tokens_processed_total"),
        "the KV cache still holds the abandoned answer"
    );
    // The next request gets the only slot and finishes.
    let short = chat(&server, &greedy_chat("Say hi.", json!({ "max_tokens": 4 })));
    assert_eq!(short["usage"]["completion_tokens"], 4);
    let m = server.metrics();
    assert_eq!(metric(&m, "edgellm_requests_cancelled_total"), 1.0);
    let generated = metric(&m, "edgellm_generated_tokens_total");
    assert!(
        generated < 100.0,
        "the abandoned request kept generating: {generated} tokens"
    );
}

#[test]
fn a_client_that_leaves_during_prompt_processing_does_not_hold_up_the_next() {
    // Small steps so the long prompt takes many decode steps.
    let server = Server::start(&[
        "--parallel",
        "1",
        "--batch-size",
        "32",
        "--ubatch-size",
        "32",
        "--ctx-size",
        "4096",
    ]);
    let long = "The quick brown fox jumps over the lazy dog. ".repeat(150);
    let tokens = server.post_json("/tokenize", &json!({ "content": long })).1["tokens"]
        .as_array()
        .unwrap()
        .len() as f64;
    let impatient = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&server.ca_pem()).unwrap())
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(server.url("/v1/chat/completions"))
        .json(&greedy_chat(&long, json!({ "max_tokens": 8 })))
        .send();
    assert!(
        gave_up.is_err(),
        "the long prompt finished within the client's patience; make it longer"
    );
    let short = chat(&server, &greedy_chat("Say hi.", json!({ "max_tokens": 4 })));
    let short_prompt = short["usage"]["prompt_tokens"].as_f64().unwrap();
    let m = server.metrics();
    assert_eq!(metric(&m, "edgellm_requests_cancelled_total"), 1.0);
    let processed = metric(&m, "edgellm_prompt_tokens_processed_total");
    assert!(
        processed < tokens + short_prompt,
        "the abandoned prompt was processed to the end: {processed} tokens processed, prompt {tokens}"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let server = Server::start(&["--parallel", "1", "--queue", "1"]);
    let client = server.client();
    let url = server.url("/v1/chat/completions");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // A runs.
        let body = greedy_chat(
            "Write a long story about a dragon.",
            json!({ "max_tokens": 300, "stream": true }),
        );
        let mut a = client.post(&url).json(&body).send().await.unwrap();
        a.chunk().await.unwrap().expect("A streams");
        // B waits in the queue.
        let b = {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                client
                    .post(&url)
                    .json(&greedy_chat("Say hi.", json!({ "max_tokens": 4 })))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        };
        let mut queued = false;
        for _ in 0..100 {
            let m = client
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if metric(&m, "edgellm_queue_depth") == 1.0 {
                queued = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(queued, "B never queued");
        let ready = client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        // C is refused.
        let c = client
            .post(&url)
            .json(&greedy_chat("Say hi.", json!({ "max_tokens": 4 })))
            .send()
            .await
            .unwrap();
        assert_eq!(c.status(), 503);
        assert_eq!(c.headers()["retry-after"], "1");
        let e: Value = c.json().await.unwrap();
        assert_eq!(e["error"]["code"], "overloaded");
        drop(a);
        assert_eq!(b.await.unwrap(), 200);
    });
    let m = server.metrics();
    assert_eq!(metric(&m, "edgellm_overloaded_total"), 1.0);
}

#[test]
fn a_second_chat_turn_reuses_the_first_turns_cache() {
    let server = Server::start(&["--parallel", "2", "--ctx-size", "4096"]);
    let first_turn = json!([{ "role": "user", "content": "Write a haiku about rain." }]);
    let first = chat(
        &server,
        &json!({ "messages": first_turn, "temperature": 0, "max_tokens": 40 }),
    );
    let answer = first["choices"][0]["message"]["content"].as_str().unwrap();
    let first_prompt = first["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let reused_before = metric(&server.metrics(), "edgellm_prompt_tokens_reused_total");

    let second_turn = json!([
        { "role": "user", "content": "Write a haiku about rain." },
        { "role": "assistant", "content": answer },
        { "role": "user", "content": "Now one about snow." },
    ]);
    let second = chat(
        &server,
        &json!({ "messages": second_turn, "temperature": 0, "max_tokens": 40 }),
    );
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    let prompt = second["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(
        cached >= first_prompt,
        "second turn reused only {cached} of the first turn's {first_prompt} prompt tokens"
    );
    assert!(cached < prompt);
    let reused_after = metric(&server.metrics(), "edgellm_prompt_tokens_reused_total");
    assert_eq!(reused_after - reused_before, cached as f64);
}
