//! edgellm's certificates.
//!
//! - [`store`]: [`CertStore`], the hot-swappable certificate rustls serves from, and the
//!   rustls [`server_config`] (TLS 1.3 + 1.2, ALPN h2 and http/1.1, ring provider).
//! - [`lan`]: a persistent local CA and a leaf for this machine's names and addresses.
//! - [`names`]: which names and addresses this machine answers to.
//! - [`scope`]: the name constraints of a new LAN CA (home-network names and addresses).
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
pub mod scope;
pub mod store;

pub use lan::{create_private_dir, LanCa};
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
    #[error("{0}")]
    Import(String),
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

/// Write a file readable by its owner only (keys, and everything else under the state dir),
/// atomically: into a temporary file of its own name (`.<name>.<pid>.<n>.tmp`, created
/// exclusively, so two writers or two files never share one), then renamed into place.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let io = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}
