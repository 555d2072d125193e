//! No request can take the device down (issue 11): the sampler abort, connection holes,
//! fail-closed defaults, per-client fairness, error shapes, stream accounting, signals.
//! Each test here failed against the code before its fix.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::raw;
use common::{greedy_chat, metric, Server};
use serde_json::{json, Value};

fn alive(server: &mut Server) {
    let r = server
        .blocking_client()
        .get(server.url("/healthz"))
        .send()
        .unwrap_or_else(|e| panic!("the daemon is gone: {e}\n{}", server.log()));
    assert_eq!(r.status(), 200);
}

/// Every sampling parameter at its bounds, with and without the JSON grammar, on both APIs.
/// `format: "json"` with a penalty aborted the process (grammar fed the prompt).
#[test]
fn sampling_parameters_with_json_format_never_abort_the_daemon() {
    let mut server = Server::start(&[]);
    let client = server.blocking_client();
    let penalties = [
        json!({ "repeat_penalty": 1.3 }),
        json!({ "presence_penalty": 2.0 }),
        json!({ "frequency_penalty": -2.0 }),
        json!({ "repeat_penalty": 10.0, "presence_penalty": -2.0, "frequency_penalty": 2.0 }),
        json!({}),
    ];
    let sampling = [
        json!({ "temperature": 0 }),
        json!({ "temperature": 2.0, "top_k": 1, "top_p": 1e-9, "min_p": 1.0, "seed": -1 }),
        json!({ "temperature": 1.0, "top_k": 4_294_967_295u64, "top_p": 1.0, "min_p": 0.0, "seed": 9_223_372_036_854_775_807i64 }),
    ];
    let mut answered = 0;
    for p in &penalties {
        for s in &sampling {
            let mut options = p.clone();
            options
                .as_object_mut()
                .unwrap()
                .extend(s.as_object().unwrap().clone());
            options["num_predict"] = json!(6);
            // Ollama, the exact request that aborted.
            let body = json!({ "model": "m", "prompt": "List two colours as JSON.", "format": "json", "stream": false, "options": options });
            let r = client
                .post(server.url("/api/generate"))
                .json(&body)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200, "{body}: {}", r.text().unwrap_or_default());
            // OpenAI, JSON mode.
            let mut body = greedy_chat("List two colours as JSON.", p.clone());
            body.as_object_mut()
                .unwrap()
                .extend(s.as_object().unwrap().clone());
            body["max_tokens"] = json!(6);
            body["response_format"] = json!({ "type": "json_object" });
            let r = client
                .post(server.url("/v1/chat/completions"))
                .json(&body)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200, "{body}: {}", r.text().unwrap_or_default());
            answered += 2;
            alive(&mut server);
        }
    }
    assert_eq!(answered, 30);
    // JSON mode really constrains: the answer starts as a JSON object.
    let body = json!({ "prompt": "Give me a colour.", "format": "json", "stream": false, "options": { "temperature": 0, "num_predict": 16, "repeat_penalty": 1.5 } });
    let v: Value = client
        .post(server.url("/api/generate"))
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        v["response"]
            .as_str()
            .unwrap()
            .trim_start()
            .starts_with('{'),
        "{v}"
    );
}

/// TLS connections that speak HTTP/2 and never send a request held a connection permit
/// forever; with every permit taken, /healthz stopped answering.
#[test]
fn silent_http2_connections_are_closed_at_the_first_request_deadline() {
    let server = Server::start(&["--max-connections", "4", "--handshake-timeout", "2"]);
    let mut silent: Vec<raw::Tls> = (0..4)
        .map(|_| {
            let mut c = raw::tls(server.port(), &server.ca_pem(), b"h2").unwrap();
            c.write_all(raw::H2_PREFACE).unwrap();
            c.flush().unwrap();
            c
        })
        .collect();
    let started = Instant::now();
    let r = server
        .blocking_client()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(20))
        .send()
        .expect("served once the silent connections are closed");
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    for c in &mut silent {
        assert!(raw::closed_within(c, Duration::from_secs(5)));
    }
}

/// Over --max-connections-per-client from one address, a connection is closed at once; a
/// --trusted-proxy (HAProxy pooling many clients' requests) is held to the overall cap only.
#[test]
fn the_per_client_connection_cap_spares_trusted_proxies() {
    let healthz = |c: &mut raw::Tls| -> bool {
        if c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).is_ok() && &buf == b"HTTP/1.1 200"
    };
    for (proxy, third_served) in [(false, false), (true, true)] {
        let mut args = vec!["--max-connections-per-client", "2"];
        if proxy {
            args.extend(["--trusted-proxy", "127.0.0.1"]);
        }
        let server = Server::start(&args);
        // Each connection answers before the next opens, so all are open at once.
        let mut conns = Vec::new();
        let mut served = Vec::new();
        for _ in 0..3 {
            match raw::tls(server.port(), &server.ca_pem(), b"http/1.1") {
                Ok(mut c) => {
                    served.push(healthz(&mut c));
                    conns.push(c);
                }
                // Closed before the handshake finished.
                Err(_) => served.push(false),
            }
        }
        assert_eq!(served, [true, true, third_served], "trusted proxy: {proxy}");
    }
}

/// An HTTP/2 connection that finished a request and then sits idle is closed after
/// --idle-timeout; a request body that trickles in is cut off by --body-timeout.
#[test]
fn idle_http2_connections_and_slow_bodies_are_cut_off() {
    let server = Server::start(&[
        "--idle-timeout",
        "2",
        "--body-timeout",
        "2",
        "--handshake-timeout",
        "30",
    ]);
    // reqwest over h2 (ALPN), one request, then idle: the server must close it.
    let mut c = raw::tls(server.port(), &server.ca_pem(), b"h2").unwrap();
    c.write_all(raw::H2_PREFACE).unwrap();
    // HEADERS for GET /healthz on stream 1 (HPACK: :method GET (2), :scheme https (7),
    // :path / (4) with literal path, :authority literal).
    let mut block = vec![0x82, 0x87];
    block.push(0x04); // :path, literal with indexing off... name index 4
    block.push(8);
    block.extend_from_slice(b"/healthz");
    block.push(0x01); // :authority, name index 1
    block.push(9);
    block.extend_from_slice(b"localhost");
    let len = block.len();
    let mut frame = vec![
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        0x01,
        0x05,
        0,
        0,
        0,
        1,
    ];
    frame.extend_from_slice(&block);
    c.write_all(&frame).unwrap();
    c.flush().unwrap();
    let started = Instant::now();
    assert!(
        raw::closed_within(&mut c, Duration::from_secs(15)),
        "an idle HTTP/2 connection stayed open"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "closed too early ({waited:?}): the request should have been answered first"
    );

    // HTTP/1.1 body of 100 bytes sent one byte per 500 ms.
    let mut c = raw::tls(server.port(), &server.ca_pem(), b"http/1.1").unwrap();
    c.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").unwrap();
    c.flush().unwrap();
    c.sock
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    while started.elapsed() < Duration::from_secs(15) {
        if c.write_all(b" ").and_then(|_| c.flush()).is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the slow body was not cut off ({:?}): {answer}",
        started.elapsed()
    );
}

/// ~1000 idle sockets on the redirect port exhausted file descriptors; now the redirect
/// listener has its own small cap and the HTTPS side keeps serving.
#[test]
fn a_flood_of_idle_sockets_on_the_redirect_port_does_not_stop_https() {
    let server = Server::start(&[
        "--redirect-listen",
        "127.0.0.1:0",
        "--handshake-timeout",
        "3",
    ]);
    let port: u16 = server
        .log()
        .split("redirecting http://127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("redirect port in the log");
    // One idle connection on the redirect port is closed at the first-request deadline
    // (it used to stay open for ever).
    let mut lone = TcpStream::connect(("127.0.0.1", port)).unwrap();
    lone.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let idle: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(idle.len() >= 100, "only {} connected", idle.len());
    let r = server
        .blocking_client()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        raw::closed_within(&mut lone, Duration::from_secs(8)),
        "an idle plain-HTTP connection was never closed"
    );
    // After the first-request deadline the idle ones are gone and redirects work again.
    std::thread::sleep(Duration::from_secs(1));
    let plain = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://localhost:{port}/v1/models"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 308);
    drop(idle);
}

/// Listening beyond loopback with no key configured: a key is generated on first start,
/// required, printed by `edgellm key show`, and the same after a restart.
#[test]
fn beyond_loopback_a_key_is_generated_and_required() {
    let _serial = common::serial();
    let server = Server::start(&["--listen", "0.0.0.0:0"]);
    let client = server.blocking_client();
    let r = client.get(server.url("/v1/models")).send().unwrap();
    assert_eq!(r.status(), 401, "open without a key");
    assert_eq!(
        client.get(server.url("/healthz")).send().unwrap().status(),
        200
    );
    let out = std::process::Command::new(common::binary())
        .args(["key", "show", "--state-dir"])
        .arg(server.state.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.len() >= 32, "{key}");
    let r = client
        .get(server.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.state.path().join("api-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let log = server.log();
    assert!(log.contains("generated an API key"), "{log}");
    assert!(!log.contains(&key), "the key itself must not be logged");
    let state = server.stop_keep_state();
    let again = Server::spawn_in(state, &["--listen", "0.0.0.0:0"], &[]);
    again.wait_ready();
    let r = again
        .blocking_client()
        .get(again.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "the same key after a restart");
    assert!(!again.log().contains("generated an API key"));

    // `key show` without a key is a one-line error.
    let empty = common::TempDir::new("nokey");
    let out = std::process::Command::new(common::binary())
        .args(["key", "show", "--state-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

/// A web page from another origin cannot use the API; allowed origins get CORS headers.
#[test]
fn foreign_browser_origins_are_refused_unless_allowed() {
    let server = Server::start(&["--cors-origin", "https://ha.home.arpa:8123"]);
    let client = server.blocking_client();
    let body = greedy_chat("hi", json!({ "max_tokens": 2 }));
    let evil = client
        .post(server.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(evil.status(), 403);
    let e: Value = evil.json().unwrap();
    assert_eq!(e["error"]["code"], "cross_origin_refused");
    let evil = client
        .post(server.url("/api/generate"))
        .header("origin", "https://evil.example")
        .json(&json!({ "prompt": "hi" }))
        .send()
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert!(
        evil.json::<Value>().unwrap()["error"].is_string(),
        "Ollama shape"
    );
    let own = client
        .post(server.url("/v1/chat/completions"))
        .header("origin", format!("https://localhost:{}", server.port()))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(own.status(), 200, "the chat page's own origin");
    let allowed = client
        .post(server.url("/v1/chat/completions"))
        .header("origin", "https://ha.home.arpa:8123")
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://ha.home.arpa:8123"
    );
    let preflight = client
        .request(reqwest::Method::OPTIONS, server.url("/v1/chat/completions"))
        .header("origin", "https://ha.home.arpa:8123")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://ha.home.arpa:8123"
    );
}

/// /api/* errors from every layer are Ollama's `{"error": "..."}`.
#[test]
fn ollama_routes_answer_errors_in_ollama_shape() {
    let server = Server::start(&[
        "--api-key",
        "ollama-test-key-1",
        "--max-body-bytes",
        "2048",
        "--rate-limit-per-second",
        "0.1",
        "--rate-limit-burst",
        "6",
    ]);
    let client = server.blocking_client();
    let check = |r: reqwest::blocking::Response, status: u16| {
        assert_eq!(r.status(), status);
        let v: Value = r.json().unwrap();
        assert!(v["error"].is_string(), "{status}: {v}");
    };
    check(client.get(server.url("/api/tags")).send().unwrap(), 401);
    // The OpenAI side keeps OpenAI's shape.
    let r = client.get(server.url("/v1/models")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.json::<Value>().unwrap()["error"]["message"].is_string());
    let authed = |rb: reqwest::blocking::RequestBuilder| rb.bearer_auth("ollama-test-key-1");
    check(
        authed(client.get(server.url("/api/nope"))).send().unwrap(),
        404,
    );
    check(
        authed(client.get(server.url("/api/generate")))
            .send()
            .unwrap(),
        405,
    );
    check(
        authed(client.post(server.url("/api/generate")))
            .body(format!("{{\"prompt\": \"{}\"}}", "a".repeat(4096)))
            .send()
            .unwrap(),
        413,
    );
    let mut limited = false;
    for _ in 0..8 {
        let r = authed(client.get(server.url("/api/tags"))).send().unwrap();
        if r.status() == 429 {
            check(r, 429);
            limited = true;
            break;
        }
    }
    assert!(limited, "no 429 from the rate limiter");
}

/// The request log and metrics of a stream record its real duration and outcome.
#[test]
fn stream_logs_record_the_real_duration_and_abandoned_streams() {
    let server = Server::start(&["--log-format", "json"]);
    let client = server.blocking_client();
    let started = Instant::now();
    let body = greedy_chat(
        "Count from 1 to 40.",
        json!({ "max_tokens": 48, "stream": true }),
    );
    let text = client
        .post(server.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let took = started.elapsed();
    assert!(text.contains("[DONE]"));
    let line = wait_for_request_line(&server, "/v1/chat/completions", 1);
    let logged = line["fields"]["duration_ms"]
        .as_u64()
        .or_else(|| line["duration_ms"].as_u64())
        .unwrap();
    assert!(
        logged as f64 >= took.as_millis() as f64 * 0.7,
        "logged {logged} ms for a stream that took {took:?}: {line}"
    );
    let outcome = line["fields"]["outcome"]
        .as_str()
        .or_else(|| line["outcome"].as_str());
    assert_eq!(outcome, Some("completed"), "{line}");

    // A client that leaves mid-stream: logged as aborted, counted as 499.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = server
            .stream_started(&greedy_chat(
                "Write a long story.",
                json!({ "max_tokens": 400, "stream": true }),
            ))
            .await;
        drop(r);
    });
    let line = wait_for_request_line(&server, "/v1/chat/completions", 2);
    let outcome = line["fields"]["outcome"]
        .as_str()
        .or_else(|| line["outcome"].as_str());
    assert_eq!(outcome, Some("aborted"), "{line}");
    let metrics = server.metrics();
    assert!(
        metrics.contains("route=\"/v1/chat/completions\",status=\"499\"")
            || metrics.contains("status=\"499\",route=\"/v1/chat/completions\""),
        "{metrics}"
    );
}

fn wait_for_request_line(server: &Server, route: &str, nth: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines: Vec<Value> = server
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                let f = if v.get("fields").is_some() {
                    &v["fields"]
                } else {
                    v
                };
                f["message"] == "request" && f["route"] == route
            })
            .collect();
        if lines.len() >= nth {
            return lines[nth - 1].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no request line {nth}:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One client may not take every slot and the queue; a queued request whose client left
/// stops counting against --queue at once.
#[test]
fn one_client_cannot_hold_everything_and_abandoned_queued_requests_free_the_queue() {
    let server = Server::start(&[
        "--parallel",
        "1",
        "--queue",
        "1",
        "--max-client-requests",
        "1",
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let long = greedy_chat(
            "Write a long story about a lighthouse.",
            json!({ "max_tokens": 300, "stream": true }),
        );
        let a = server.client();
        let mut first = a
            .post(server.url("/v1/chat/completions"))
            .json(&long)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200);
        let _ = first.chunk().await.unwrap();
        // Same address again: refused while the first runs.
        let second = a
            .post(server.url("/v1/chat/completions"))
            .json(&long)
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 429);
        let e: Value = second.json().await.unwrap();
        assert_eq!(e["error"]["code"], "too_many_concurrent_requests");

        // Another address queues behind it, then leaves.
        let b = server.client_from("127.0.0.2");
        let queued = b
            .post(server.url("/v1/chat/completions"))
            .json(&long)
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status(), 200, "accepted into the queue");
        drop(queued);
        tokio::time::sleep(Duration::from_millis(500)).await;
        // A third address finds the queue free again (it was full with the abandoned one).
        let c = server.client_from("127.0.0.3");
        let third = c
            .post(server.url("/v1/chat/completions"))
            .json(&greedy_chat(
                "hi",
                json!({ "max_tokens": 2, "stream": true }),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            third.status(),
            200,
            "{}",
            third.text().await.unwrap_or_default()
        );
        drop(third);
        drop(first);
    });
    let m = server.metrics();
    assert!(metric(&m, "edgellm_requests_cancelled_total") >= 1.0);
}

/// SIGHUP does not kill the daemon in lan mode; a second SIGTERM during a drain exits at
/// once; a stream does not outlive --drain-timeout.
#[test]
fn signals_hup_is_harmless_and_a_second_term_or_the_drain_timeout_ends_it() {
    let kill = |pid: u32, sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
    };
    let long = greedy_chat(
        "Write a long story about a lighthouse.",
        json!({ "max_tokens": 1000, "stream": true }),
    );
    let mut server = Server::start(&["--drain-timeout", "60"]);
    kill(server.pid(), "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    alive(&mut server);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exited_after = rt.block_on(async {
        let _stream = server.stream_started(&long).await;
        kill(server.pid(), "-TERM");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        kill(server.pid(), "-TERM");
        assert!(
            server.ended_within(Duration::from_secs(10)),
            "{}",
            server.log()
        );
        t.elapsed()
    });
    assert!(exited_after < Duration::from_secs(5), "{exited_after:?}");

    let mut server = Server::start(&["--drain-timeout", "2"]);
    let exited_after = rt.block_on(async {
        let mut r = server.stream_started(&long).await;
        let t = Instant::now();
        kill(server.pid(), "-TERM");
        // Keep reading, as a client would.
        tokio::spawn(async move { while let Ok(Some(_)) = r.chunk().await {} });
        assert!(
            server.ended_within(Duration::from_secs(20)),
            "{}",
            server.log()
        );
        t.elapsed()
    });
    assert!(
        exited_after < Duration::from_secs(5),
        "a 2 s drain took {exited_after:?}"
    );
}

/// Rendering and tokenising a prompt of up to --max-body-bytes takes a third of a second
/// here; on the async workers, a few such requests at once stalled every probe and stream.
/// They run on the blocking pool now: /healthz keeps answering at once.
#[test]
fn large_prompts_are_prepared_off_the_async_workers() {
    let server = Server::start(&["--max-client-requests", "0"]);
    let content = "lorem ipsum dolor sit amet ".repeat(36_000); // ~970 KB, ~180k tokens
    let body = json!({ "messages": [{ "role": "user", "content": content }] });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let worst = std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let r = server
                    .blocking_client()
                    .post(server.url("/v1/chat/completions"))
                    .json(&body)
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 400);
                let e: Value = r.json().unwrap();
                assert_eq!(e["error"]["code"], "context_length_exceeded");
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        let probe = server.blocking_client();
        let mut worst = Duration::ZERO;
        let deadline = Instant::now() + Duration::from_secs(60);
        while done.load(std::sync::atomic::Ordering::SeqCst) < 8 && Instant::now() < deadline {
            let t = Instant::now();
            assert_eq!(
                probe.get(server.url("/healthz")).send().unwrap().status(),
                200
            );
            worst = worst.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(20));
        }
        worst
    });
    eprintln!("worst /healthz while preparing large prompts: {worst:?}");
    assert!(
        worst < Duration::from_millis(300),
        "/healthz took {worst:?} while large prompts were prepared"
    );
}
