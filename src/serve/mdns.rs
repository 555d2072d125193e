//! `--mdns`: advertise the service over mDNS/DNS-SD on the LAN interfaces (mdns-sd runs its
//! own responder thread): `_https._tcp` with TXT `path=/v1`, the model and the LAN CA's
//! fingerprint, and `_ollama._tcp` for Ollama clients. Started once the model is loaded,
//! withdrawn (goodbye packets) when shutdown begins.
//!
//! Only interfaces with private or link-local addresses answer (never loopback, never a
//! public address); a specific `--listen` address limits it to that interface. Where
//! avahi-daemon runs, it owns `<hostname>.local`: publishing other address records for the
//! same name would start a conflict (avahi renames the host), so the service then points at
//! a host name of its own, `<hostname>-edgellm.local`, which the LAN certificate includes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use mdns_sd::{IfKind, IfPredicate, ServiceDaemon, ServiceInfo};

/// What to advertise.
#[derive(Debug, Clone)]
pub struct Advert {
    pub listen: SocketAddr,
    pub model: String,
    /// SHA-256 of the LAN CA (the `--tls lan` certificate's issuer).
    pub ca_fingerprint: Option<String>,
    /// The host label the service points at ([`host_label`]).
    pub host: String,
}

/// The host label the service points at (see the module docs); `avahi_socket` exists
/// while avahi-daemon runs.
pub fn host_label(avahi_socket: &std::path::Path) -> String {
    let host = edgellm_tls::names::hostname().unwrap_or_else(|| "edgellm".into());
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if avahi_socket.exists() {
        format!("{host}-edgellm")
    } else {
        host
    }
}

/// A private (RFC 1918, ULA) or link-local address: one that only exists on a LAN.
fn is_lan(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            first & 0xffc0 == 0xfe80 || first & 0xfe00 == 0xfc00
        }
    }
}

/// The responder while advertising.
#[derive(Default)]
pub struct Advertiser {
    state: Mutex<State>,
}

#[derive(Default)]
enum State {
    #[default]
    Idle,
    Running(ServiceDaemon, Vec<String>),
    /// Shutdown began: a late start must not advertise a leaving server.
    Withdrawn,
}

impl Advertiser {
    /// Start answering; errors are logged, never fatal (the API works without discovery).
    pub fn start(&self, advert: &Advert) {
        if advert.listen.ip().is_loopback() {
            return tracing::warn!(listen = %advert.listen, "--mdns: listening on loopback only, nothing to advertise on the LAN");
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(*state, State::Idle) {
            return;
        }
        match start(advert) {
            Ok((daemon, names)) => {
                tracing::info!(services = ?names, host = %format!("{}.local", advert.host), port = advert.listen.port(), "advertising over mDNS");
                *state = State::Running(daemon, names);
            }
            Err(e) => tracing::error!(error = %e, "--mdns: cannot advertise"),
        }
    }

    /// Send goodbyes for every service and stop the responder (bounded: ~1 s).
    pub fn withdraw(&self) {
        let previous = std::mem::replace(
            &mut *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            State::Withdrawn,
        );
        let State::Running(daemon, names) = previous else {
            return;
        };
        for name in &names {
            if let Ok(done) = daemon.unregister(name) {
                let _ = done.recv_timeout(Duration::from_secs(1));
            }
        }
        if let Ok(done) = daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        tracing::info!("mDNS advertisement withdrawn");
    }
}

fn start(advert: &Advert) -> Result<(ServiceDaemon, Vec<String>), mdns_sd::Error> {
    let daemon = ServiceDaemon::new()?;
    daemon.disable_interface(IfKind::All)?;
    let listen_ip = advert.listen.ip();
    if listen_ip.is_unspecified() {
        daemon.enable_interface(IfKind::Predicate(IfPredicate::new(|intf| {
            !intf.is_loopback() && is_lan(intf.ip())
        })))?;
    } else {
        daemon.enable_interface(IfKind::Addr(listen_ip))?;
    }
    let host = format!("{}.local.", advert.host);
    let instance = format!(
        "edgellm on {}",
        edgellm_tls::names::hostname().unwrap_or_else(|| advert.host.clone())
    );
    let port = advert.listen.port();
    let mut https = vec![
        ("path", "/v1".to_string()),
        ("api", "openai,ollama".to_string()),
        ("model", advert.model.clone()),
    ];
    if let Some(fp) = &advert.ca_fingerprint {
        https.push(("ca_sha256", fp.replace(':', "").to_ascii_lowercase()));
    }
    let ollama = vec![
        ("model", advert.model.clone()),
        ("scheme", "https".to_string()),
    ];
    let mut names = Vec::new();
    for (kind, txt) in [
        ("_https._tcp.local.", https),
        ("_ollama._tcp.local.", ollama),
    ] {
        let props: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let info =
            ServiceInfo::new(kind, &instance, &host, (), port, &props[..])?.enable_addr_auto();
        names.push(info.get_fullname().to_string());
        daemon.register(info)?;
    }
    Ok((daemon, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lan_addresses_count() {
        for lan in [
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.5",
            "169.254.3.4",
            "fe80::1",
            "fd12::1",
        ] {
            assert!(is_lan(lan.parse().unwrap()), "{lan}");
        }
        for not in ["127.0.0.1", "8.8.8.8", "100.64.0.1", "::1", "2001:db8::1"] {
            assert!(!is_lan(not.parse().unwrap()), "{not}");
        }
    }
}
