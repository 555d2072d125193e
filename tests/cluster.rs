//! Several boards behind HAProxy with the shipped `deploy/haproxy/haproxy.cfg`: three real
//! daemons (sharing one LAN CA) on loopback ports, a real HAProxy from Debian in front,
//! real TLS on both sides. Requests spread by session, a conversation sticks to the board
//! holding its KV cache, an overheated board is taken out and comes back, and a board that
//! gets SIGTERM while requests flow fails none of them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, TempDir};
use serde_json::{json, Value};

/// HAProxy, stopped by PID when dropped.
struct Haproxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- haproxy log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh state dir holding board 1's CA, shared the way users do it:
/// `edgellm ca export` on board 1, `edgellm ca import` on the new board.
fn state_with_ca(ca_dir: &Path) -> TempDir {
    let state = TempDir::new("state");
    let bundle = state.path().join("ca-bundle.pem");
    let board1_state = ca_dir.parent().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(common::binary()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "edgellm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "ca",
        "export",
        "--state-dir",
        board1_state.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ]);
    run(&[
        "ca",
        "import",
        bundle.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    std::fs::remove_file(&bundle).unwrap();
    state
}

fn start_haproxy(boards: &[&Server], tls: &Path, dir: &Path) -> Haproxy {
    let port = free_port();
    let cert = dir.join("lb.pem");
    let mut pem = std::fs::read(tls.join("leaf.pem")).unwrap();
    pem.extend(std::fs::read(tls.join("leaf.key")).unwrap());
    std::fs::write(&cert, pem).unwrap();
    let log = dir.join("haproxy.log");
    let mut cmd = Command::new("haproxy");
    cmd.args(["-db", "-f"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/haproxy/haproxy.cfg"
        ))
        .env("EDGELLM_LB_BIND", format!("127.0.0.1:{port}"))
        .env("EDGELLM_LB_CERT", &cert)
        .env("EDGELLM_CA", tls.join("ca.pem"));
    // The shipped file names three boards; fewer boards leave the rest on a closed port,
    // which HAProxy's checks take out.
    for i in 0..3 {
        let port = boards.get(i).map_or_else(free_port, |b| b.port());
        cmd.env(
            format!("EDGELLM_BOARD{}", i + 1),
            format!("127.0.0.1:{port}"),
        );
    }
    let child = cmd
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("haproxy is installed (tests/setup.sh installs it)");
    Haproxy { child, port, log }
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

impl Client {
    fn new(ca: &[u8], port: u16) -> Self {
        let http = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca).unwrap())
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Self {
            http,
            base: format!("https://localhost:{port}"),
        }
    }

    /// A chat through the balancer: (status, board, body).
    fn chat(&self, session: &str, messages: Value, max_tokens: u32) -> (u16, String, Value) {
        let r = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .header("x-session-id", session)
            .json(&json!({ "messages": messages, "temperature": 0, "max_tokens": max_tokens }))
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let node = r
            .headers()
            .get("x-edgellm-node")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, node, r.json().unwrap_or(Value::Null))
    }

    /// Until the balancer answers (it starts in the background).
    fn wait_up(&self) {
        let up = eventually(Duration::from_secs(15), || {
            self.http
                .get(format!("{}/healthz", self.base))
                .send()
                .is_ok_and(|r| r.status() == 200)
        });
        assert!(up, "haproxy did not come up");
    }

    fn node_of(&self, session: &str) -> String {
        let (status, node, body) =
            self.chat(session, json!([{ "role": "user", "content": "Hi" }]), 1);
        assert_eq!(status, 200, "{body}");
        node
    }
}

/// Wait until `cond` holds, checking every 200 ms, at most `limit`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn boards_behind_haproxy_spread_stick_recover_and_drain_without_failures() {
    let _one = common::serial();
    let dir = TempDir::new("lb");
    let sensor = dir.path().join("temp");
    std::fs::write(&sensor, "40000\n").unwrap();
    let flags = |name: &'static str| {
        vec![
            "--node-name",
            name,
            "--threads",
            "1",
            "--parallel",
            "1",
            "--ctx-size",
            "2048",
            "--drain-timeout",
            "30",
            "--trusted-proxy",
            "127.0.0.1/32",
        ]
    };
    let board1 = Server::start(&flags("board1"));
    let tls = board1.state.path().join("tls");
    let board2 = Server::spawn_in(state_with_ca(&tls), &flags("board2"), &[]);
    board2.wait_ready();
    let sensor_arg = sensor.display().to_string();
    let mut f3 = flags("board3");
    f3.extend([
        "--thermal-sensor",
        &sensor_arg,
        "--thermal-limit-celsius",
        "80",
        "--thermal-hysteresis-celsius",
        "5",
        "--thermal-poll-ms",
        "200",
    ]);
    let board3 = Server::spawn_in(state_with_ca(&tls), &f3, &[]);
    board3.wait_ready();
    let mut board2 = board2;
    let lb = start_haproxy(&[&board1, &board2, &board3], &tls, dir.path());
    let client = Client::new(&std::fs::read(tls.join("ca.pem")).unwrap(), lb.port);
    client.wait_up();

    // Spread: different sessions land on different boards.
    let mut by_node: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for i in 0..12 {
        let session = format!("session-{i}");
        by_node
            .entry(client.node_of(&session))
            .or_default()
            .push(session);
    }
    eprintln!("sessions per board: {by_node:?}");
    assert_eq!(by_node.len(), 3, "{by_node:?}");

    // Stickiness: the second turn of a conversation lands on the same board and reuses
    // the first turn's prompt from its KV cache.
    let system = "You are a helpful assistant for a small office. ".repeat(20);
    let turn1 = json!([{ "role": "system", "content": system }, { "role": "user", "content": "Name a colour." }]);
    let (s, n1, r1) = client.chat("conv-a", turn1.clone(), 8);
    assert_eq!(s, 200, "{r1}");
    let answer = r1["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut turn2 = turn1.as_array().unwrap().clone();
    turn2.push(json!({ "role": "assistant", "content": answer }));
    turn2.push(json!({ "role": "user", "content": "And another?" }));
    let t = Instant::now();
    let (s, n2, r2) = client.chat("conv-a", Value::Array(turn2.clone()), 8);
    let sticky_s = t.elapsed().as_secs_f64();
    assert_eq!(s, 200, "{r2}");
    assert_eq!(n1, n2, "the conversation moved boards");
    let cached = r2["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    let prompt = r2["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(
        cached * 10 >= prompt * 8,
        "only {cached} of {prompt} prompt tokens reused"
    );
    // Round robin would send the second turn to another board, which has none of it.
    let other = [
        ("board1", &board1),
        ("board2", &board2),
        ("board3", &board3),
    ]
    .into_iter()
    .find(|(name, _)| *name != n1)
    .unwrap()
    .1;
    let t = Instant::now();
    let direct: Value = other
        .blocking_client()
        .post(other.url("/v1/chat/completions"))
        .json(&json!({ "messages": turn2, "temperature": 0, "max_tokens": 8 }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let other_s = t.elapsed().as_secs_f64();
    eprintln!(
        "second turn through the balancer: {cached}/{prompt} cached, {sticky_s:.3} s; on another board: {} cached, {other_s:.3} s",
        direct["usage"]["prompt_tokens_details"]["cached_tokens"]
    );

    // Streams pass through unbuffered: the first tokens arrive well before the last.
    let started = Instant::now();
    let mut r = client
        .http
        .post(format!("{}/v1/chat/completions", client.base))
        .header("x-session-id", "stream-1")
        .json(&json!({ "messages": [{ "role": "user", "content": "Count from one to forty in words." }],
            "temperature": 0, "max_tokens": 64, "stream": true }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let (mut first, mut chunks, mut buf) = (None, 0, [0u8; 4096]);
    loop {
        let n = std::io::Read::read(&mut r, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        chunks += 1;
        first.get_or_insert_with(|| started.elapsed());
    }
    let (first, total) = (first.unwrap(), started.elapsed());
    eprintln!(
        "stream through haproxy: first bytes after {first:?}, end after {total:?}, {chunks} reads"
    );
    assert!(
        chunks > 5 && first * 3 < total,
        "the stream was buffered: first {first:?}, end {total:?}, {chunks} reads"
    );

    // Too hot: board3 leaves the pool, its sessions go elsewhere; cooled, it comes back.
    let hot_sessions = by_node["board3"].clone();
    std::fs::write(&sensor, "95000\n").unwrap();
    assert!(
        eventually(Duration::from_secs(10), || hot_sessions
            .iter()
            .all(|s| client.node_of(s) != "board3")),
        "an overheated board kept getting requests"
    );
    std::fs::write(&sensor, "40000\n").unwrap();
    assert!(
        eventually(Duration::from_secs(15), || client.node_of(&hot_sessions[0])
            == "board3"),
        "a cooled board did not come back"
    );

    // SIGTERM to board2 while requests flow: none fails; soon none goes to board2.
    let sessions: Vec<String> = (0..24).map(|i| format!("drain-{i}")).collect();
    let worker = {
        let http = client.http.clone();
        let base = client.base.clone();
        let sessions = sessions.clone();
        std::thread::spawn(move || {
            let c = Client { http, base };
            sessions
                .iter()
                .map(|s| {
                    let (status, node, body) = c.chat(
                        s,
                        json!([{ "role": "user", "content": "Count to five." }]),
                        12,
                    );
                    (Instant::now(), status, node, body)
                })
                .collect::<Vec<_>>()
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    Command::new("kill")
        .args(["-TERM", &board2.pid().to_string()])
        .status()
        .unwrap();
    let results = worker.join().unwrap();
    for (_, status, node, body) in &results {
        assert_eq!(
            *status, 200,
            "a request failed during the drain (board {node}): {body}"
        );
    }
    let late: Vec<_> = results
        .iter()
        .filter(|(t, _, node, _)| {
            node == "board2" && t.duration_since(sent) > Duration::from_secs(3)
        })
        .collect();
    assert!(
        late.is_empty(),
        "board2 still got work 3 s after SIGTERM: {}",
        late.len()
    );
    assert!(
        board2.wait_exit(Duration::from_secs(40)).is_some(),
        "board2 did not exit"
    );
    let served: std::collections::BTreeSet<_> = results.iter().map(|r| r.2.clone()).collect();
    eprintln!("boards that served during the drain: {served:?}");
}

/// kubernetes-validate against the bundled Kubernetes schemas, strict (unknown fields are
/// errors). Returns (passed, output).
fn validate(file: &Path) -> (bool, String) {
    let out = Command::new(common::venv_bin("kubernetes-validate"))
        .args(["--strict", "--quiet"])
        .arg(file)
        .output()
        .expect("kubernetes-validate is in the test venv (tests/setup.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn k3s_manifests_pass_schema_validation() {
    let manifest = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/k3s/edgellm.yaml"
    ));
    let (ok, out) = validate(manifest);
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(manifest).unwrap();
    for needed in [
        "kind: DaemonSet",
        "kubernetes.io/arch: arm64",
        "path: /readyz",
        "path: /healthz",
        "secretKeyRef",
        "kind: Service",
        "kind: Ingress",
    ] {
        assert!(text.contains(needed), "the manifest lacks {needed}");
    }
    // The validator catches a wrong type and an unknown field.
    let dir = TempDir::new("k3s");
    for (from, to) in [
        ("containerPort: 8443", "containerPort: \"eighty\""),
        ("nodeSelector:", "nodeSelectr:"),
    ] {
        let broken = dir.path().join("broken.yaml");
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        let (ok, out) = validate(&broken);
        assert!(!ok, "a broken manifest ({to}) passed: {out}");
    }
}

/// Benchmark (prints figures; asserts only that every request succeeded): aggregate
/// tokens/s through HAProxy with one, two and three boards. The boards share this
/// machine's two cores, so the figures show the balancer's overhead and routing, not
/// how boards scale.
#[test]
fn throughput_through_haproxy_with_one_two_and_three_boards() {
    let _one = common::serial();
    let dir = TempDir::new("lb-bench");
    let flags = |name: &'static str| {
        vec![
            "--node-name",
            name,
            "--threads",
            "1",
            "--parallel",
            "2",
            "--ctx-size",
            "2048",
            "--trusted-proxy",
            "127.0.0.1/32",
            // Every test client is 127.0.0.1; a real balancer's clients each get their own 4.
            "--max-client-requests",
            "8",
        ]
    };
    let b1 = Server::start(&flags("board1"));
    let tls = b1.state.path().join("tls");
    let b2 = Server::spawn_in(state_with_ca(&tls), &flags("board2"), &[]);
    b2.wait_ready();
    let b3 = Server::spawn_in(state_with_ca(&tls), &flags("board3"), &[]);
    b3.wait_ready();
    let ca = std::fs::read(tls.join("ca.pem")).unwrap();
    let mut lines = Vec::new();
    for n in 1..=3usize {
        let boards: Vec<&Server> = [&b1, &b2, &b3].into_iter().take(n).collect();
        let lb = start_haproxy(&boards, &tls, dir.path());
        let client = Client::new(&ca, lb.port);
        client.wait_up();
        assert!(eventually(Duration::from_secs(15), || (0..6).all(|i| {
            let (s, node, _) = client.chat(
                &format!("warm-{n}-{i}"),
                json!([{ "role": "user", "content": "Hi" }]),
                1,
            );
            s == 200 && !node.is_empty()
        })));
        let started = Instant::now();
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let c = Client { http: client.http.clone(), base: client.base.clone() };
                std::thread::spawn(move || {
                    let (s, node, body) = c.chat(
                        &format!("bench-{n}-{i}"),
                        json!([{ "role": "user", "content": format!("Write a short poem about the number {i}.") }]),
                        32,
                    );
                    assert_eq!(s, 200, "{body}");
                    (node, body["usage"]["completion_tokens"].as_u64().unwrap_or(0))
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let wall = started.elapsed().as_secs_f64();
        let tokens: u64 = results.iter().map(|r| r.1).sum();
        let nodes: std::collections::BTreeSet<_> = results.iter().map(|r| r.0.clone()).collect();
        lines.push(format!(
            "{n} board(s): {:.1} tok/s aggregate ({tokens} tokens, 6 concurrent requests, {wall:.1} s, served by {nodes:?})",
            tokens as f64 / wall
        ));
    }
    eprintln!("throughput through haproxy:\n  {}", lines.join("\n  "));
}
