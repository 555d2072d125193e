//! The built-in chat page in a real browser (Debian's Chromium driven by playwright-core):
//! streaming, Stop (the server really cancels), history across reloads, no HTML injection,
//! nothing loaded from the internet. Leaves a screenshot in the target directory.

mod common;

use std::process::Command;

use common::{metric, Server};
use serde_json::Value;

#[test]
fn the_chat_page_streams_stops_remembers_and_escapes() {
    let server = Server::start(&["--parallel", "1"]);
    // Non-browsers get Ollama's plain answer.
    let plain = server
        .blocking_client()
        .get(server.url("/"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(plain, "Ollama is running");
    let page = server
        .blocking_client()
        .get(server.url("/"))
        .header("accept", "text/html")
        .send()
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // The page's script runs by its hash (the browser test below proves it runs), never
    // by 'unsafe-inline'.
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
    assert!(page.text().unwrap().contains("<title>edgellm</title>"));

    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| "target".into());
    let artifacts = target.join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("chat-page.png");
    let out = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/web/chat-page.mjs"
        ))
        .arg(format!("https://localhost:{}", server.port()))
        .arg(&screenshot)
        .output()
        .expect("node runs (tests/setup.sh installs playwright-core and chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    assert_eq!(seen["title"], "edgellm");
    assert!(
        !seen["first_answer"].as_str().unwrap().trim().is_empty(),
        "{seen}"
    );
    assert!(
        seen["saw_partial"].as_bool().unwrap(),
        "the answer did not stream: {seen}"
    );
    assert!(
        seen["first_meta"].as_str().unwrap().contains("tok/s"),
        "{seen}"
    );
    assert!(
        seen["stopped_meta"]
            .as_str()
            .unwrap()
            .starts_with("stopped"),
        "{seen}"
    );
    assert_eq!(seen["messages_after_reload"], 4, "{seen}");
    assert_eq!(seen["xss_executed"], 0, "{seen}");
    assert_eq!(seen["xss_img_elements"], 0, "{seen}");
    assert_eq!(seen["xss_text_shown"], true, "{seen}");
    assert_eq!(seen["markdown_bold"], 1, "{seen}");
    assert_eq!(seen["external_requests"], serde_json::json!([]), "{seen}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 1000);

    // Stop really stopped the generation on the server.
    let m = server
        .blocking_client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metric(&m, "edgellm_requests_cancelled_total") >= 1.0, "{m}");
}
