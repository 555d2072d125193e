//! The peers' published specifications as tests: `tests/conformance/specs.py` sends a broad
//! set of requests (chat, streams, usage, stop, length, tools auto/required/named/none,
//! streamed and legacy calls, JSON modes, completions, embeddings, models, the Responses
//! API, errors, and every Ollama route) and validates every body, chunk, event and line
//! against OpenAI's OpenAPI file and Ollama's, read from `../shared/specs`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;

/// `$EDGELLM_SPECS`, `../shared/specs` beside the repository, or `/work/shared/specs`.
fn specs_dir() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("EDGELLM_SPECS").map(PathBuf::from),
        Some(repo.join("../shared/specs")),
        Some(PathBuf::from("/work/shared/specs")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("openai-openapi.yaml").is_file())
        .expect("the peers' specs (openai-openapi.yaml, ollama-openapi.yaml) in ../shared/specs or $EDGELLM_SPECS")
}

#[test]
fn every_answer_follows_the_peers_published_specs() {
    let specs = specs_dir();
    let server = Server::start(&["--model-id", "qwen-test"]);
    let out = Command::new(common::venv_bin("python"))
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/specs.py"))
        .arg(format!("https://localhost:{}", server.port()))
        .arg(server.state.path().join("tls/ca.pem"))
        .arg(&specs)
        .output()
        .expect("the test venv exists (tests/setup.sh creates it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "specs.py failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} bodies break the specs:\n{}",
        failures.len(),
        report["checked"],
        serde_json::to_string_pretty(failures).unwrap()
    );
    // Enough bodies were checked to mean something (streams add one per chunk).
    assert!(report["checked"].as_u64().unwrap() >= 60, "{report}");
}
