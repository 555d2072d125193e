//! The reliability battery's CI form (`tests/reliability/battery.py --short`) against the
//! real daemon with its default rate limit: 200 schema-generated hostile requests on both
//! APIs, the schema-compiler class (every case), then a 20 s flood (bursts from 39 loopback addresses, 300 idle TLS connections,
//! slowloris on HTTP/1.1 and HTTP/2, slow readers) during which /healthz must answer in
//! under a second and a normal client is served; greedy answers identical before and after.

mod common;

use std::process::Command;

use common::Server;

/// Run `tests/reliability/<script>` against `server` with `args`; its stdout, once it passed.
fn run_script(server: &Server, script: &str, args: &[&str]) -> String {
    let path = format!("{}/tests/reliability/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(path)
        .args(["--url", &server.url("")])
        .args(args)
        .arg("--ca")
        .arg(server.state.path().join("tls/ca.pem"))
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .expect("python3 runs the script");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{stderr}\n--- server log (tail) ---\n{}",
        server
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    stdout
}

#[test]
fn the_battery_passes_against_the_daemon() {
    let server = Server::start(&["--rate-limit-per-second", "5", "--parallel", "2"]);
    let stdout = run_script(
        &server,
        "battery.py",
        &[
            "--short",
            "--seed",
            "11",
            "--sources",
            "127.0.0.2-127.0.0.40",
        ],
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
    let pid = server.pid().to_string();
    let stdout = run_script(
        &server,
        "stall.py",
        &[
            "--short",
            "--pid",
            &pid,
            "--gap-target",
            "5",
            "--healthz-target",
            "1",
        ],
    );
    assert!(stdout.contains("embedding batch"), "{stdout}");
    assert!(stdout.contains("stall: passed"), "{stdout}");
}
