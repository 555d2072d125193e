//! Certificate files given by the operator (`--tls-cert`, `--tls-key`), reloaded without a
//! restart when they change or on SIGHUP. Unreadable or mismatched files keep the old
//! certificate in service and say why in the log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::sign::CertifiedKey;

use crate::store::{certified_key, CertStore};
use crate::TlsError;

/// How often the files' modification times are checked.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Read and check both files (the key must belong to the certificate).
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| TlsError::Io {
                path: p.into(),
                source,
            })
        };
        let (cert, key) = (read(&self.cert)?, read(&self.key)?);
        certified_key(&cert, &key).map_err(|e| match e {
            TlsError::BadPem { what, .. } if what == "certificate" => TlsError::BadPem {
                path: self.cert.clone(),
                what,
            },
            TlsError::BadPem { what, .. } => TlsError::BadPem {
                path: self.key.clone(),
                what,
            },
            other => other,
        })
    }

    fn stamp(&self) -> Option<(SystemTime, SystemTime)> {
        let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((m(&self.cert)?, m(&self.key)?))
    }

    /// Load the files into the store, keeping the old certificate when they are bad.
    pub fn reload(&self, store: &CertStore, why: &str) {
        match self.load() {
            Ok(key) => {
                store.set(key);
                tracing::info!(cert = %self.cert.display(), why, "certificate reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, why, "certificate files not usable; keeping the certificate in service")
            }
        }
    }

    /// Reload whenever either file's modification time changes (SIGHUP is handled by the
    /// daemon, which calls [`CertFiles::reload`]).
    pub fn watch(self, store: Arc<CertStore>) {
        tokio::spawn(async move {
            let mut last = self.stamp();
            let mut tick = tokio::time::interval(POLL);
            loop {
                tick.tick().await;
                let now = self.stamp();
                if now.is_some() && now != last {
                    last = now;
                    self.reload(&store, "files changed");
                }
            }
        });
    }
}
