//! Logs: human-readable lines on stderr; `RUST_LOG`-style filters via `--log-level`.

use tracing_subscriber::EnvFilter;

/// llama.cpp is chatty at info level; keep its warnings and errors.
const QUIET_DEPS: &str = "llama-cpp-2=warn,h2=warn,rustls=warn,hyper=warn";

pub fn init(level: &str) {
    let filter = EnvFilter::try_new(format!("{level},{QUIET_DEPS}"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
