//! The OpenAI-compatible API end to end: the real binary, the real model, real TLS.

mod common;

use common::{greedy_chat, sse_data, Server};
use serde_json::{json, Value};

fn content(v: &Value) -> String {
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Two answers' log probabilities: the same tokens and alternatives, the figures equal up
/// to float noise (speculation and the KV cache decode a prompt in different batches).
fn same_logprobs(a: &[Value], b: &[Value]) {
    assert_eq!(a.len(), b.len(), "{a:?} {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x["token"], &x["bytes"]), (&y["token"], &y["bytes"]));
        let (p, q) = (
            x["logprob"].as_f64().unwrap(),
            y["logprob"].as_f64().unwrap(),
        );
        assert!((p - q).abs() < 0.05, "{x} {y}");
        assert_eq!(
            x["top_logprobs"].as_array().map(Vec::len),
            y["top_logprobs"].as_array().map(Vec::len)
        );
    }
}

#[test]
fn greedy_chat_is_repeatable_and_the_stream_matches_it() {
    let server = Server::start(&[]);
    let body = greedy_chat("Name three colors.", json!({ "max_tokens": 40 }));
    let (s1, a) = server.post_json("/v1/chat/completions", &body);
    let (s2, b) = server.post_json("/v1/chat/completions", &body);
    assert_eq!((s1, s2), (200, 200), "{a} {b}");
    let text = content(&a);
    assert!(!text.trim().is_empty(), "empty answer: {a}");
    assert_eq!(text, content(&b), "greedy decoding must be deterministic");
    assert_eq!(a["object"], "chat.completion");
    assert_eq!(a["choices"][0]["message"]["role"], "assistant");

    // Usage agrees with the model's own tokenizer.
    let (_, rendered) =
        server.post_json("/apply-template", &json!({ "messages": body["messages"] }));
    let (_, prompt_tokens) =
        server.post_json("/tokenize", &json!({ "content": rendered["prompt"] }));
    let (_, answer_tokens) = server.post_json("/tokenize", &json!({ "content": text }));
    let usage = &a["usage"];
    assert_eq!(
        usage["prompt_tokens"],
        prompt_tokens["tokens"].as_array().unwrap().len(),
        "{a}"
    );
    assert_eq!(
        usage["completion_tokens"],
        answer_tokens["tokens"].as_array().unwrap().len(),
        "{a}"
    );
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    // The stream concatenates to the same text and ends with [DONE].
    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    stream_body["stream_options"] = json!({ "include_usage": true });
    let r = server
        .blocking_client()
        .post(server.url("/v1/chat/completions"))
        .json(&stream_body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let data = sse_data(&r.text().unwrap());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let streamed: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        streamed, text,
        "streamed text differs from the non-stream answer"
    );
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).map(|ch| &ch["finish_reason"]))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&a["choices"][0]["finish_reason"]]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], usage["prompt_tokens"]);
    assert_eq!(
        last["usage"]["completion_tokens"],
        usage["completion_tokens"]
    );

    // Log probabilities: asked for, the same greedy answer comes with one entry per token
    // whose texts spell it; the greedy token is the most likely one, so it heads its own
    // alternatives; streamed, the chunks carry the same entries.
    let mut with = body.clone();
    with["logprobs"] = json!(true);
    with["top_logprobs"] = json!(3);
    let (status, lp) = server.post_json("/v1/chat/completions", &with);
    assert_eq!(status, 200, "{lp}");
    assert_eq!(
        content(&lp),
        text,
        "asking for logprobs changes nothing else"
    );
    let entries = lp["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        usage["completion_tokens"].as_u64().unwrap(),
        "{lp}"
    );
    let spelled: String = entries
        .iter()
        .map(|e| e["token"].as_str().unwrap())
        .collect();
    assert_eq!(spelled, text);
    for e in entries {
        let logprob = e["logprob"].as_f64().unwrap();
        assert!(logprob <= 0.0, "{e}");
        let top = e["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3, "{e}");
        assert_eq!(
            top[0]["token"], e["token"],
            "greedy picks the most likely: {e}"
        );
        assert!(
            (top[0]["logprob"].as_f64().unwrap() - logprob).abs() < 1e-4,
            "{e}"
        );
        assert!(top[1]["logprob"].as_f64().unwrap() <= logprob, "{e}");
        assert_eq!(
            e["bytes"].as_array().unwrap().len(),
            e["token"].as_str().unwrap().len()
        );
    }
    with["stream"] = json!(true);
    let r = server
        .blocking_client()
        .post(server.url("/v1/chat/completions"))
        .json(&with)
        .send()
        .unwrap();
    let streamed_entries: Vec<Value> = sse_data(&r.text().unwrap())
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["logprobs"]["content"].as_array().cloned())
        .flatten()
        .collect();
    same_logprobs(&streamed_entries, entries);
    // Without the question, nothing is computed or sent.
    assert!(a["choices"][0]["logprobs"].is_null(), "{a}");

    // Completions' `logprobs: N` and Ollama's `logprobs` give the same figures.
    let (_, c) = server.post_json(
        "/v1/completions",
        &json!({ "prompt": "def add(a, b):", "max_tokens": 6, "temperature": 0, "logprobs": 2 }),
    );
    let clp = &c["choices"][0]["logprobs"];
    let tokens: String = clp["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tokens, c["choices"][0]["text"].as_str().unwrap(), "{c}");
    assert_eq!(clp["top_logprobs"][0].as_object().unwrap().len(), 2, "{c}");
    assert_eq!(clp["text_offset"][0], 0, "{c}");
    let (_, o) = server.post_json(
        "/api/chat",
        &json!({ "model": "m", "messages": body["messages"], "stream": false, "logprobs": true,
            "top_logprobs": 3, "options": { "temperature": 0, "num_predict": 40 } }),
    );
    assert_eq!(o["message"]["content"], text.as_str(), "{o}");
    // The same entries in Ollama's shape.
    same_logprobs(o["logprobs"].as_array().unwrap(), entries);
}

#[test]
fn max_tokens_and_stop_strings_end_generation() {
    let server = Server::start(&[]);
    let prompt = "Count from 1 to 20, separated by commas.";
    let (_, full) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat(prompt, json!({ "max_tokens": 60 })),
    );
    let full_text = content(&full);

    let (status, short) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat(prompt, json!({ "max_tokens": 5 })),
    );
    assert_eq!(status, 200);
    assert_eq!(short["choices"][0]["finish_reason"], "length", "{short}");
    assert_eq!(short["usage"]["completion_tokens"], 5);
    assert!(
        full_text.starts_with(&content(&short)),
        "{full_text:?} vs {short}"
    );

    // Stop at the first "5": the text is what came before it, without the stop string.
    let at = full_text.find('5').expect("the count contains a 5");
    let (status, stopped) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat(prompt, json!({ "max_tokens": 60, "stop": ["5"] })),
    );
    assert_eq!(status, 200);
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop", "{stopped}");
    assert_eq!(content(&stopped), full_text[..at], "{stopped}");

    // The same through the stream.
    let body = greedy_chat(
        prompt,
        json!({ "max_tokens": 60, "stop": "5", "stream": true }),
    );
    let text = server.post_text("/v1/chat/completions", &body).1;
    let streamed: String = sse_data(&text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(streamed, full_text[..at]);
}

#[test]
fn text_completions_and_models() {
    let server = Server::start(&["--model-id", "qwen-test"]);
    let (status, models) = {
        let r = server
            .blocking_client()
            .get(server.url("/v1/models"))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "qwen-test");
    assert_eq!(models["data"][0]["meta"]["architecture"], "qwen2");
    // Which CPU kernels run the model, and what the CPU offers.
    let meta = &models["data"][0]["meta"];
    assert!(
        meta["cpu_backend"]
            .as_str()
            .unwrap()
            .starts_with("llama.cpp CPU"),
        "{meta}"
    );
    assert!(meta["cpu_features"].is_array(), "{meta}");
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        meta["cpu_features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "avx2"),
        std::arch::is_x86_feature_detected!("avx2"),
        "{meta}"
    );

    let body = json!({ "prompt": "def fibonacci(n):", "max_tokens": 16, "temperature": 0 });
    let (status, a) = server.post_json("/v1/completions", &body);
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["object"], "text_completion");
    assert_eq!(a["model"], "qwen-test");
    let text = a["choices"][0]["text"].as_str().unwrap();
    assert!(!text.is_empty());
    let (_, b) = server.post_json("/v1/completions", &body);
    assert_eq!(b["choices"][0]["text"], a["choices"][0]["text"]);
    assert_eq!(a["usage"]["completion_tokens"], 16);

    // Fill in the middle with the model's FIM tokens: llama-server's /infill, a completions
    // `suffix` and Ollama's `suffix` give the same greedy middle, which fits its gap.
    let prefix = "def add(a, b):\n    return ";
    let suffix = "\n\n\nprint(add(2, 3))\n";
    let (status, fim) = server.post_json(
        "/infill",
        &json!({ "input_prefix": prefix, "input_suffix": suffix, "n_predict": 12, "temperature": 0 }),
    );
    assert_eq!(status, 200, "{fim}");
    let middle = fim["content"].as_str().unwrap();
    assert!(
        middle.replace(' ', "").starts_with("a+b"),
        "the middle of `return ... ` is the sum: {fim}"
    );
    assert!(fim["tokens_predicted"].as_u64().unwrap() <= 12, "{fim}");
    let (status, c) = server.post_json(
        "/v1/completions",
        &json!({ "prompt": prefix, "suffix": suffix, "max_tokens": 12, "temperature": 0 }),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["choices"][0]["text"], middle, "{c}");
    let (status, o) = server.post_json(
        "/api/generate",
        &json!({ "model": "qwen-test", "prompt": prefix, "suffix": suffix, "stream": false,
            "options": { "num_predict": 12, "temperature": 0 } }),
    );
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["response"], middle, "{o}");

    // An editor sends more than the context holds: the far end of the prefix is cut (the
    // code nearest the cursor kept) and the middle still fits its gap.
    let long_prefix = (0..600)
        .map(|i| format!("x{i} = {i}\n"))
        .collect::<String>()
        + prefix;
    let (status, long) = server.post_json(
        "/infill",
        &json!({ "input_prefix": long_prefix, "input_suffix": suffix, "n_predict": 12, "temperature": 0 }),
    );
    assert_eq!(status, 200, "{long}");
    let long_middle = long["content"].as_str().unwrap();
    assert!(long_middle.replace(' ', "").starts_with("a+b"), "{long}");
    let (_, models) = server.get_json("/v1/models");
    let n_ctx = models["data"][0]["meta"]["n_ctx"].as_u64().unwrap();
    assert!(
        long["tokens_evaluated"].as_u64().unwrap() <= n_ctx * 3 / 4,
        "{long}"
    );
}

#[test]
fn bad_requests_get_openai_errors_naming_the_field_and_the_server_keeps_serving() {
    let server = Server::start(&["--ctx-size", "512"]);
    let client = server.blocking_client();
    let url = server.url("/v1/chat/completions");
    let send_raw = |body: &str| {
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };

    let (status, e) = send_raw("{\"messages\": [");
    assert_eq!(status, 400);
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("JSON"),
        "{e}"
    );

    for (body, param) in [
        (
            greedy_chat("hi", json!({ "temperature": "hot" })),
            "temperature",
        ),
        (
            greedy_chat("hi", json!({ "temperature": -1 })),
            "temperature",
        ),
        (greedy_chat("hi", json!({ "top_p": 1.5 })), "top_p"),
        (
            greedy_chat("hi", json!({ "max_tokens": "many" })),
            "max_tokens",
        ),
        (json!({ "messages": "hi" }), "messages"),
        (json!({ "messages": [] }), "messages"),
        (
            json!({ "messages": [{ "role": "wizard", "content": "hi" }] }),
            "messages[0].role",
        ),
    ] {
        let (status, e) = server.post_json("/v1/chat/completions", &body);
        assert_eq!(status, 400, "{body} -> {e}");
        assert_eq!(e["error"]["param"], param, "{body} -> {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains(param.split('[').next().unwrap()),
            "{e}"
        );
    }

    // A prompt over the context window: 400 with both numbers.
    let long = "hello ".repeat(1000);
    let (status, e) = server.post_json("/v1/chat/completions", &greedy_chat(&long, json!({})));
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["error"]["code"], "context_length_exceeded");
    let n = e["error"]["n_prompt_tokens"].as_u64().unwrap();
    assert!(n > 512, "{e}");
    assert_eq!(e["error"]["n_ctx"], 512);
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&n.to_string()) && msg.contains("512"), "{msg}");

    // Unknown fields are ignored.
    let (status, ok) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat(
            "Say hi.",
            json!({ "max_tokens": 4, "logit_bias": {}, "user": "x", "frobnicate": true }),
        ),
    );
    assert_eq!(status, 200, "{ok}");

    // Routes and methods.
    let r = client.get(server.url("/v1/nope")).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "not_found");
    let r = client
        .get(server.url("/v1/chat/completions"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.json::<Value>().unwrap()["error"]["message"].is_string());

    // Oversized body (HTTP/1.1, so the client reads the early answer).
    let http1 = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&server.ca_pem()).unwrap())
        .http1_only()
        .build()
        .unwrap();
    let big = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let r = http1.post(&url).body(big).send().unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["code"],
        "payload_too_large"
    );

    // Still serving.
    let (status, ok) = server.post_json(
        "/v1/chat/completions",
        &greedy_chat("Say hi.", json!({ "max_tokens": 4 })),
    );
    assert_eq!(status, 200, "{ok}");
    assert!(!content(&ok).is_empty());
}

#[test]
fn non_ascii_prompts_and_answers_round_trip_without_replacement_characters() {
    let server = Server::start(&[]);
    let prompt = "请用中文回答，并在结尾加一个表情符号 😀：天空是什么颜色？";
    let body = greedy_chat(prompt, json!({ "max_tokens": 48 }));
    let (status, a) = server.post_json("/v1/chat/completions", &body);
    assert_eq!(status, 200, "{a}");
    let text = content(&a);
    assert!(
        !text.contains('\u{fffd}'),
        "replacement character in {text:?}"
    );
    assert!(
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "no Chinese in {text:?}"
    );

    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    let raw = server.post_text("/v1/chat/completions", &stream_body).1;
    let pieces: Vec<String> = sse_data(&raw)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(pieces.iter().all(|p| !p.contains('\u{fffd}')), "{pieces:?}");
    assert_eq!(pieces.concat(), text);

    // The prompt itself survives tokenisation.
    let (_, tokens) = server.post_json("/tokenize", &json!({ "content": prompt }));
    assert!(tokens["tokens"].as_array().unwrap().len() > 5);
}
