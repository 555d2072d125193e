//! The certificate source for each `--tls` mode, behind one resolver.

use std::sync::Arc;

use edgellm_tls::names::Identity;
use edgellm_tls::{CertStore, LanCa};
use rustls::server::ResolvesServerCert;

use crate::config::{ServeConfig, TlsSource};
use crate::error::Error;

/// What the listener serves from, and the store that metrics read.
pub struct Certificates {
    pub store: Arc<CertStore>,
    pub resolver: Arc<dyn ResolvesServerCert>,
    /// Offer the `acme-tls/1` ALPN protocol for TLS-ALPN-01 validation.
    pub acme: bool,
    /// ACME outcomes, in acme mode.
    pub acme_status: Option<Arc<edgellm_tls::acme::AcmeStatus>>,
    /// The LAN CA's SHA-256 fingerprint, in lan mode.
    pub lan_ca: Option<String>,
}

pub fn provision(config: &ServeConfig) -> Result<Certificates, Error> {
    match &config.tls {
        TlsSource::Lan => {
            let (store, fingerprint) = lan_store(config)?;
            Ok(Certificates {
                resolver: Arc::clone(&store) as Arc<dyn ResolvesServerCert>,
                store,
                acme: false,
                acme_status: None,
                lan_ca: Some(fingerprint),
            })
        }
        TlsSource::Acme(settings) => {
            // Served until the first ACME certificate arrives.
            let (store, _) = lan_store(config)?;
            if let edgellm_tls::acme::Challenge::Dns01(dns) = &settings.challenge {
                let status = edgellm_tls::acme::dns01::spawn(
                    (**settings).clone(),
                    dns.clone(),
                    Arc::clone(&store),
                )?;
                return Ok(Certificates {
                    resolver: Arc::clone(&store) as Arc<dyn ResolvesServerCert>,
                    store,
                    acme: false,
                    acme_status: Some(status),
                    lan_ca: None,
                });
            }
            let resolver = edgellm_tls::acme::spawn((**settings).clone(), Arc::clone(&store))?;
            Ok(Certificates {
                store,
                acme_status: Some(Arc::clone(&resolver.status)),
                resolver,
                acme: true,
                lan_ca: None,
            })
        }
        TlsSource::Files(files) => {
            let store = CertStore::new(files.load()?);
            files.clone().watch(Arc::clone(&store));
            spawn_sighup_reload(files.clone(), Arc::clone(&store));
            tracing::info!(cert = %files.cert.display(), "serving the certificate files (reloaded on change and SIGHUP)");
            Ok(Certificates {
                resolver: Arc::clone(&store) as Arc<dyn ResolvesServerCert>,
                store,
                acme: false,
                acme_status: None,
                lan_ca: None,
            })
        }
    }
}

/// The LAN certificate's store and its CA's fingerprint.
fn lan_store(config: &ServeConfig) -> Result<(Arc<CertStore>, String), Error> {
    let ca = LanCa::load_or_create_for(&LanCa::dir_in(&config.state_dir), &config.tls_names)?
        .with_leaf_lifetime(config.lan_leaf_lifetime);
    let identity = Identity::of_this_machine(&config.tls_names);
    let leaf = ca.leaf(&identity)?;
    let fingerprint = ca.fingerprint()?;
    tracing::info!(
        names = ?identity.dns,
        addresses = ?identity.ips,
        ca_fingerprint = %fingerprint,
        name_constrained = ca.scope()?.is_some(),
        "LAN certificate ready (install the CA on clients with `edgellm ca show`)"
    );
    let store = CertStore::new(leaf);
    spawn_lan_recheck(
        ca,
        config.tls_names.clone(),
        config.lan_recheck,
        Arc::clone(&store),
    );
    Ok((store, fingerprint))
}

/// Re-check the LAN leaf while serving: a new one goes into service, without a restart,
/// when the machine's names or addresses changed or the leaf nears expiry.
fn spawn_lan_recheck(
    mut ca: LanCa,
    names: Vec<String>,
    every: std::time::Duration,
    store: Arc<CertStore>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let identity = Identity::of_this_machine(&names);
            match ca.renewed_leaf(&identity) {
                Ok(Some(leaf)) => {
                    store.set(leaf);
                    tracing::info!(names = ?identity.dns, addresses = ?identity.ips, "LAN certificate reissued");
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot reissue the LAN certificate; the current one stays in service")
                }
            }
        }
    });
}

fn spawn_sighup_reload(files: edgellm_tls::files::CertFiles, store: Arc<CertStore>) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    files.reload(&store, "SIGHUP");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot watch SIGHUP"),
    }
}
