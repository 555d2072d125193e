//! The reliability battery's CI form (`tests/reliability/battery.py --short`) against the
//! real daemon with its default rate limit: 200 schema-generated hostile requests on both
//! APIs, then a 20 s flood (bursts from 39 loopback addresses, 300 idle TLS connections,
//! slowloris on HTTP/1.1 and HTTP/2, slow readers) during which /healthz must answer in
//! under a second and a normal client is served; greedy answers identical before and after.

mod common;

use std::process::Command;

use common::Server;

#[test]
fn the_battery_passes_against_the_daemon() {
    let server = Server::start(&["--rate-limit-per-second", "5", "--parallel", "2"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reliability/battery.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--url", &server.url(""), "--short", "--seed", "11"])
        .args(["--sources", "127.0.0.2-127.0.0.40"])
        .arg("--ca")
        .arg(server.state.path().join("tls/ca.pem"))
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .expect("python3 runs the battery");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the battery failed:\n{stdout}\n{stderr}\n--- server log (tail) ---\n{}",
        server
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(stdout.contains("hostile: 200 cases"), "{stdout}");
    assert!(stdout.contains("battery: passed"), "{stdout}");
}
