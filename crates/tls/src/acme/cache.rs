//! The ACME account key and certificates on disk, readable by the daemon's user only
//! (rustls-acme's own `DirCache` writes keys with mode 0644).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rustls_acme::{AccountCache, CertCache};
use sha2::{Digest, Sha256};

/// The last certificate PEM (key + chain) loaded or stored, for deploying into the store.
pub type LastPem = Arc<Mutex<Option<Vec<u8>>>>;

/// Clones share the last-stored certificate.
#[derive(Debug, Clone)]
pub struct PrivateDirCache {
    dir: PathBuf,
    last: LastPem,
}

impl PrivateDirCache {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            last: Arc::default(),
        }
    }

    pub fn last_pem(&self) -> LastPem {
        Arc::clone(&self.last)
    }

    /// A file name from the identities and the directory URL, so another CA or domain set
    /// never picks up the wrong file.
    fn file(&self, kind: &str, ids: &[String], directory: &str) -> PathBuf {
        let mut h = Sha256::new();
        for id in ids {
            h.update(id.as_bytes());
            h.update([0]);
        }
        h.update(directory.as_bytes());
        let hex: String = h
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(format!("{kind}-{hex}.pem"))
    }

    async fn read(path: PathBuf) -> Result<Option<Vec<u8>>, std::io::Error> {
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn write(path: PathBuf, bytes: Vec<u8>) -> Result<(), std::io::Error> {
        tokio::task::spawn_blocking(move || crate::write_private(&path, &bytes))
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[async_trait]
impl CertCache for PrivateDirCache {
    type EC = std::io::Error;

    async fn load_cert(
        &self,
        domains: &[String],
        directory_url: &str,
    ) -> Result<Option<Vec<u8>>, Self::EC> {
        let pem = Self::read(self.file("cert", domains, directory_url)).await?;
        if let Some(pem) = &pem {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(pem.clone());
        }
        Ok(pem)
    }

    async fn store_cert(
        &self,
        domains: &[String],
        directory_url: &str,
        cert: &[u8],
    ) -> Result<(), Self::EC> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(cert.to_vec());
        Self::write(self.file("cert", domains, directory_url), cert.to_vec()).await
    }
}

#[async_trait]
impl AccountCache for PrivateDirCache {
    type EA = std::io::Error;

    async fn load_account(
        &self,
        contact: &[String],
        directory_url: &str,
    ) -> Result<Option<Vec<u8>>, Self::EA> {
        Self::read(self.file("account", contact, directory_url)).await
    }

    async fn store_account(
        &self,
        contact: &[String],
        directory_url: &str,
        account: &[u8],
    ) -> Result<(), Self::EA> {
        Self::write(
            self.file("account", contact, directory_url),
            account.to_vec(),
        )
        .await
    }
}
