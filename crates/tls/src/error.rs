//! [`TlsError`]: why certificates could not be provisioned.

use std::path::PathBuf;

/// Why certificates could not be provisioned.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot use {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} holds no usable {what}")]
    BadPem { path: PathBuf, what: &'static str },
    #[error("{0}")]
    Import(String),
    #[error("rustls rejected the certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}
