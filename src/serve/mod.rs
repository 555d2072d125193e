//! `edgellm serve`: wire engine, certificates and the HTTPS listener together.
//!
//! - [`https`]: the TLS accept loop (handshake timeout, HTTP/1.1 + h2, graceful drain).
//! - [`signals`]: shutdown on SIGTERM or SIGINT.

mod https;
mod signals;

use std::sync::Arc;

use edgellm_api::AppState;
use edgellm_engine::EngineHandle;
use edgellm_tls::names::Identity;
use edgellm_tls::{CertStore, LanCa};

use crate::config::ServeConfig;
use crate::error::Error;

pub fn run(config: ServeConfig) -> Result<(), Error> {
    crate::logging::init(&config.log_level);
    crate::config::default_omp_wait_policy();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // The engine thread does the heavy work; two async workers are plenty for I/O.
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServeConfig) -> Result<(), Error> {
    let store = provision_certificates(&config)?;
    let engine = EngineHandle::spawn(config.engine.clone())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.listen);
    tracing::info!(%addr, model = %config.engine.model_path.display(), "listening on https://{addr}");

    let state = AppState {
        backend: Arc::new(engine.clone()),
        limits: config.api.clone(),
    };
    let app = edgellm_api::router(state);
    let tls = Arc::new(edgellm_tls::server_config(store)?);
    let options = https::Options {
        handshake_timeout: config.handshake_timeout,
        drain_timeout: config.drain_timeout,
    };

    let loaded = {
        let engine = engine.clone();
        async move { engine.wait_loaded().await }
    };
    let server = https::serve(listener, tls, app, options, signals::shutdown());
    tokio::pin!(server);
    tokio::select! {
        loaded = loaded => {
            if let Err(why) = loaded {
                return Err(Error::ModelLoad(why));
            }
            tracing::info!("ready");
            server.await;
        }
        () = &mut server => {}
    }
    tracing::info!("stopped");
    Ok(())
}

fn provision_certificates(config: &ServeConfig) -> Result<Arc<CertStore>, Error> {
    let ca = LanCa::load_or_create(&LanCa::dir_in(&config.state_dir))?;
    let identity = Identity::of_this_machine(&config.tls_names);
    let leaf = ca.leaf(&identity)?;
    tracing::info!(
        names = ?identity.dns,
        addresses = ?identity.ips,
        ca_fingerprint = %ca.fingerprint()?,
        "serving a certificate from the LAN CA (install it on clients with `edgellm ca show`)"
    );
    Ok(CertStore::new(leaf))
}
