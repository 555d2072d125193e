//! The reliability battery's CI form (`tests/reliability/battery.py --short`) against the
//! real daemon with its default rate limit: 200 schema-generated hostile requests on both
//! APIs, the schema-compiler class (every case), then a 20 s flood (bursts from 39 loopback addresses, 300 idle TLS connections,
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
    assert!(stdout.contains("schemas: 57 cases"), "{stdout}");
    assert!(stdout.contains("battery: passed"), "{stdout}");
}

/// The stall meter's CI form (`tests/reliability/stall.py --short`): a bystander stream runs
/// while each heavy kind of request is served; none may stop it or /healthz. The bounds here
/// are wider than the meter's own targets (1.5 s, 100 ms) so a loaded CI machine cannot
/// fail it, yet far below what a stall was (an embedding batch stopped every stream for
/// minutes; a deep schema killed the daemon).
#[test]
fn no_heavy_request_stalls_the_other_streams() {
    let server = Server::start(&["--parallel", "2", "--ctx-size", "4096"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reliability/stall.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--url", &server.url(""), "--short"])
        .args(["--pid", &server.pid().to_string()])
        .args(["--gap-target", "5", "--healthz-target", "1"])
        .arg("--ca")
        .arg(server.state.path().join("tls/ca.pem"))
        .output()
        .expect("python3 runs the stall meter");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the stall meter failed:\n{stdout}\n{stderr}\n--- server log (tail) ---\n{}",
        server
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(stdout.contains("embedding batch"), "{stdout}");
    assert!(stdout.contains("stall: passed"), "{stdout}");
}
