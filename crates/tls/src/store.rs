//! The certificate rustls serves, swappable at run time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::TlsError;

/// Holds the certificate in service. Swapping it affects new handshakes only; open
/// connections keep theirs, so renewals never drop a client.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    /// notAfter of the leaf in service, Unix seconds (0 if unknown).
    not_after: AtomicI64,
}

impl CertStore {
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        let store = Arc::new(Self {
            not_after: AtomicI64::new(0),
            current: RwLock::new(Arc::new(key)),
        });
        store.not_after.store(
            leaf_not_after(&store.current()).unwrap_or(0),
            Ordering::Relaxed,
        );
        store
    }

    /// Put a new certificate in service.
    pub fn set(&self, key: CertifiedKey) {
        self.not_after
            .store(leaf_not_after(&key).unwrap_or(0), Ordering::Relaxed);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// When the certificate in service expires (Unix seconds), if known.
    pub fn not_after_unix(&self) -> Option<i64> {
        Some(self.not_after.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Subject and issuer (common names, else the whole names) and notAfter of the
    /// certificate in service.
    pub fn describe(&self) -> Option<(String, String, String)> {
        let key = self.current();
        let (_, cert) = x509_parser::parse_x509_certificate(key.cert.first()?).ok()?;
        let name = |n: &x509_parser::x509::X509Name<'_>| {
            n.iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok().map(str::to_owned))
                .unwrap_or_else(|| n.to_string())
        };
        Some((
            name(cert.subject()),
            name(cert.issuer()),
            cert.validity().not_after.to_string(),
        ))
    }

    /// The certificate in service.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Build a [`CertifiedKey`] from PEM text (chain first, leaf first in the chain).
pub fn certified_key(chain_pem: &str, key_pem: &str) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Io {
            path: "<certificate>".into(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::BadPem {
            path: "<certificate>".into(),
            what: "certificate",
        });
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .ok()
        .flatten()
        .ok_or(TlsError::BadPem {
            path: "<key>".into(),
            what: "private key",
        })?;
    let provider = ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key, &provider)?;
    Ok(certified)
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

/// notAfter of the first certificate of the chain.
pub fn leaf_not_after(key: &CertifiedKey) -> Option<i64> {
    let der = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}
