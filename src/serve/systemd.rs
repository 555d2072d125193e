//! systemd integration: `READY=1` once the model is loaded and the listener bound,
//! `STATUS=` lines, `WATCHDOG=1` only while the engine thread is alive, `STOPPING=1`.
//! Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::time::Duration;

use edgellm_engine::EngineHandle;
use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

/// Ping the watchdog at half its interval, but only while the engine loop keeps turning:
/// a wedged engine stops the pings and systemd restarts the daemon.
pub fn spawn_watchdog(engine: EngineHandle) {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let limit = Duration::from_micros(usec);
    let every = limit / 2;
    tracing::info!(?every, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let age = engine.heartbeat_age();
            if age < limit {
                send(&[NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    ?age,
                    "the engine thread has not turned for too long; withholding the watchdog ping"
                );
            }
        }
    });
}
