//! Log formats: JSON lines for collectors, and journald falling back to stderr with a
//! warning when no journal is reachable (no journald runs in the test sandbox).

mod common;

use common::{greedy_chat, Server};
use serde_json::{json, Value};

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id_and_no_prompt() {
    let server = Server::spawn_env(&[], &[("EDGELLM_LOG_FORMAT", "json")]);
    server.wait_ready();
    let secret_prompt = "Say the word pineapple-7731.";
    let r = server
        .blocking_client()
        .post(server.url("/v1/chat/completions"))
        .json(&greedy_chat(secret_prompt, json!({ "max_tokens": 3 })))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    drop(r);

    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        assert!(line["level"].is_string(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["fields"]["message"].is_string(), "{line}");
    }
    let request = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no line for request {id}: {log}"));
    assert_eq!(request["fields"]["route"], "/v1/chat/completions");
    assert_eq!(request["fields"]["status"], 200);
    assert!(
        !log.contains("pineapple-7731"),
        "the prompt reached the log"
    );
}

#[test]
fn journald_logs_go_to_the_journal_or_fall_back_to_stderr_with_a_warning() {
    let server = Server::spawn_env(&[], &[("EDGELLM_LOG_FORMAT", "journald")]);
    server.wait_ready();
    let log = server.log();
    if std::path::Path::new("/run/systemd/journal/socket").exists() {
        // A journal runs here: nothing of the daemon's own goes to stderr.
        assert!(!log.contains("model loaded"), "{log}");
    } else {
        assert!(log.contains("journald is not reachable"), "{log}");
        assert!(log.contains("model loaded"), "{log}");
    }
}
