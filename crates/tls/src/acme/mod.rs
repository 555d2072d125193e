//! Certificates from an ACME CA (Let's Encrypt, step-ca, Pebble) by TLS-ALPN-01 on the
//! HTTPS port, through `rustls-acme`.
//!
//! The LAN certificate stays in service until the first ACME certificate exists; then the
//! [`CertStore`] swaps to it without a restart, and again at every renewal (rustls-acme
//! renews at two thirds of the validity). Validation handshakes (ALPN `acme-tls/1`) are
//! answered by rustls-acme's resolver; every other handshake gets the store's certificate.
//!
//! - [`cache`]: account and certificates under `<state-dir>/acme` (0700, files 0600).

pub mod cache;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_acme::{AcmeConfig, EventError, EventOk, ResolvesServerCertAcme};

use crate::store::{certified_key, CertStore};
use crate::TlsError;

/// Let's Encrypt's production directory (the default).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (`--acme-staging`).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// ACME settings, validated by the daemon's config.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub domains: Vec<String>,
    /// `mailto:` addresses.
    pub contact: Vec<String>,
    pub directory: String,
    /// Extra CA certificates (PEM) trusted for the directory's HTTPS, e.g. a private CA.
    pub ca_file: Option<PathBuf>,
    /// `<state-dir>/acme`.
    pub cache_dir: PathBuf,
}

/// Serves challenge certificates to validation handshakes, the store's certificate otherwise.
#[derive(Debug)]
pub struct AcmeResolver {
    store: Arc<CertStore>,
    acme: Arc<ResolvesServerCertAcme>,
    /// Outcomes, for metrics.
    pub status: Arc<AcmeStatus>,
}

/// How ACME has fared since start.
#[derive(Debug, Default)]
pub struct AcmeStatus {
    /// Failed order attempts (each is logged with the CA's error).
    pub failures: AtomicU64,
    /// Certificates put in service (new or from the cache).
    pub deployed: AtomicU64,
}

impl ResolvesServerCert for AcmeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if rustls_acme::is_tls_alpn_challenge(&hello) {
            self.acme.resolve(hello)
        } else {
            Some(self.store.current())
        }
    }
}

/// The ALPN protocol of TLS-ALPN-01 validation connections; they carry no HTTP.
pub const ACME_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;

fn client_config(settings: &AcmeSettings) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.clone(),
            source,
        })?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
            roots.add(cert)?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::BadPem {
                path: path.clone(),
                what: "CA certificate",
            });
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Start the ACME state machine in a task. Returns the resolver to serve handshakes with.
pub fn spawn(settings: AcmeSettings, store: Arc<CertStore>) -> Result<Arc<AcmeResolver>, TlsError> {
    crate::lan::create_private_dir(&settings.cache_dir)?;
    let cache = cache::PrivateDirCache::new(settings.cache_dir.clone());
    let last_pem = cache.last_pem();
    let mut state =
        AcmeConfig::new_with_client_config(&settings.domains, client_config(&settings)?)
            .contact(&settings.contact)
            .directory(&settings.directory)
            .cache(cache)
            .state();
    let status = Arc::new(AcmeStatus::default());
    let resolver = Arc::new(AcmeResolver {
        store: Arc::clone(&store),
        acme: state.resolver(),
        status: Arc::clone(&status),
    });
    tracing::info!(domains = ?settings.domains, directory = %settings.directory, "requesting certificates by ACME (TLS-ALPN-01); serving the LAN certificate until one arrives");
    tokio::spawn(async move {
        // rustls-acme reports a new certificate before it stores it in the cache, and the
        // cache is where its PEM reaches us: deploy once the cache has seen it.
        while let Some(event) = state.next().await {
            match event {
                Ok(ok) => {
                    tracing::info!(event = ?ok, "acme");
                    if matches!(ok, EventOk::CertCacheStore | EventOk::DeployedCachedCert) {
                        deploy(&store, &last_pem);
                        status.deployed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(err @ EventError::CertCacheStore(_)) => {
                    tracing::error!(error = %err, "acme: could not save the certificate; serving it anyway");
                    deploy(&store, &last_pem);
                    status.deployed.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) => {
                    status.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %err, "acme: certificate order failed; retrying with backoff");
                }
            }
        }
    });
    Ok(resolver)
}

/// Put the certificate rustls-acme just deployed into the store.
fn deploy(store: &CertStore, last_pem: &cache::LastPem) {
    let Some(pem) = last_pem.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        return tracing::error!("acme deployed a certificate the cache never saw");
    };
    let text = String::from_utf8_lossy(&pem);
    match certified_key(&text, &text) {
        Ok(key) => {
            store.set(key);
            tracing::info!(not_after = ?store.not_after_unix(), "now serving the ACME certificate");
        }
        Err(e) => tracing::error!(error = %e, "the ACME certificate could not be used"),
    }
}
