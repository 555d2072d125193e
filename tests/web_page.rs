//! The built-in chat page in a real browser (Debian's Chromium driven by playwright-core):
//! streaming, Stop (the server really cancels), history across reloads, no HTML injection,
//! nothing loaded from the internet. Leaves a screenshot in the target directory.

mod common;

use common::{metric, Server};

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

    let screenshot = common::artifact("chat-page.png");
    let seen = common::run_browser_script("chat-page.mjs", &server, &[screenshot.as_os_str()]);

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
