//! `edgellm serve`: wire engine, certificates, guards and the HTTPS listener together.
//!
//! - [`certs`]: the certificate source of each `--tls` mode.
//! - [`redirect`]: the optional plain-HTTP listener that only redirects to HTTPS.
//! - [`listener`]: the accept loop of both listeners (deadlines, idle and stall timeouts,
//!   connection and stream caps, HTTP/1.1 + h2).
//! - [`keys`]: the API key generated on first start when listening beyond loopback.
//! - [`mdns`]: `--mdns` service discovery (DNS-SD over mDNS).
//! - [`signals`]: shutdown on SIGTERM or SIGINT (a second one exits at once); SIGHUP.
//! - [`systemd`]: readiness, status, watchdog and stopping notifications.

mod certs;
pub mod keys;
mod listener;
mod mdns;
mod redirect;
mod signals;
mod status;
mod systemd;

use std::sync::Arc;
use std::time::Duration;

use edgellm_api::{AppState, RuntimeFlags};
use edgellm_backend::Backend;
use edgellm_engine::EngineHandle;
use edgellm_observe::engine::EngineCollector;
use edgellm_observe::system::SystemCollector;
use edgellm_observe::DeviceReader;
use edgellm_observe::{FnGauge, FnInfo, Metrics, ThermalGuard};
use edgellm_tls::CertStore;

use crate::config::ServeConfig;
use crate::error::Error;

/// Pause after each decode step while the device is too hot (roughly thirds the heat of
/// generation at ~25 tok/s).
const HOT_STEP_PAUSE: Duration = Duration::from_millis(100);

/// How often the engine is checked for idleness while draining.
const DRAIN_POLL: Duration = Duration::from_millis(100);

pub fn run(config: ServeConfig) -> Result<(), Error> {
    crate::logging::init(&config.log_level, config.log_format, config.under_journald);
    crate::config::default_omp_wait_policy();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // The engine thread does the heavy work; two async workers are plenty for I/O.
        .worker_threads(2)
        // Requests are prepared (schemas compiled) on the blocking pool: room for the
        // deepest schema the limits allow, with margin.
        .thread_stack_size(edgellm_engine::PREP_STACK_BYTES)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(serve(config))
}

async fn serve(mut config: ServeConfig) -> Result<(), Error> {
    let mdns_host = mdns::host_label(&config.mdns_avahi_socket);
    if config.mdns {
        // The name the advertised service points at is in the LAN certificate.
        config.tls_names.push(format!("{mdns_host}.local"));
    }
    systemd::status("provisioning certificates");
    let certs = certs::provision(&config)?;
    let store = Arc::clone(&certs.store);
    let certs_lan_ca = certs.lan_ca.clone();
    systemd::status("loading the model");
    let engine = EngineHandle::spawn(config.engine.clone())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.listen);
    let keys = keys::effective(&config, addr)?;
    tracing::info!(%addr, model = %config.engine.model_path.display(), "listening on https://{addr}");

    let backend: Arc<dyn Backend> = Arc::new(engine.clone());
    // One sysinfo reader for /metrics, /status and the history.
    let device = Arc::new(DeviceReader::new());
    let metrics = Arc::new(metrics(
        &engine,
        &backend,
        &store,
        certs.acme_status.clone(),
        &device,
    ));
    let thermal = config
        .thermal
        .limit_celsius
        .map(|_| ThermalGuard::new(config.thermal.clone()));
    if let Some(guard) = &thermal {
        let engine = engine.clone();
        let on_change = Box::new(move |hot: bool| {
            engine.set_step_pause(if hot { HOT_STEP_PAUSE } else { Duration::ZERO })
        });
        tokio::spawn(Arc::clone(guard).run(Arc::clone(&metrics), on_change));
    }
    let status = status::sources(
        &config,
        &store,
        certs.acme_status.clone(),
        &backend,
        thermal.clone(),
        device,
    );
    let flags = Arc::new(RuntimeFlags::new(thermal));
    let state = AppState {
        limits: config.api.clone(),
        access: config.access.clone(),
        keys: Arc::new(keys),
        metrics,
        runtime: Arc::clone(&flags),
        clients: Arc::new(edgellm_api::state::clients::ClientSlots::new(
            config.max_client_requests,
        )),
        node: Arc::from(config.node_name.as_str()),
        status: Some(status),
        // The preparation threads' bound and the rest as every AppState has them.
        ..AppState::new(backend)
    };
    let app = edgellm_api::router(state);
    let tls = Arc::new(edgellm_tls::server_config(certs.resolver, certs.acme)?);
    if let Some(redirect_addr) = config.redirect_listen {
        let plain = tokio::net::TcpListener::bind(redirect_addr)
            .await
            .map_err(|source| Error::Bind {
                addr: redirect_addr,
                source,
            })?;
        let bound = plain.local_addr().unwrap_or(redirect_addr);
        tracing::info!(addr = %bound, "redirecting http://{bound} to https");
        let limits = redirect::limits(&config.connection);
        tokio::spawn(listener::serve(
            plain,
            listener::Transport::Plain,
            redirect::router(addr.port()),
            limits,
            std::future::pending(),
        ));
    }
    let advertiser = Arc::new(mdns::Advertiser::default());
    let shutdown = {
        let (engine, flags, drain) = (engine.clone(), Arc::clone(&flags), config.drain_timeout);
        let advertiser = Arc::clone(&advertiser);
        async move {
            signals::shutdown().await;
            // Withdraw from discovery first: nobody should find a server that is leaving.
            tokio::task::spawn_blocking(move || advertiser.withdraw())
                .await
                .ok();
            let deadline = tokio::time::Instant::now() + drain;
            flags.start_draining();
            systemd::stopping();
            drain_engine(&engine, deadline).await;
            deadline
        }
    };
    if !matches!(config.tls, crate::config::TlsSource::Files(_)) {
        signals::ignore_sighup();
    }
    let transport = listener::Transport::Tls(tokio_rustls::TlsAcceptor::from(tls));
    let server = listener::serve(
        listener,
        transport,
        app,
        config.connection.clone(),
        shutdown,
    );
    tokio::pin!(server);
    tokio::select! {
        loaded = engine.wait_loaded() => {
            let info = loaded.map_err(Error::ModelLoad)?;
            tracing::info!(model = %info.id, n_ctx = info.n_ctx_per_request, cpu_backend = %info.cpu.summary(), "ready");
            systemd::ready();
            systemd::spawn_watchdog(engine.clone());
            if config.mdns {
                let advert = mdns::Advert {
                    listen: addr,
                    model: info.id.clone(),
                    ca_fingerprint: certs_lan_ca.clone(),
                    host: mdns_host.clone(),
                };
                let advertiser = Arc::clone(&advertiser);
                tokio::task::spawn_blocking(move || advertiser.start(&advert));
            }
            server.await;
        }
        () = &mut server => {}
    }
    let s = engine.stats();
    if s.slots_busy > 0 || s.queue_depth > 0 {
        // The drain timed out: llama.cpp is still decoding, and a normal exit's C++
        // destructors can wait on its busy threads.
        signals::end_now("stopped with requests in flight");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Wait until no request is queued or running, or the drain deadline passes.
async fn drain_engine(engine: &EngineHandle, deadline: tokio::time::Instant) {
    loop {
        let s = engine.stats();
        if s.slots_busy == 0 && s.queue_depth == 0 {
            tracing::info!("drained");
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                busy = s.slots_busy,
                queued = s.queue_depth,
                "drain timeout: stopping with requests in flight"
            );
            return;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

fn metrics(
    engine: &EngineHandle,
    backend: &Arc<dyn Backend>,
    store: &Arc<CertStore>,
    acme: Option<Arc<edgellm_tls::acme::AcmeStatus>>,
    device: &Arc<DeviceReader>,
) -> Metrics {
    let mut metrics = Metrics::new();
    let load = {
        let engine = engine.clone();
        Arc::new(move || engine.load_seconds())
    };
    metrics.register_collector(Box::new(EngineCollector::new(Arc::clone(backend), load)));
    metrics.register_collector(Box::new(SystemCollector::new(Arc::clone(device))));
    if let Some(status) = acme {
        use std::sync::atomic::Ordering::Relaxed;
        let failures = Arc::clone(&status);
        metrics.register_collector(Box::new(FnGauge::counter(
            "acme_failures",
            "Failed ACME order attempts",
            move || failures.failures.load(Relaxed),
        )));
        metrics.register_collector(Box::new(FnGauge::counter(
            "acme_certificates_deployed",
            "ACME certificates put in service (new or cached)",
            move || status.deployed.load(Relaxed),
        )));
    }
    let model = Arc::clone(backend);
    metrics.register_collector(Box::new(FnInfo::new(
        "cpu_backend_info",
        "The llama.cpp CPU kernels running the model (value 1; the labels say which)",
        move || {
            let cpu = model.model()?.cpu;
            Some(vec![
                ("backend".into(), cpu.backend),
                ("arch".into(), cpu.arch),
                ("features".into(), cpu.features.join(",")),
                ("cpu".into(), cpu.cpu),
            ])
        },
    )));
    let store = Arc::clone(store);
    metrics.register_collector(Box::new(FnGauge::new(
        "certificate_expiry_seconds",
        "Seconds until the served TLS certificate expires",
        move || {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            Some(store.not_after_unix()? as f64 - now.as_secs_f64())
        },
    )));
    metrics
}
