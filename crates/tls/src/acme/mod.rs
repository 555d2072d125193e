//! Certificates from an ACME CA (Let's Encrypt, step-ca, Pebble): by TLS-ALPN-01 on the
//! HTTPS port through `rustls-acme` (the default), or by DNS-01 ([`dns01`]).
//!
//! The LAN certificate stays in service until the first ACME certificate exists; then the
//! [`CertStore`] swaps to it without a restart, and again at every renewal (rustls-acme
//! renews at two thirds of the validity). Validation handshakes (ALPN `acme-tls/1`) are
//! answered by rustls-acme's resolver; every other handshake gets the store's certificate.
//!
//! - [`cache`]: account and certificates under `<state-dir>/acme` (0700, files 0600).
//! - [`dns01`]: the DNS-01 challenge (RFC 2136 with TSIG, or a hook), via `instant-acme`.

pub mod cache;
pub mod dns01;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
    /// Longest wait between failed orders. rustls-acme doubles its own wait up to 2^16 s
    /// (18 h), so a device that boots offline could wait most of a day after the network
    /// returns; we restart its state machine with our own capped doubling instead.
    pub retry_max: Duration,
    /// How the CA checks that we control the names.
    pub challenge: Challenge,
}

/// The ACME challenge type.
#[derive(Debug, Clone)]
pub enum Challenge {
    /// TLS-ALPN-01 on the HTTPS port (needs it reachable from the internet).
    TlsAlpn01,
    /// DNS-01: a TXT record, no inbound port.
    Dns01(dns01::Dns01Settings),
}

/// Serves challenge certificates to validation handshakes, the store's certificate otherwise.
#[derive(Debug)]
pub struct AcmeResolver {
    store: Arc<CertStore>,
    /// The challenge resolver of the current rustls-acme state machine.
    acme: RwLock<Arc<ResolvesServerCertAcme>>,
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
    /// The latest order failure, cleared when a new certificate is issued.
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl AcmeStatus {
    /// The latest order failure since the last issued certificate.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }
}

impl ResolvesServerCert for AcmeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if rustls_acme::is_tls_alpn_challenge(&hello) {
            let acme = Arc::clone(&self.acme.read().unwrap_or_else(|e| e.into_inner()));
            acme.resolve(hello)
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
    crate::create_private_dir(&settings.cache_dir)?;
    let cache = cache::PrivateDirCache::new(settings.cache_dir.clone());
    let last_pem = cache.last_pem();
    let client = client_config(&settings)?;
    let retry_max = settings.retry_max;
    tracing::info!(domains = ?settings.domains, directory = %settings.directory, "requesting certificates by ACME (TLS-ALPN-01); serving the LAN certificate until one arrives");
    // A fresh state machine (account and certificate reloaded from the cache) per attempt
    // after a failure; it orders at once unless the cached certificate is still good.
    let new_state = move || {
        AcmeConfig::new_with_client_config(&settings.domains, Arc::clone(&client))
            .contact(&settings.contact)
            .directory(&settings.directory)
            .cache(cache.clone())
            .state()
    };
    let mut state = new_state();
    let status = Arc::new(AcmeStatus::default());
    let resolver = Arc::new(AcmeResolver {
        store: Arc::clone(&store),
        acme: RwLock::new(state.resolver()),
        status: Arc::clone(&status),
    });
    let shared = Arc::clone(&resolver);
    tokio::spawn(async move {
        let mut failed_in_a_row = 0u32;
        let mut restarted = false;
        loop {
            // Drive this state machine until an order fails (or forever, renewing).
            while let Some(event) = state.next().await {
                match event {
                    // After a restart the cached certificate is the one already serving.
                    Ok(EventOk::DeployedCachedCert) if restarted => {}
                    Ok(ok) => {
                        tracing::info!(event = ?ok, "acme");
                        // rustls-acme reports a new certificate before it stores it in the
                        // cache, and the cache is where its PEM reaches us: deploy once the
                        // cache has seen it.
                        if matches!(ok, EventOk::CertCacheStore | EventOk::DeployedCachedCert) {
                            deploy(&store, &last_pem);
                            status.deployed.fetch_add(1, Ordering::Relaxed);
                        }
                        // Only a newly issued certificate ends a run of failures; reloading
                        // the cached one does not, or a CA outage at renewal time would be
                        // retried every second.
                        if matches!(ok, EventOk::CertCacheStore) {
                            failed_in_a_row = 0;
                            status.set_error(None);
                        }
                    }
                    Err(err @ EventError::CertCacheStore(_)) => {
                        tracing::error!(error = %err, "acme: could not save the certificate; serving it anyway");
                        deploy(&store, &last_pem);
                        status.deployed.fetch_add(1, Ordering::Relaxed);
                        failed_in_a_row = 0;
                    }
                    Err(err @ EventError::Order(_)) => {
                        status.failures.fetch_add(1, Ordering::Relaxed);
                        status.set_error(Some(err.to_string()));
                        let wait = retry_wait(failed_in_a_row, retry_max);
                        failed_in_a_row = failed_in_a_row.saturating_add(1);
                        tracing::error!(error = %err, retry_in_secs = wait.as_secs(), "acme: certificate order failed");
                        tokio::time::sleep(wait).await;
                        break;
                    }
                    Err(err) => tracing::error!(error = %err, "acme"),
                }
            }
            restarted = true;
            state = new_state();
            *shared.acme.write().unwrap_or_else(|e| e.into_inner()) = state.resolver();
        }
    });
    Ok(resolver)
}

/// 1 s, 2 s, 4 s, ... up to `max`.
fn retry_wait(failed_in_a_row: u32, max: Duration) -> Duration {
    Duration::from_secs(1u64 << failed_in_a_row.min(20)).min(max)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_up_to_the_cap() {
        let max = Duration::from_secs(3600);
        let waits: Vec<u64> = (0..14).map(|n| retry_wait(n, max).as_secs()).collect();
        assert_eq!(&waits[..4], &[1, 2, 4, 8]);
        assert_eq!(waits[11], 2048);
        assert_eq!(waits[12], 3600);
        assert_eq!(retry_wait(u32::MAX, max), max);
    }
}
