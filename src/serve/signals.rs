//! Signals: SIGTERM (systemd stop) or SIGINT (Ctrl-C) start a drain, and a second one
//! during the drain ends the process at once (SIGKILL to itself); SIGHUP, which would kill
//! the process by default, is only logged where it has no meaning (`lan` and `acme` modes;
//! `files` mode reloads).

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGTERM or SIGINT; a later one ends the process immediately.
pub async fn shutdown() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM");
            return std::future::pending().await;
        }
    };
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGINT");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining (send it again to stop at once)"),
        _ = int.recv() => tracing::info!("SIGINT: draining (press Ctrl-C again to stop at once)"),
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        end_now("second stop signal: exiting without finishing the drain");
    });
}

/// End the process at once, while llama.cpp may still be decoding. Not
/// `std::process::exit`: its atexit handlers and llama.cpp's static destructors can wait
/// for OpenMP threads that are busy (seen: such an exit hung). SIGKILL cannot hang, and the
/// state dir is safe: every write to it is atomic.
pub fn end_now(why: &str) -> ! {
    tracing::warn!("{why}");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    std::process::exit(1)
}

/// Keep SIGHUP from terminating the daemon; log it.
pub fn ignore_sighup() {
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP ignored: nothing to reload in this --tls mode");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot watch SIGHUP"),
    }
}
