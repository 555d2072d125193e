//! `--mdns` end to end in two network namespaces joined by a veth pair, both made by the
//! test: the daemon in one, python-zeroconf (a real DNS-SD browser) in the other finds
//! `_https._tcp` and `_ollama._tcp` with the right port, address and TXT, connects by the
//! advertised name with the LAN CA, and sees both services leave after SIGTERM. No packet
//! leaves the namespaces. Skipped, with a message, where namespaces cannot be made.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Server;

const SERVER_IP: &str = "10.237.0.1";
const CLIENT_IP: &str = "10.237.0.2";

/// Two namespaces and the veth pair between them, deleted on drop.
struct Namespaces {
    server: String,
    client: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Namespaces {
    fn make() -> Result<Namespaces, String> {
        let n = std::process::id() % 100_000;
        let ns = Namespaces {
            server: format!("edgellm-mdns-s{n}"),
            client: format!("edgellm-mdns-c{n}"),
        };
        let (vs, vc) = (format!("elms{n}"), format!("elmc{n}"));
        ip(&["netns", "add", &ns.server])?;
        ip(&["netns", "add", &ns.client])?;
        ip(&["link", "add", &vs, "type", "veth", "peer", "name", &vc])?;
        ip(&["link", "set", &vs, "netns", &ns.server])?;
        ip(&["link", "set", &vc, "netns", &ns.client])?;
        for (name, dev, addr) in [(&ns.server, &vs, SERVER_IP), (&ns.client, &vc, CLIENT_IP)] {
            ip(&["-n", name, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", name, "link", "set", dev, "up"])?;
            ip(&["-n", name, "link", "set", "lo", "up"])?;
            ip(&["-n", name, "route", "add", "224.0.0.0/4", "dev", dev])?;
        }
        Ok(ns)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.server]);
        let _ = ip(&["netns", "del", &self.client]);
    }
}

/// The browser, killed on drop; its JSON lines arrive on `events`.
struct Browser {
    child: Child,
    events: mpsc::Receiver<serde_json::Value>,
}

impl Browser {
    fn start(netns: &str) -> Browser {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/mdns_browse.py");
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                &common::venv_bin("python"),
                script,
                "120",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python-zeroconf in the test venv (tests/setup.sh)");
        let out = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Browser { child, events }
    }

    /// Events until `done` holds for the collected list, or `limit`.
    fn until(
        &self,
        limit: Duration,
        seen: &mut Vec<serde_json::Value>,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + limit;
        while !done(seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) => seen.push(v),
                Err(_) => return false,
            }
        }
        true
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has(events: &[serde_json::Value], event: &str, kind: &str) -> bool {
    events
        .iter()
        .any(|e| e["event"] == event && e["type"] == kind)
}

#[test]
fn mdns_advertises_on_the_lan_and_withdraws_on_sigterm() {
    let _serial = common::serial();
    let ns = match Namespaces::make() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED mdns test: cannot make network namespaces here ({e}); it needs root and iproute2");
            return;
        }
    };
    let mut server = Server::spawn_env(
        &[
            "--listen",
            "0.0.0.0:8443",
            "--mdns",
            "--parallel",
            "1",
            "--ctx-size",
            "512",
        ],
        &[("NETNS", &ns.server)],
    );
    let log = server.wait_for_log("advertising over mDNS", Duration::from_secs(120));
    let browser = Browser::start(&ns.client);
    let mut events = Vec::new();
    let found = browser.until(Duration::from_secs(30), &mut events, |e| {
        has(e, "added", "_https._tcp.local.") && has(e, "added", "_ollama._tcp.local.")
    });
    assert!(
        found,
        "not found by the browser: {events:?}\n{log}\n{}",
        server.log()
    );

    let model = common::model_path()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let fingerprint = server
        .log()
        .split("ca_fingerprint=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the CA fingerprint in the start log")
        .replace(':', "")
        .to_ascii_lowercase();
    let added = |kind: &str| {
        events
            .iter()
            .find(|e| e["event"] == "added" && e["type"] == kind)
            .unwrap()
            .clone()
    };
    let https = added("_https._tcp.local.");
    assert_eq!(https["port"], 8443, "{https}");
    assert_eq!(https["txt"]["path"], "/v1", "{https}");
    assert_eq!(https["txt"]["model"], model.as_str(), "{https}");
    assert_eq!(https["txt"]["ca_sha256"], fingerprint.as_str(), "{https}");
    // Only the LAN address: never loopback.
    assert_eq!(
        https["addresses"],
        serde_json::json!([SERVER_IP]),
        "{https}"
    );
    assert!(
        https["name"].as_str().unwrap().starts_with("edgellm on "),
        "{https}"
    );
    let ollama = added("_ollama._tcp.local.");
    assert_eq!(ollama["port"], 8443, "{ollama}");
    assert_eq!(ollama["txt"]["model"], model.as_str(), "{ollama}");

    // A client in the other namespace reaches the advertised host name over HTTPS with the
    // LAN CA: the certificate covers the name the service points at.
    let host = https["server"]
        .as_str()
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    assert!(!host.ends_with("-edgellm.local"), "{https}");
    reach(&ns.client, &server, &host);

    // SIGTERM: both services say goodbye and leave the browser's view.
    let code = server.terminate();
    assert_eq!(code, Some(0), "{}", server.log());
    let gone = browser.until(Duration::from_secs(15), &mut events, |e| {
        has(e, "removed", "_https._tcp.local.") && has(e, "removed", "_ollama._tcp.local.")
    });
    assert!(
        gone,
        "still advertised after SIGTERM: {events:?}\n{}",
        server.log()
    );
    assert!(
        server.log().contains("mDNS advertisement withdrawn"),
        "{}",
        server.log()
    );

    // Where avahi-daemon runs (its socket exists), the service points at a host name of its
    // own, which the LAN certificate covers.
    let avahi = server.state.path().join("avahi-socket");
    std::fs::write(&avahi, "").unwrap();
    let avahi = avahi.display().to_string();
    let mut server = Server::spawn_env(
        &[
            "--listen",
            "0.0.0.0:8443",
            "--mdns",
            "--mdns-avahi-socket",
            &avahi,
            "--parallel",
            "1",
            "--ctx-size",
            "512",
        ],
        &[("NETNS", &ns.server)],
    );
    server.wait_for_log("advertising over mDNS", Duration::from_secs(120));
    let mut events = Vec::new();
    let found = browser.until(Duration::from_secs(30), &mut events, |e| {
        has(e, "added", "_https._tcp.local.")
    });
    assert!(found, "not found again: {events:?}\n{}", server.log());
    let https = events.iter().find(|e| e["event"] == "added").unwrap();
    let host = https["server"]
        .as_str()
        .unwrap()
        .trim_end_matches('.')
        .to_string();
    assert!(host.ends_with("-edgellm.local"), "{https}");
    reach(&ns.client, &server, &host);
}

/// `https://<host>:8443/healthz` from the client namespace, trusting only the LAN CA.
fn reach(client_ns: &str, server: &Server, host: &str) {
    let ca = server.state.path().join("ca-for-client.pem");
    std::fs::write(&ca, server.ca_pem()).unwrap();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            client_ns,
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
        ])
        .arg(&ca)
        .args([
            "--resolve",
            &format!("{host}:8443:{SERVER_IP}"),
            &format!("https://{host}:8443/healthz"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "https://{host}:8443/healthz: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
