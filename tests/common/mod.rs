//! Test harness: start the real `edgellm` binary with the real model over real TLS, and
//! talk to it with a real HTTP client that trusts only the server's own CA.
//!
//! Every server is stopped by PID when its [`Server`] drops, also when a test fails, and
//! servers run one at a time (a global lock), because two engines on two cores starve each
//! other.
#![allow(dead_code)]

pub mod acme;
pub mod raw;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Log files are numbered so a restart in the same state dir keeps the earlier log.
static LOG_N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One model-serving process at a time.
static ONE_SERVER: Mutex<()> = Mutex::new(());

thread_local! {
    static HELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Holds the one-server lock; re-entrant within a thread, so a test that starts several
/// servers in turn (restarts) can hold it throughout with [`serial`].
pub struct Serial(Option<MutexGuard<'static, ()>>);

/// Run the rest of this test alone (no other test's server in between restarts).
pub fn serial() -> Serial {
    if HELD.with(|h| h.get()) {
        return Serial(None);
    }
    let guard = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
    HELD.with(|h| h.set(true));
    Serial(Some(guard))
}

impl Drop for Serial {
    fn drop(&mut self) {
        if self.0.is_some() {
            HELD.with(|h| h.set(false));
        }
    }
}

/// How long a server may take to bind and load the model.
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_edgellm")
}

/// The test model; the suite fails (never skips) without it.
pub fn model_path() -> PathBuf {
    let path = std::env::var_os("EDGELLM_TEST_MODEL").map(PathBuf::from).unwrap_or_else(|| {
        panic!("EDGELLM_TEST_MODEL is not set: run `bash tests/fetch-model.sh` and export its output")
    });
    assert!(
        path.exists(),
        "EDGELLM_TEST_MODEL={} does not exist",
        path.display()
    );
    path
}

/// A fresh directory under the target dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("edgellm-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.0.as_os_str().is_empty() {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running daemon.
pub struct Server {
    child: Child,
    pub addr: String,
    pub state: TempDir,
    stopped: bool,
    log: PathBuf,
    _lock: Serial,
}

/// Test defaults, as env vars so a test's own flags override them: few threads, a small
/// context, one slot.
pub const DEFAULT_ENV: &[(&str, &str)] = &[
    ("EDGELLM_THREADS", "2"),
    ("EDGELLM_CTX_SIZE", "2048"),
    ("EDGELLM_PARALLEL", "1"),
    // Tests send bursts of requests; the rate-limit test turns it on with flags.
    ("EDGELLM_RATE_LIMIT_PER_SECOND", "0"),
    ("OMP_WAIT_POLICY", "PASSIVE"),
    ("EDGELLM_LOG_LEVEL", "info,edgellm_engine=debug"),
    ("NO_COLOR", "1"),
];

impl Server {
    /// Start with the test model and `extra` flags,
    /// and wait until it serves.
    pub fn start(extra: &[&str]) -> Server {
        let server = Server::spawn(extra);
        server.wait_ready();
        server
    }

    /// Start with extra environment variables, and wait until it serves.
    pub fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let server = Server::spawn_env(extra, env);
        server.wait_ready();
        server
    }

    /// Start without waiting for readiness.
    pub fn spawn(extra: &[&str]) -> Server {
        Server::spawn_env(extra, &[])
    }

    /// Start without waiting for readiness, with extra environment variables.
    pub fn spawn_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn_in(TempDir::new("state"), extra, env)
    }

    /// Start in an existing state directory (e.g. to restart with the same certificates).
    pub fn spawn_in(state: TempDir, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let lock = serial();
        let log = state.path().join(format!(
            "server-{}.log",
            LOG_N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        // A read-only state dir (fault tests) gets its log next to it instead.
        let (log, log_file) = match std::fs::File::create(&log) {
            Ok(f) => (log, f),
            Err(_) => {
                let elsewhere = std::env::temp_dir().join(format!(
                    "edgellm-test-log-{}-{}.log",
                    std::process::id(),
                    LOG_N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                let f = std::fs::File::create(&elsewhere).unwrap();
                (elsewhere, f)
            }
        };
        let model = model_path();
        let mut args: Vec<String> = vec!["serve".into()];
        if !extra.contains(&"--model") {
            args.extend(["--model".into(), model.display().to_string()]);
        }
        if !extra.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"].map(String::from));
        }
        args.push("--state-dir".into());
        args.push(state.path().display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        // `WATCHDOG_PID=self` becomes the daemon's own PID, as systemd sets it: a shell
        // exports its PID and execs the daemon in its place.
        // `NETNS=<name>` runs the daemon inside that network namespace (`ip netns exec`
        // execs it, so the PID is the daemon's).
        let netns = env.iter().find(|&&(k, _)| k == "NETNS").map(|&(_, v)| v);
        let mut command = if let Some(ns) = netns {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, binary()]);
            c
        } else if env.iter().any(|&(k, v)| k == "WATCHDOG_PID" && v == "self") {
            let mut c = Command::new("sh");
            c.args([
                "-c",
                "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" \"$@\"",
                binary(),
            ]);
            c
        } else {
            Command::new(binary())
        };
        let env: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .filter(|&(k, _)| k != "WATCHDOG_PID" && k != "NETNS")
            .collect();
        let child = command
            .args(&args)
            .envs(DEFAULT_ENV.iter().copied())
            .envs(env)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start edgellm");
        let mut server = Server {
            child,
            addr: String::new(),
            state,
            stopped: false,
            log,
            _lock: lock,
        };
        let addr = server.wait_for_log("listening on https://", START_TIMEOUT);
        // Text logs end the address at a space, JSON logs at a quote.
        server.addr = addr.split('"').next().unwrap_or_default().to_owned();
        server
    }

    /// Wait until a log line containing `needle` appears; returns the rest of that line's
    /// first word after the needle.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if let Some(at) = log.find(needle) {
                let rest = &log[at + needle.len()..];
                return rest.split_whitespace().next().unwrap_or("").to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("edgellm exited ({status}) before '{needle}':\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "no '{needle}' after {timeout:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_ready(&self) {
        self.wait_ready_at(&self.url("/readyz"));
    }

    /// Poll a readiness URL until it answers 200.
    pub fn wait_ready_at(&self, url: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = self.blocking_client();
        loop {
            if let Ok(r) = client.get(url).send() {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "not ready after {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// URL by name, so the certificate's DNS name is checked.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port())
    }

    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.state.path().join("tls/ca.pem")).expect("the LAN CA exists")
    }

    /// A client that trusts only this server's CA.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem()).unwrap())
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
    }

    /// An async client that trusts this server's CA and connects from `source`
    /// (a loopback address such as 127.0.0.2), to act as another client.
    pub fn client_from(&self, source: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem()).unwrap())
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
    }

    /// POST a streamed chat and return the response once its first chunk has arrived.
    pub async fn stream_started(&self, body: &serde_json::Value) -> reqwest::Response {
        let mut r = self
            .client()
            .post(self.url("/v1/chat/completions"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.chunk().await.unwrap();
        r
    }

    pub fn blocking_client(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem()).unwrap())
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
    }

    /// POST a JSON body with this server's own client.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::blocking::Response {
        self.blocking_client()
            .post(self.url(path))
            .json(body)
            .send()
            .unwrap()
    }

    /// POST a JSON body; the status and the JSON answer.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = self.post(path, body);
        (r.status().as_u16(), r.json().unwrap())
    }

    /// POST a JSON body; the status and the answer as text (NDJSON, SSE, ...).
    pub fn post_text(&self, path: &str, body: &serde_json::Value) -> (u16, String) {
        let r = self.post(path, body);
        (r.status().as_u16(), r.text().unwrap())
    }

    /// GET `path`; the status and the JSON answer.
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.blocking_client().get(self.url(path)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap())
    }

    /// `/metrics` as text, fetched with this server's own client.
    pub fn metrics(&self) -> String {
        self.blocking_client()
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (up to `limit`) for the process to exit by itself; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (up to `limit`) for the process to end, by exit or signal; true if it did.
    pub fn ended_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Send SIGTERM and wait for the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// Stop the process and keep its state directory, to start again in it.
    pub fn stop_keep_state(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stopped = true;
        std::mem::replace(&mut self.state, TempDir(PathBuf::new()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() && !self.stopped {
            eprintln!("--- edgellm log ---\n{}", self.log());
        }
    }
}

/// Read an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .map(|s| s.trim().to_string())
        .collect()
}

/// A chat body with greedy decoding.
pub fn greedy_chat(content: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({
        "messages": [{ "role": "user", "content": content }],
        "temperature": 0,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

/// The value of a metric line (first series whose name matches exactly) in Prometheus text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Concatenated `delta.content` of an OpenAI SSE body.
pub fn streamed_content(raw: &str) -> String {
    sse_data(raw)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// A file under `$CARGO_TARGET_DIR/test-artifacts` (screenshots kept after the run).
pub fn artifact(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| "target".into());
    let artifacts = target.join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    artifacts.join(name)
}

/// Run `tests/web/<script>` (playwright-core driving Debian's Chromium) against `server`
/// with `args` after the base URL; it must succeed. Returns the JSON on its last line.
pub fn run_browser_script(
    script: &str,
    server: &Server,
    args: &[&std::ffi::OsStr],
) -> serde_json::Value {
    let out = Command::new("node")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/web")
                .join(script),
        )
        .arg(format!("https://localhost:{}", server.port()))
        .args(args)
        .output()
        .expect("node runs (tests/setup.sh installs playwright-core and chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// A program in the test venv (tests/setup.sh creates it): `python`, `kubernetes-validate`.
pub fn venv_bin(name: &str) -> String {
    let home = std::env::var("HOME").unwrap();
    let venv = std::env::var("EDGELLM_TEST_VENV")
        .unwrap_or_else(|_| format!("{home}/.cache/edgellm/venv"));
    format!("{venv}/bin/{name}")
}

/// Run `tests/clients/<script>` with the venv's Python against `server` (base URL and CA
/// as arguments); it must succeed. Returns the JSON object on its last line of output.
pub fn run_client_script(script: &str, server: &Server) -> serde_json::Value {
    let out = Command::new(venv_bin("python"))
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/clients")
                .join(script),
        )
        .arg(format!("https://localhost:{}", server.port()))
        .arg(server.state.path().join("tls/ca.pem"))
        .output()
        .expect("the test venv exists (tests/setup.sh creates it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}
