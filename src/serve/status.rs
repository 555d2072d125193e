//! What `/status` shows beyond the engine: the certificate in service, the CPU, and the
//! last hour sampled in-process.

use std::sync::Arc;

use edgellm_api::status::StatusSources;
use edgellm_backend::Backend;
use edgellm_observe::{DeviceReader, History, ThermalGuard};
use edgellm_tls::acme::AcmeStatus;
use edgellm_tls::CertStore;
use serde_json::{json, Value};

use crate::config::{ServeConfig, TlsSource};

/// Start sampling the history and describe the rest.
pub fn sources(
    config: &ServeConfig,
    store: &Arc<CertStore>,
    acme: Option<Arc<AcmeStatus>>,
    backend: &Arc<dyn Backend>,
    thermal: Option<Arc<ThermalGuard>>,
    device: Arc<DeviceReader>,
) -> Arc<StatusSources> {
    let history = History::hour(config.status_interval);
    tokio::spawn(Arc::clone(&history).run(Arc::clone(backend), thermal, Arc::clone(&device)));
    let source = match &config.tls {
        TlsSource::Lan => "lan",
        TlsSource::Acme(_) => "acme",
        TlsSource::Files(_) => "files",
    };
    let store = Arc::clone(store);
    let certificate = Box::new(move || certificate(source, &store, acme.as_deref()));
    Arc::new(StatusSources::new(history, certificate, cpu(), device))
}

fn certificate(source: &str, store: &CertStore, acme: Option<&AcmeStatus>) -> Value {
    use std::sync::atomic::Ordering;
    let (subject, issuer, not_after) = store.describe().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // While ACME has not delivered, the LAN certificate is served.
    let serving = match (source, acme) {
        ("acme", Some(a)) if a.deployed.load(Ordering::Relaxed) == 0 => "lan (until ACME succeeds)",
        _ => source,
    };
    json!({
        "source": source,
        "serving": serving,
        "subject": subject,
        "issuer": issuer,
        "not_after": not_after,
        "days_left": store.not_after_unix().map(|t| (t - now) as f64 / 86_400.0),
        "acme": acme.map(|a| json!({
            "deployed": a.deployed.load(Ordering::Relaxed),
            "failures": a.failures.load(Ordering::Relaxed),
            "last_error": a.last_error(),
        })),
    })
}

/// The CPU's SIMD extensions and the llama.cpp CPU backend this build carries, until the
/// model's own report (with the CPU's name) is there.
fn cpu() -> Value {
    use edgellm_engine::cpu;
    json!({ "arch": std::env::consts::ARCH, "features": cpu::features(), "backend": cpu::BUILT_IN, "cpu": "" })
}
