//! The daemon's error type: one line each, printed by `main` before a non-zero exit.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    ConfigFile {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("--{flag}: {message}")]
    Config { flag: &'static str, message: String },
    #[error(transparent)]
    Engine(#[from] edgellm_engine::EngineError),
    #[error(transparent)]
    Tls(#[from] edgellm_tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the model failed to load: {0}")]
    ModelLoad(String),
    #[error("pull failed: {0}")]
    Pull(String),
    #[error("generation failed: {0}")]
    Generate(String),
    #[error("benchmark failed: {0}")]
    Bench(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Error {
    pub fn config(flag: &'static str, message: impl Into<String>) -> Self {
        Error::Config {
            flag,
            message: message.into(),
        }
    }
}
