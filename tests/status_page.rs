//! `/status`: the JSON has every field; the page, in a real browser (Debian's Chromium via
//! playwright-core), asks for the key, shows the fields and draws the last hour's charts
//! with nothing loaded from the internet and no console error. Leaves a screenshot in the
//! target directory. `/readyz` names the certificate source.

mod common;

use std::time::{Duration, Instant};

use common::{greedy_chat, Server};
use serde_json::{json, Value};

const KEY: &str = "status-page-test-key-0123456789";

#[test]
fn the_status_page_shows_the_device_and_its_last_hour() {
    let server = Server::start_env(
        &["--status-interval", "1", "--metrics-require-key"],
        &[("EDGELLM_API_KEYS", KEY)],
    );
    let client = server.blocking_client();
    let get_json = |key: Option<&str>| {
        let mut r = client
            .get(server.url("/status"))
            .header("accept", "application/json");
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send().unwrap()
    };
    // The JSON needs the key when /metrics does; the page does not.
    assert_eq!(get_json(None).status(), 401);
    let page = client
        .get(server.url("/status"))
        .header("accept", "text/html")
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );

    // Some generation, so tokens/s moves.
    let r = client
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&greedy_chat(
            "Count from one to twenty.",
            json!({ "max_tokens": 48 }),
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status: Value = loop {
        let s: Value = get_json(Some(KEY)).json().unwrap();
        let samples = s["history"]["samples"].as_array().unwrap().clone();
        if samples
            .iter()
            .any(|p| p["tokens_per_second"].as_f64().unwrap() > 0.0)
            && samples.len() >= 3
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no history with generation: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        status["model"]["id"].as_str().unwrap().contains("qwen2.5"),
        "{status:#}"
    );
    assert_eq!(status["ready"], true);
    assert_eq!(status["cpu"]["arch"], std::env::consts::ARCH);
    assert!(status["cpu"]["backend"]
        .as_str()
        .unwrap()
        .contains("llama.cpp CPU"));
    assert!(status["cpu"]["features"].is_array());
    assert!(status["uptime_seconds"].as_u64().is_some());
    let cert = &status["certificate"];
    assert_eq!(cert["source"], "lan");
    assert!(
        cert["issuer"].as_str().unwrap().contains("edgellm LAN CA"),
        "{cert}"
    );
    let days = cert["days_left"].as_f64().unwrap();
    assert!((300.0..=366.0).contains(&days), "{cert}");
    assert!(cert["not_after"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(cert["acme"].is_null());
    assert_eq!(status["slots"]["total"], 1);
    assert!(status["generated_tokens_total"].as_u64().unwrap() >= 1);
    assert!(status["requests_total"].as_u64().unwrap() >= 1);
    assert!(status["speculation"]["drafted_tokens_total"].is_u64());
    assert!(status["temperature_c"].is_number() || status["temperature_c"].is_null());
    assert_eq!(status["thermal_throttled"], false);
    assert!(
        status["memory"]["rss_mib"].as_f64().unwrap() > 100.0,
        "{status:#}"
    );
    assert!(
        status["memory"]["total_mib"].as_f64().unwrap()
            > status["memory"]["available_mib"].as_f64().unwrap()
    );
    assert_eq!(status["history"]["interval_seconds"], 1);
    for key in ["unix", "temperature_c", "tokens_per_second", "rss_mib"] {
        assert!(status["history"]["samples"][0].get(key).is_some(), "{key}");
    }
    let ready: Value = client
        .get(server.url("/readyz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["certificate"], "lan");
    assert!(ready["acme_error"].is_null());

    let screenshot = common::artifact("status-page.png");
    let seen = common::run_browser_script(
        "status-page.mjs",
        &server,
        &[KEY.as_ref(), screenshot.as_os_str()],
    );
    assert_eq!(seen["title"], "edgellm status");
    assert_eq!(seen["asked_for_key"], true);
    assert_eq!(seen["key_form_hidden"], true);
    assert_eq!(seen["external_requests"], json!([]), "{seen}");
    assert_eq!(seen["console_errors"], json!([]), "{seen}");
    assert_eq!(seen["state"], "ready");
    assert!(
        seen["model"].as_str().unwrap().contains("qwen2.5"),
        "{seen}"
    );
    assert!(
        seen["cpu"].as_str().unwrap().contains("llama.cpp CPU"),
        "{seen}"
    );
    assert!(
        seen["cert"].as_str().unwrap().starts_with("lan, "),
        "{seen}"
    );
    assert!(
        seen["cert-detail"]
            .as_str()
            .unwrap()
            .contains("edgellm LAN CA"),
        "{seen}"
    );
    assert!(
        seen["slots"].as_str().unwrap().contains("of 1 busy"),
        "{seen}"
    );
    assert!(
        seen["rate"].as_str().unwrap().ends_with("tokens/s"),
        "{seen}"
    );
    assert!(seen["mem"].as_str().unwrap().ends_with("MiB"), "{seen}");
    let paths = seen["chart_paths"].as_array().unwrap();
    assert_eq!(paths.len(), 3, "{seen}");
    // The tokens/s and memory charts have a line through several samples; the temperature
    // chart too where the machine has a sensor (this VM may not).
    for p in &paths[1..] {
        assert!(p.as_str().unwrap().matches('L').count() >= 2, "{seen}");
    }
    if status["temperature_c"].is_null() {
        assert_eq!(paths[0], "no data yet", "{seen}");
    } else {
        assert!(paths[0].as_str().unwrap().starts_with('M'), "{seen}");
    }
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
}
