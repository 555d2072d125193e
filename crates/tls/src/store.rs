//! The certificate rustls serves, swappable at run time, and the server config.

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

/// rustls config: TLS 1.3 and 1.2, ALPN h2 then http/1.1 (plus `acme-tls/1` when ACME
/// validates on this port), certificates from `resolver`.
pub fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    acme: bool,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme {
        config.alpn_protocols.push(crate::acme::ACME_ALPN.to_vec());
    }
    Ok(config)
}

/// notAfter of the first certificate of the chain.
pub fn leaf_not_after(key: &CertifiedKey) -> Option<i64> {
    let der = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}
