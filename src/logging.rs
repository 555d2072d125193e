//! Logs: journald (structured fields) under systemd, JSON for other collectors, or
//! human-readable text on stderr. The level comes from `--log-level`.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// llama.cpp is chatty at info level; keep its warnings and errors.
const QUIET_DEPS: &str = "llama-cpp-2=warn,h2=warn,rustls=warn,hyper=warn";

pub fn init(level: &str, format: LogFormat, under_journald: bool) {
    let filter = EnvFilter::try_new(format!("{level},{QUIET_DEPS}"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let format = match format {
        LogFormat::Auto if under_journald => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let text = || {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
    };
    let _ = match format {
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(journald) => registry
                .with(journald.with_syslog_identifier("edgellm".into()))
                .try_init(),
            Err(e) => {
                let r = registry.with(text()).try_init();
                tracing::warn!(error = %e, "journald is not reachable; logging to stderr");
                r
            }
        },
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text | LogFormat::Auto => registry.with(text()).try_init(),
    };
}
