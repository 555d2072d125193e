//! edgellm's certificates.
//!
//! - [`store`]: [`CertStore`], the hot-swappable certificate rustls serves from, and the
//!   rustls [`server_config`] (TLS 1.3 + 1.2, ALPN h2 and http/1.1, ring provider).
//! - [`lan`]: a persistent local CA and a leaf for this machine's names and addresses.
//! - [`names`]: which names and addresses this machine answers to.
//! - [`acme`]: certificates from an ACME CA by TLS-ALPN-01, renewed and swapped in place.
//! - [`files`]: operator-provided certificate files, reloaded on change or SIGHUP.
//!
//! One crypto provider for the whole binary: ring (smaller than aws-lc-rs on aarch64 and
//! needs no cmake/Go at build time).
#![forbid(unsafe_code)]

pub mod acme;
pub mod files;
pub mod lan;
pub mod names;
pub mod store;

pub use lan::LanCa;
pub use store::{server_config, CertStore};

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
    #[error("rustls rejected the certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Write a file readable by its owner only (keys, and everything else under the state dir).
pub(crate) fn write_private(path: &std::path::Path, contents: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
