//! Certificates by ACME DNS-01 (`--acme-challenge dns-01`), through `instant-acme`: no
//! inbound port at all, wildcard names allowed. rustls-acme speaks TLS-ALPN-01 only.
//!
//! One order: publish `_acme-challenge.<domain>` TXT records ([`publish`]), wait until the
//! authoritative servers answer them ([`dns::wait_visible`]), let the CA validate, finalize
//! with our own key, then always remove the records. The certificate and account live in
//! `<state-dir>/acme` (0700, files 0600); the store swaps to a new certificate without a
//! restart; renewal at two thirds of the validity; failures wait 1 s, 2 s, 4 s ... up to
//! `--acme-retry-max-seconds`, as in the TLS-ALPN-01 mode.
//!
//! - [`tsig`]: BIND key files.
//! - [`dns`]: RFC 2136 updates, TXT queries, zone and authoritative-server discovery.
//! - [`publish`]: RFC 2136 or a hook.

pub mod dns;
pub mod publish;
pub mod tsig;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, RetryPolicy,
};
use sha2::{Digest, Sha256};

use super::{AcmeSettings, AcmeStatus};
use crate::store::{certified_key, CertStore};
use publish::Publisher;

/// DNS-01 settings, validated by the daemon's config.
#[derive(Debug, Clone)]
pub struct Dns01Settings {
    pub publisher: Publisher,
    /// Servers (`HOST[:PORT]`) to check for the record before asking the CA; empty = the
    /// RFC 2136 server, or the zone's authoritative servers.
    pub resolvers: Vec<String>,
    /// The longest wait for the record to become visible.
    pub propagation_limit: Duration,
    /// The longest one order may take (the clean-up afterwards is bounded on its own).
    pub order_limit: Duration,
}

/// Start ordering and renewing in a task; the store gets every new certificate.
pub fn spawn(
    settings: AcmeSettings,
    dns: Dns01Settings,
    store: Arc<CertStore>,
) -> Result<Arc<AcmeStatus>, crate::TlsError> {
    crate::create_private_dir(&settings.cache_dir)?;
    let http = super::client_config(&settings)?;
    let status = Arc::new(AcmeStatus::default());
    let shared = Arc::clone(&status);
    tracing::info!(domains = ?settings.domains, directory = %settings.directory, publisher = %dns.publisher.describe(), "requesting certificates by ACME (DNS-01); serving the LAN certificate until one arrives");
    tokio::spawn(async move {
        let files = Files::new(&settings);
        let mut failed_in_a_row = 0u32;
        let mut serving: Option<Vec<u8>> = None;
        loop {
            // The cached certificate, if any, goes into service; it decides the next order.
            let cached = files.certificate();
            let due = match &cached {
                Some((pem, key)) => {
                    if serving.as_deref() != Some(pem.as_bytes()) && deploy(&store, pem, key) {
                        serving = Some(pem.clone().into_bytes());
                        shared.deployed.fetch_add(1, Ordering::Relaxed);
                    }
                    renew_at(pem)
                }
                None => SystemTime::now(),
            };
            if let Ok(wait) = due.duration_since(SystemTime::now()) {
                tracing::info!(renew_in_secs = wait.as_secs(), "acme: next DNS-01 order");
                tokio::time::sleep(wait).await;
            }
            let result = order(&settings, &dns, &files, &http, dns.order_limit).await;
            match result {
                Ok(()) => {
                    failed_in_a_row = 0;
                    shared.set_error(None);
                    tracing::info!("acme: certificate issued by DNS-01");
                }
                Err(err) => {
                    shared.failures.fetch_add(1, Ordering::Relaxed);
                    shared.set_error(Some(err.clone()));
                    let wait = super::retry_wait(failed_in_a_row, settings.retry_max);
                    failed_in_a_row = failed_in_a_row.saturating_add(1);
                    tracing::error!(error = %err, retry_in_secs = wait.as_secs(), "acme: certificate order failed");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    });
    Ok(status)
}

fn deploy(store: &CertStore, chain: &str, key: &str) -> bool {
    match certified_key(chain, key) {
        Ok(key) => {
            store.set(key);
            tracing::info!(not_after = ?store.not_after_unix(), "now serving the ACME certificate");
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "the ACME certificate could not be used");
            false
        }
    }
}

/// Two thirds into the leaf's validity (now if it cannot be read).
fn renew_at(chain_pem: &str) -> SystemTime {
    let validity = rustls_pemfile::certs(&mut chain_pem.as_bytes())
        .flatten()
        .next()
        .and_then(|der| {
            let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
            let v = cert.validity();
            Some((v.not_before.timestamp(), v.not_after.timestamp()))
        });
    match validity {
        Some((from, to)) if to > from && from >= 0 => {
            UNIX_EPOCH + Duration::from_secs((from + (to - from) * 2 / 3) as u64)
        }
        _ => SystemTime::now(),
    }
}

/// The account and the certificate on disk.
struct Files {
    account: PathBuf,
    cert: PathBuf,
}

impl Files {
    fn new(settings: &AcmeSettings) -> Self {
        let hash = |parts: &[&str]| {
            let mut h = Sha256::new();
            for p in parts {
                h.update(p.as_bytes());
                h.update([0]);
            }
            h.finalize()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let mut ids: Vec<&str> = settings.domains.iter().map(String::as_str).collect();
        ids.push(&settings.directory);
        Self {
            account: settings.cache_dir.join(format!(
                "dns01-account-{}.json",
                hash(&[&settings.directory])
            )),
            cert: settings
                .cache_dir
                .join(format!("dns01-cert-{}.pem", hash(&ids))),
        }
    }

    /// (chain PEM, key PEM) of the stored certificate.
    fn certificate(&self) -> Option<(String, String)> {
        let text = std::fs::read_to_string(&self.cert).ok()?;
        let (key, chain) = text.split_once("\n\n")?;
        Some((chain.to_string(), key.to_string()))
    }

    fn store_certificate(&self, chain: &str, key: &str) -> Result<(), String> {
        let text = format!("{}\n\n{}", key.trim_end(), chain);
        crate::write_private(&self.cert, text.as_bytes()).map_err(|e| e.to_string())
    }

    async fn account(
        &self,
        settings: &AcmeSettings,
        http: &Arc<rustls::ClientConfig>,
    ) -> Result<Account, String> {
        let builder = || Account::builder_with_http(http_client(http));
        if let Ok(json) = std::fs::read_to_string(&self.account) {
            if let Ok(credentials) = serde_json::from_str::<AccountCredentials>(&json) {
                return builder()
                    .from_credentials(credentials)
                    .await
                    .map_err(|e| format!("ACME account: {e}"));
            }
        }
        let contact: Vec<&str> = settings.contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                settings.directory.clone(),
                None,
            )
            .await
            .map_err(|e| format!("ACME account at {}: {e}", settings.directory))?;
        let json = serde_json::to_vec(&credentials).map_err(|e| e.to_string())?;
        crate::write_private(&self.account, &json).map_err(|e| e.to_string())?;
        Ok(account)
    }
}

/// instant-acme's HTTP client with our roots (webpki + `--acme-ca-file`).
fn http_client(config: &Arc<rustls::ClientConfig>) -> Box<dyn instant_acme::HttpClient> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((**config).clone())
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, instant_acme::BodyWrapper<bytes::Bytes>>(connector);
    Box::new(client)
}

/// One order, start to certificate in service, within `limit`. The TXT records are removed
/// in every case, also when the order ran out of time: the clean-up is outside the limit
/// (each removal is bounded on its own), so records never pile up on the DNS server.
async fn order(
    settings: &AcmeSettings,
    dns: &Dns01Settings,
    files: &Files,
    http: &Arc<rustls::ClientConfig>,
    limit: Duration,
) -> Result<(), String> {
    let mut published = Vec::new();
    let issue = async {
        let account = files.account(settings, http).await?;
        let ids: Vec<Identifier> = settings
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&ids))
            .await
            .map_err(|e| format!("new order: {e}"))?;
        validate_and_issue(settings, dns, &mut order, &mut published).await
    };
    let result = tokio::time::timeout(limit, issue)
        .await
        .unwrap_or_else(|_| Err(format!("the order took longer than {} s", limit.as_secs())));
    for (name, value) in &published {
        match dns.publisher.unset(name, value).await {
            Ok(()) => tracing::info!(record = %name, "acme: challenge record removed"),
            Err(e) => tracing::warn!(error = %e, "acme: could not remove the challenge record"),
        }
    }
    let (chain, key) = result?;
    files.store_certificate(&chain, &key)?;
    Ok(())
}

async fn validate_and_issue(
    settings: &AcmeSettings,
    dns: &Dns01Settings,
    order: &mut Order,
    published: &mut Vec<(String, String)>,
) -> Result<(String, String), String> {
    let acme = |what: &'static str| move |e: instant_acme::Error| format!("{what}: {e}");
    // Publish one record per pending authorization (a wildcard and its base domain share
    // the name, with two values).
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(acme("authorization"))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(format!(
                    "authorization for {} is {other:?}",
                    authz.identifier()
                ))
            }
        }
        let base = match authz.identifier().identifier {
            Identifier::Dns(d) => d.clone(),
            other => return Err(format!("cannot validate {other:?} by DNS-01")),
        };
        let shown = authz.identifier().to_string();
        let challenge = authz
            .challenge(ChallengeType::Dns01)
            .ok_or_else(|| format!("the CA offers no dns-01 challenge for {shown}"))?;
        let value = challenge.key_authorization().dns_value();
        let name = format!("_acme-challenge.{base}");
        // Recorded before it is set: a publication cut off by the order's limit (or one
        // that failed half-way) is removed too.
        published.push((name.clone(), value.clone()));
        dns.publisher.set(&name, &value).await?;
        tracing::info!(record = %name, for_name = %shown, "acme: challenge record published");
    }
    // Every record is waited for at once: the wait is the slowest record's, not their sum.
    let visible = published.iter().map(|(name, value)| async move {
        let servers = dns.publisher.check_servers(&dns.resolvers, name).await?;
        dns::wait_visible(&servers, name, value, dns.propagation_limit).await?;
        tracing::info!(record = %name, servers = ?servers, "acme: challenge record visible");
        Ok::<(), String>(())
    });
    futures::future::try_join_all(visible).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(acme("authorization"))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        if let Some(mut challenge) = authz.challenge(ChallengeType::Dns01) {
            challenge.set_ready().await.map_err(acme("challenge"))?;
        }
    }
    let polling = RetryPolicy::new()
        .initial_delay(Duration::from_millis(500))
        .timeout(Duration::from_secs(120));
    let status = order
        .poll_ready(&polling)
        .await
        .map_err(acme("validation"))?;
    if status != OrderStatus::Ready {
        return Err(format!(
            "the CA refused the order ({status:?}): {}",
            refusal(order).await
        ));
    }
    let csr_error = |e: rcgen::Error| format!("certificate request: {e}");
    let key = rcgen::KeyPair::generate().map_err(csr_error)?;
    let mut params = rcgen::CertificateParams::new(settings.domains.clone()).map_err(csr_error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(csr_error)?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(acme("finalize"))?;
    let chain = order
        .poll_certificate(&polling)
        .await
        .map_err(acme("certificate"))?;
    Ok((chain, key.serialize_pem()))
}

/// What the CA said about failed challenges.
async fn refusal(order: &mut Order) -> String {
    let mut said = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        let name = state.identifier().to_string();
        said.extend(
            state
                .challenges
                .iter()
                .filter_map(|c| c.error.as_ref())
                .map(|e| format!("{name}: {e}")),
        );
    }
    if said.is_empty() {
        "no details".into()
    } else {
        said.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_two_thirds_into_the_validity() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a.example.org".to_string()]).unwrap();
        params.not_before = time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(1_000_090).unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        assert_eq!(renew_at(&pem), UNIX_EPOCH + Duration::from_secs(1_000_060));
        assert!(renew_at("not a certificate") <= SystemTime::now());
    }
}
