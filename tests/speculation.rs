//! Prompt-lookup speculative decoding changes speed, never output: every answer with
//! `--spec lookup` is byte-identical to the answer with `--spec off` (greedy, and seeded
//! sampling too), through stop strings, max_tokens and multi-byte characters that fall inside
//! a draft, beside a stream that does not speculate, and after a client leaves mid-draft.
//! Real model, real binary, real TLS; the two servers run one after the other.

mod common;

use std::time::{Duration, Instant};

use common::{metric, sse_data, streamed_content, Server};
use serde_json::{json, Value};

const FUNCTION: &str = r#"def summarize_orders(orders, tax_rate, discounts):
    """Return totals per customer, with tax and discounts applied."""
    totals = {}
    for order in orders:
        customer = order["customer"]
        subtotal = 0.0
        for item in order["items"]:
            price = item["price"] * item["quantity"]
            if item.get("sku") in discounts:
                price = price * (1.0 - discounts[item["sku"]])
            subtotal += price
        tax = subtotal * tax_rate
        total = subtotal + tax
        if customer not in totals:
            totals[customer] = {"orders": 0, "subtotal": 0.0, "tax": 0.0, "total": 0.0}
        totals[customer]["orders"] += 1
        totals[customer]["subtotal"] += subtotal
        totals[customer]["tax"] += tax
        totals[customer]["total"] += total
    for customer, summary in totals.items():
        summary["subtotal"] = round(summary["subtotal"], 2)
        summary["tax"] = round(summary["tax"], 2)
        summary["total"] = round(summary["total"], 2)
    return totals
"#;

const SOURCE: &str = "The lighthouse keeper climbed the spiral stairs every evening at dusk. \
He trimmed the wick, polished the great lens until it shone, and wrote the weather in a \
leather logbook: wind from the north-west, sea state moderate, visibility good. Ships passed \
far out on the horizon, their lights small and steady, and none of them ever knew his name.";

fn edit_prompt() -> String {
    format!(
        "Return this Python function with the variable `subtotal` renamed to `net_amount`. \
         Change nothing else and output only the code.\n\n```python\n{FUNCTION}```"
    )
}

fn chat(content: &str, extra: Value) -> Value {
    let mut body = json!({
        "messages": [{ "role": "user", "content": content }],
        "temperature": 0,
        "max_tokens": 400,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The requests compared with speculation on and off: (name, path, body).
fn cases() -> Vec<(&'static str, &'static str, Value)> {
    let edit = edit_prompt();
    let quote = format!("Repeat the following text exactly, word for word:\n\n{SOURCE}");
    vec![
        ("code edit", "/v1/chat/completions", chat(&edit, json!({}))),
        ("quote", "/v1/chat/completions", chat(&quote, json!({}))),
        (
            "json echo",
            "/v1/chat/completions",
            chat(
                "Turn this into a JSON array of objects with the keys name, city, age and \
                 email:\nAlice Moreau, Lyon, 34, alice@example.org\nBen Okafor, Lagos, 41, \
                 ben@example.org\nChen Wei, Chengdu, 29, chen@example.org\nDara Kelly, Cork, \
                 52, dara@example.org",
                json!({ "max_tokens": 250 }),
            ),
        ),
        // The copied function contains this line: the stop string is met while copying.
        (
            "stop string",
            "/v1/chat/completions",
            chat(&edit, json!({ "stop": ["total = subtotal + tax"] })),
        ),
        (
            "max_tokens",
            "/v1/chat/completions",
            chat(&edit, json!({ "max_tokens": 61 })),
        ),
        (
            "multi-byte, streamed",
            "/v1/chat/completions",
            chat(
                "Repeat exactly, twice, on two lines: «Ünïcödé» 日本語のテキストです。\
                 絵文字: 🦀🚀🙂 ĝis revido — ½ ≠ ∞",
                json!({ "max_tokens": 160, "stream": true }),
            ),
        ),
        (
            "seeded sampling",
            "/v1/chat/completions",
            chat(
                &quote,
                json!({ "temperature": 0.7, "top_p": 0.95, "seed": 42 }),
            ),
        ),
        // Constrained and penalised requests speculate too: the chain samples each position.
        (
            "json schema",
            "/v1/chat/completions",
            chat(
                &quote,
                json!({ "max_tokens": 200, "response_format": { "type": "json_schema",
                    "json_schema": { "name": "quote", "schema": { "type": "object",
                        "properties": { "text": { "type": "string" } },
                        "required": ["text"] } } } }),
            ),
        ),
        (
            "penalties",
            "/v1/chat/completions",
            chat(
                &quote,
                json!({ "frequency_penalty": 0.3, "presence_penalty": 0.2 }),
            ),
        ),
        (
            "ollama chat, streamed",
            "/api/chat",
            json!({
                "model": "qwen2.5:0.5b",
                "messages": [{ "role": "user", "content": quote }],
                "options": { "temperature": 0, "num_predict": 300 },
            }),
        ),
        (
            "plain chat",
            "/v1/chat/completions",
            chat(
                "Explain how the gears of a bicycle work.",
                json!({ "max_tokens": 120 }),
            ),
        ),
    ]
}

/// The case called `name`: (path, body).
fn case(name: &str) -> (&'static str, Value) {
    let (_, path, body) = cases().into_iter().find(|c| c.0 == name).unwrap();
    (path, body)
}

/// What a request answered: text, finish reason, completion tokens.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    text: String,
    finish: String,
    tokens: u64,
}

async fn ask(server: &Server, client: &reqwest::Client, path: &str, body: &Value) -> Answer {
    let r = client
        .post(server.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}: {}", server.log());
    let raw = r.text().await.unwrap();
    if path == "/api/chat" {
        // NDJSON: content pieces, then a final line with done_reason and eval_count.
        let lines: Vec<Value> = raw
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let last = lines.last().unwrap();
        return Answer {
            text: lines
                .iter()
                .filter_map(|l| l["message"]["content"].as_str())
                .collect(),
            finish: last["done_reason"].as_str().unwrap().into(),
            tokens: last["eval_count"].as_u64().unwrap(),
        };
    }
    if body["stream"] == true {
        let chunks: Vec<Value> = sse_data(&raw)
            .iter()
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let finish = chunks
            .iter()
            .find_map(|c| c["choices"][0]["finish_reason"].as_str())
            .unwrap();
        return Answer {
            text: streamed_content(&raw),
            finish: finish.into(),
            tokens: 0,
        };
    }
    let v: Value = serde_json::from_str(&raw).unwrap();
    Answer {
        text: v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .into(),
        finish: v["choices"][0]["finish_reason"].as_str().unwrap().into(),
        tokens: v["usage"]["completion_tokens"].as_u64().unwrap(),
    }
}

fn spec_counters(server: &Server) -> (f64, f64) {
    let m = server.metrics();
    (
        metric(&m, "edgellm_spec_drafted_tokens_total"),
        metric(&m, "edgellm_spec_accepted_tokens_total"),
    )
}

/// Poll `/metrics` until no slot is busy (bounded).
fn wait_idle(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = server.metrics();
        if metric(&m, "edgellm_slots_busy") == 0.0 {
            return m;
        }
        assert!(Instant::now() < deadline, "slots still busy:\n{m}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn run_all(server: &Server) -> Vec<Answer> {
    let client = server.client();
    let mut answers = Vec::new();
    for (name, path, body) in cases() {
        let a = ask(server, &client, path, &body).await;
        eprintln!("{name}: {} tokens, {}", a.tokens, a.finish);
        answers.push(a);
    }
    answers
}

#[test]
fn speculation_changes_speed_never_output() {
    let _serial = common::serial();
    let flags = ["--parallel", "2", "--ctx-size", "4096"];
    let rt = tokio::runtime::Runtime::new().unwrap();

    let mut off = Server::start(&[&flags[..], &["--spec", "off"]].concat());
    let reference = rt.block_on(run_all(&off));
    assert_eq!(spec_counters(&off), (0.0, 0.0), "--spec off drafted tokens");
    // The code edit's prompt size (one token is enough to learn it).
    let edit_usage = {
        let mut body = cases()[0].2.clone();
        body["max_tokens"] = json!(1);
        off.post_json("/v1/chat/completions", &body).1["usage"].clone()
    };
    off.terminate();
    drop(off);

    // The cases were chosen to hit what they name, with speculation off too.
    let names: Vec<&str> = cases().iter().map(|c| c.0).collect();
    let by_name = |n: &str| &reference[names.iter().position(|&x| x == n).unwrap()];
    // (This 0.5B coder model copies the function without the rename.)
    let copied = |n: &str| by_name(n).text.contains("subtotal += price");
    assert!(copied("code edit"), "{:?}", by_name("code edit"));
    assert_eq!(by_name("stop string").finish, "stop");
    assert!(!by_name("stop string")
        .text
        .contains("total = subtotal + tax"));
    assert!(copied("stop string"), "{:?}", by_name("stop string"));
    assert_eq!(by_name("max_tokens").finish, "length");
    assert_eq!(by_name("max_tokens").tokens, 61);
    assert!(by_name("multi-byte, streamed").text.contains("🦀"));

    let on = Server::start(&[&flags[..], &["--spec", "lookup"]].concat());
    // A client that leaves in the middle of a copied stretch (drafting): the slot keeps just
    // the prompt, and the same request then reuses it and answers as before.
    let (d0, _) = spec_counters(&on);
    rt.block_on(async {
        let mut body = cases()[0].2.clone();
        body["stream"] = json!(true);
        let mut r = on.stream_started(&body).await;
        let mut seen = String::new();
        while streamed_content(&seen).len() < 400 {
            let chunk = r.chunk().await.unwrap().expect("stream ended early");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        drop(r);
    });
    let m = wait_idle(&on);
    let (d1, _) = spec_counters(&on);
    assert!(d1 > d0, "no draft before the client left");
    let prompt_tokens = edit_usage["prompt_tokens"].as_f64().unwrap();
    assert_eq!(
        metric(&m, "edgellm_kv_cache_tokens"),
        prompt_tokens,
        "KV cache after a cancellation mid-draft should hold exactly the prompt"
    );
    let again: Value = on
        .blocking_client()
        .post(on.url("/v1/chat/completions"))
        .json(&cases()[0].2)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        again["choices"][0]["message"]["content"].as_str().unwrap(),
        reference[0].text
    );
    assert_eq!(
        again["usage"]["prompt_tokens_details"]["cached_tokens"].as_f64(),
        Some(prompt_tokens - 1.0)
    );
    let before = spec_counters(&on);
    let client = on.client();
    let mut gains = Vec::new();
    for ((name, path, body), want) in cases().into_iter().zip(&reference) {
        let (d0, a0) = spec_counters(&on);
        let got = rt.block_on(ask(&on, &client, path, &body));
        let (d1, a1) = spec_counters(&on);
        eprintln!(
            "{name}: drafted {} accepted {} of {} tokens",
            d1 - d0,
            a1 - a0,
            got.tokens
        );
        assert_eq!(&got, want, "{name}: speculation changed the answer");
        gains.push((name, d1 - d0, a1 - a0, got.tokens as f64));
    }
    // The counters move where the answer copies the prompt...
    let (_, drafted, accepted, tokens) = gains[0];
    assert!(
        accepted >= 0.4 * tokens && drafted >= accepted,
        "code edit: drafted {drafted}, accepted {accepted} of {tokens}"
    );
    let (_, _, accepted, tokens) = gains[1];
    assert!(
        accepted >= 0.4 * tokens,
        "quote: accepted {accepted} of {tokens}"
    );
    // ...and stay near zero where it does not.
    let (_, drafted, accepted, tokens) = *gains.iter().find(|g| g.0 == "plain chat").unwrap();
    assert!(
        drafted <= 0.3 * tokens && accepted <= 0.2 * tokens,
        "plain chat: drafted {drafted}, accepted {accepted} of {tokens}"
    );
    assert!(spec_counters(&on).1 > before.1);

    drop(on);

    // Two streams at once, one copying (it drafts while alone), one not: both exactly as each
    // alone without speculation. This needs `--kv-unified off`: in the shared cache a
    // sequence's attention rounds differently with where its cells fall among another
    // stream's cells (llama.cpp's kernels), so concurrent streams can differ from solo runs
    // with or without speculation; with a stream of cells per slot they do not. (Each pair
    // runs on a fresh server: a prompt prefix reused from another request's cache was
    // computed in a batch of another shape, which also rounds differently.)
    let pairs: Vec<(Answer, Answer)> = ["off", "lookup"]
        .iter()
        .map(|spec| {
            let split =
                Server::start(&[&flags[..], &["--spec", spec, "--kv-unified", "off"]].concat());
            let pair = rt.block_on(run_pair(&split));
            let (drafted, _) = spec_counters(&split);
            assert_eq!(
                drafted > 0.0,
                *spec == "lookup",
                "--spec {spec}: drafted {drafted}"
            );
            pair
        })
        .collect();
    assert_eq!(pairs[1].0, pairs[0].0, "code edit beside another stream");
    assert_eq!(
        pairs[1].1, pairs[0].1,
        "plain chat beside a speculating stream"
    );
    assert_eq!(pairs[0].0, reference[0], "code edit, fresh in both");
}

/// The code edit, and the plain chat starting 2 s later (the code edit drafts by then).
async fn run_pair(server: &Server) -> (Answer, Answer) {
    let client = server.client();
    let (edit, plain) = (case("code edit"), case("plain chat"));
    futures::future::join(ask(server, &client, edit.0, &edit.1), async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        ask(server, &client, plain.0, &plain.1).await
    })
    .await
}
