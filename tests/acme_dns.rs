//! ACME DNS-01 end to end, no inbound port: Pebble validates only through DNS (its TLS and
//! HTTP validation ports point where nothing listens). RFC 2136 against a real BIND9 with a
//! TSIG key from `tsig-keygen`, and a hook writing into pebble-challtestsrv; issuance,
//! wildcard, record removal, renewal while serving, and failures (bad key, failing hook, an
//! order past its time limit, whose records are still removed).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::acme::{free_port, not_after, served_cert, served_text, wait_for_cert, Pebble, DOMAIN};
use common::{Server, TempDir};

const RECORD: &str = "_acme-challenge.llm.edgellm.test";

/// BIND9 as the authoritative primary of `edgellm.test`, accepting TXT updates signed with
/// one TSIG key; stopped by PID on drop.
struct Bind {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl Bind {
    fn start() -> Bind {
        let dir = TempDir::new("bind");
        let port = free_port();
        let d = dir.path().display().to_string();
        let key = keygen("edgellm-acme");
        std::fs::write(dir.path().join("key.conf"), &key).unwrap();
        std::fs::write(
            dir.path().join("edgellm.test.zone"),
            "$TTL 60\n@ IN SOA ns.edgellm.test. hostmaster.edgellm.test. 1 60 60 600 60\n\
             @ IN NS ns.edgellm.test.\nns IN A 127.0.0.1\nllm IN A 127.0.0.1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("named.conf"),
            format!(
                "include \"{d}/key.conf\";\n\
                 options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n\
                 pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\";\n\
                 recursion no; dnssec-validation no; allow-query {{ any; }}; notify no; }};\n\
                 controls {{ }};\n\
                 zone \"edgellm.test\" {{ type primary; file \"{d}/edgellm.test.zone\";\n\
                 update-policy {{ grant edgellm-acme zonesub TXT; }}; }};\n"
            ),
        )
        .unwrap();
        let child = Command::new("named")
            .args(["-g", "-n", "1", "-c"])
            .arg(dir.path().join("named.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("named.log")).unwrap())
            .spawn()
            .expect("named (Debian package bind9) is installed by tests/setup.sh");
        let bind = Bind { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while dig(bind.addr(), "SOA", "edgellm.test").is_empty() {
            assert!(
                Instant::now() < deadline,
                "named did not start:\n{}",
                bind.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        bind
    }

    fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.conf")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TSIG key file as BIND's own tool writes it.
fn keygen(name: &str) -> String {
    let out = Command::new("tsig-keygen")
        .args(["-a", "hmac-sha256", name])
        .output()
        .expect("tsig-keygen (Debian package bind9-utils) is installed by tests/setup.sh");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The answers `dig` gets from `server` (empty on no answer).
fn dig(server: SocketAddr, kind: &str, name: &str) -> Vec<String> {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "+short",
            "+time=2",
            "+tries=1",
            kind,
            name,
        ])
        .output()
        .expect("dig (Debian package bind9-dnsutils) is installed by tests/setup.sh");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.trim().trim_matches('"').to_string())
        .collect()
}

/// Wait until `server` has no TXT record at the challenge name.
fn wait_record_gone(server: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = dig(server, "TXT", RECORD);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the challenge record stayed: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Pebble with only DNS-01 possible: its TLS-ALPN and HTTP validation ports are closed.
fn pebble_dns_only(validity: Duration, dns_server: Option<SocketAddr>) -> Pebble {
    let mut pebble = Pebble::prepare(free_port(), validity);
    pebble.dns_server = dns_server.map(|a| a.to_string());
    pebble.run();
    pebble
}

fn dns01_args(listen: &str, pebble: &Pebble) -> Vec<String> {
    [
        "--listen",
        listen,
        "--tls",
        "acme",
        "--acme-challenge",
        "dns-01",
        "--acme-domain",
        DOMAIN,
        "--acme-contact",
        "ops@example.org",
        "--acme-directory",
        &pebble.directory(),
        "--acme-ca-file",
        &pebble.ca_file().display().to_string(),
        "--parallel",
        "1",
        "--ctx-size",
        "512",
    ]
    .map(String::from)
    .to_vec()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Issuance, then a renewal two thirds into Pebble's 30 s validity, while serving.
fn issues_and_renews(
    server: &Server,
    addr: SocketAddr,
    root: &[u8],
    record_at: SocketAddr,
) -> Vec<u8> {
    let first = wait_for_cert(addr, root, Duration::from_secs(60), None);
    assert!(
        not_after(&first) - now() <= 35,
        "Pebble's validity was not used"
    );
    wait_record_gone(record_at);
    let renewed = wait_for_cert(addr, root, Duration::from_secs(60), Some(&first));
    assert!(not_after(&renewed) > not_after(&first));
    wait_record_gone(record_at);
    let log = server.log();
    assert!(log.contains("challenge record visible"), "{log}");
    assert!(log.contains("certificate issued by DNS-01"), "{log}");
    assert!(!log.contains("certificate order failed"), "{log}");
    renewed
}

#[test]
fn rfc2136_with_bind_issues_a_wildcard_certificate_removes_the_record_and_renews() {
    let _serial = common::serial();
    let bind = Bind::start();
    let pebble = pebble_dns_only(Duration::from_secs(30), Some(bind.addr()));
    let root = pebble.root();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut args = dns01_args(&addr.to_string(), &pebble);
    args.extend(
        [
            "--acme-domain",
            &format!("*.{DOMAIN}"),
            "--acme-dns-server",
            &bind.addr().to_string(),
            "--acme-dns-tsig-key",
            &bind.key_file().display().to_string(),
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::spawn_env(&args, &[]);
    issues_and_renews(&server, addr, &root, bind.addr());
    // The wildcard is in the certificate: another name under it verifies too.
    served_cert(addr, &format!("chat.{DOMAIN}"), &root).expect("wildcard name");
    // Both values (base name and wildcard share the record name) went through BIND.
    let named = bind.log();
    assert!(
        named
            .matches("adding an RR at '_acme-challenge.llm.edgellm.test' TXT")
            .count()
            >= 4,
        "{named}"
    );
    let m = served_text(addr, &root, "/metrics");
    assert!(
        common::metric(&m, "edgellm_acme_certificates_deployed_total") >= 2.0,
        "{m}"
    );
    assert_eq!(
        common::metric(&m, "edgellm_acme_failures_total"),
        0.0,
        "{m}"
    );
}

/// A hook that writes into pebble-challtestsrv's management API, and logs its calls.
fn write_hook(dir: &Path) -> PathBuf {
    let hook = dir.join("challtestsrv-hook");
    std::fs::write(
        &hook,
        r#"#!/usr/bin/env python3
import json, os, sys, urllib.request
action, name, value = sys.argv[1:4]
body = {"host": name + "."}
if action == "set":
    body["value"] = value
path = "/set-txt" if action == "set" else "/clear-txt"
urllib.request.urlopen(urllib.request.Request(
    os.environ["CHALLTESTSRV"] + path, data=json.dumps(body).encode(), method="POST"))
with open(os.environ["HOOK_LOG"], "a") as f:
    f.write(f"{action} {name} {value}\n")
print(f"{action} {name}: done")
"#,
    )
    .unwrap();
    make_executable(&hook);
    hook
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_hook_publishes_the_record_which_is_checked_removed_and_renewed() {
    let _serial = common::serial();
    let pebble = pebble_dns_only(Duration::from_secs(30), None);
    let root = pebble.root();
    let challtestsrv: SocketAddr = ([127, 0, 0, 1], pebble.dns_port).into();
    let hooks = TempDir::new("hooks");
    let hook = write_hook(hooks.path());
    let hook_log = hooks.path().join("calls.log");
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut args = dns01_args(&addr.to_string(), &pebble);
    args.extend(
        [
            "--acme-dns-hook",
            &hook.display().to_string(),
            "--acme-dns-resolver",
            &challtestsrv.to_string(),
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::spawn_env(
        &args,
        &[
            (
                "CHALLTESTSRV",
                &format!("http://127.0.0.1:{}", pebble.chall_mgmt),
            ),
            ("HOOK_LOG", &hook_log.display().to_string()),
        ],
    );
    let renewed = issues_and_renews(&server, addr, &root, challtestsrv);
    // Two orders: set then unset with the same value, each time.
    let calls = std::fs::read_to_string(&hook_log).unwrap();
    let calls: Vec<Vec<&str>> = calls.lines().map(|l| l.split(' ').collect()).collect();
    assert!(calls.len() >= 4, "{calls:?}");
    for pair in calls[..4].chunks(2) {
        assert_eq!(pair[0][..2], ["set", RECORD], "{calls:?}");
        assert_eq!(pair[1][..2], ["unset", RECORD], "{calls:?}");
        assert_eq!(pair[0][2], pair[1][2], "{calls:?}");
        assert_eq!(
            pair[0][2].len(),
            43,
            "a DNS-01 value is 43 base64url characters"
        );
    }
    assert_ne!(calls[0][2], calls[2][2], "a renewal gets a new challenge");
    // The hook's output reaches the daemon's log.
    assert!(server.log().contains("done"), "{}", server.log());

    // A restart serves the cached certificate at once, without a new order.
    let env = [
        (
            "CHALLTESTSRV",
            format!("http://127.0.0.1:{}", pebble.chall_mgmt),
        ),
        ("HOOK_LOG", hook_log.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::spawn_in(server.stop_keep_state(), &args, &env);
    let again = wait_for_cert(addr, &root, Duration::from_secs(20), None);
    assert_eq!(
        again, renewed,
        "a restart should serve the cached certificate"
    );
    assert!(
        !server.log().contains("challenge record published"),
        "a restart ordered a new certificate:\n{}",
        server.log()
    );
}

/// The LAN certificate serves, the failure is logged, counted and shown in /readyz, and
/// retries wait 1 s, 2 s, 2 s ... under `--acme-retry-max-seconds 2`.
fn fails_and_retries_at_the_cap(extra: &[&str], expected_error: &str) {
    let pebble = pebble_dns_only(Duration::from_secs(3600), None);
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut args = dns01_args(&addr.to_string(), &pebble);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--acme-retry-max-seconds".into(), "2".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The hook gets the daemon's environment but not its EDGELLM_ settings.
    let server = Server::start_env(
        &args,
        &[("EDGELLM_TEST_SECRET", "s3cret"), ("DUCKDNS_TOKEN", "tok")],
    );
    served_cert(addr, "localhost", &server.ca_pem()).expect("the LAN certificate serves");
    let deadline = Instant::now() + Duration::from_secs(40);
    while common::metric(&server.metrics(), "edgellm_acme_failures_total") < 4.0 {
        assert!(
            Instant::now() < deadline,
            "fewer than 4 failures:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = server.log();
    assert!(log.contains("certificate order failed"), "{log}");
    assert!(log.contains(expected_error), "{log}");
    let waits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("certificate order failed"))
        .filter_map(|l| l.split("retry_in_secs=").nth(1))
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("")
        })
        .collect();
    assert!(waits.len() >= 4, "{log}");
    assert_eq!(waits[..4], ["1", "2", "2", "2"], "{log}");
    let ready: serde_json::Value = server
        .blocking_client()
        .get(server.url("/readyz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    // The probe (no key) says that ordering fails, not how; /status has the details.
    assert!(
        ready["acme_error"].as_str().is_some_and(
            |e| e.contains("ordering a certificate fails") && !e.contains(expected_error)
        ),
        "{ready}"
    );
    let status: serde_json::Value = server
        .blocking_client()
        .get(server.url("/status"))
        .header("accept", "application/json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        status["certificate"]["acme"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(expected_error)),
        "{status}"
    );
    // Still the LAN certificate.
    served_cert(addr, "localhost", &server.ca_pem()).expect("the LAN certificate still serves");
}

#[test]
fn a_bad_key_a_failing_hook_or_an_order_past_its_limit_keeps_the_lan_certificate_retries_and_cleans_up(
) {
    let _serial = common::serial();
    let bind = Bind::start();
    // Same key name, another secret.
    let wrong = TempDir::new("wrong-key");
    let wrong_key = wrong.path().join("key.conf");
    std::fs::write(&wrong_key, keygen("edgellm-acme")).unwrap();
    fails_and_retries_at_the_cap(
        &[
            "--acme-dns-server",
            &bind.addr().to_string(),
            "--acme-dns-tsig-key",
            &wrong_key.display().to_string(),
        ],
        "the server did not accept the TSIG key",
    );
    assert!(dig(bind.addr(), "TXT", RECORD).is_empty());

    let hook = wrong.path().join("failing-hook");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho \"DuckDNS answered KO secret=${EDGELLM_TEST_SECRET:-none} token=${DUCKDNS_TOKEN:-none}\" >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&hook);
    fails_and_retries_at_the_cap(
        &[
            "--acme-dns-hook",
            &hook.display().to_string(),
            "--acme-dns-resolver",
            "127.0.0.1:9",
        ],
        "DuckDNS answered KO secret=none token=tok",
    );

    // An order past --acme-order-timeout-seconds (the record never becomes visible): each
    // published record is still removed.
    let calls = wrong.path().join("calls.log");
    let hook = wrong.path().join("logging-hook");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho \"$1 $2 $3\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    make_executable(&hook);
    fails_and_retries_at_the_cap(
        &[
            "--acme-dns-hook",
            &hook.display().to_string(),
            "--acme-dns-resolver",
            "127.0.0.1:9",
            "--acme-dns-wait-seconds",
            "120",
            "--acme-order-timeout-seconds",
            "3",
        ],
        "the order took longer than 3 s",
    );
    let calls = std::fs::read_to_string(&calls).unwrap();
    let calls: Vec<Vec<&str>> = calls.lines().map(|l| l.split(' ').collect()).collect();
    // Four orders ran out of time; the last line may be a fifth order's set.
    assert!(calls.len() >= 6, "{calls:?}");
    for pair in calls[..calls.len() / 2 * 2].chunks(2) {
        assert_eq!(pair[0][..2], ["set", RECORD], "{calls:?}");
        assert_eq!(pair[1][..2], ["unset", RECORD], "{calls:?}");
        assert_eq!(pair[0][2], pair[1][2], "{calls:?}");
    }
}

/// A plain-HTTP stand-in for a DNS provider's API on 127.0.0.1: records each request as
/// "METHOD PATH BODY" and answers with `reply(method, path)`.
fn provider_api(
    reply: fn(&str, &str) -> String,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            log.lock().unwrap().push(format!(
                "{method} {path} {}",
                String::from_utf8_lossy(&body)
            ));
            let answer = reply(&method, &path);
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, seen)
}

fn run_hook(hook: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/dns-hooks")
            .join(hook),
    )
    .args(args)
    .envs(env.iter().copied())
    .output()
    .unwrap()
}

#[test]
fn the_example_hooks_speak_their_providers_apis() {
    const VALUE: &str = "Yt3q0yQkz9X1AQqHc0m5C3bK2hP8S4uWv6xN7dE0fGs";
    // DuckDNS: set and clear the TXT of the DuckDNS subdomain; a KO is a failure.
    let (url, seen) = provider_api(|_, path| {
        if path.contains("token=good") {
            "OK".into()
        } else {
            "KO".into()
        }
    });
    let duck = format!("{url}/update");
    let record = "_acme-challenge.mybox.duckdns.org";
    for action in ["set", "unset"] {
        let out = run_hook(
            "duckdns",
            &[action, record, VALUE],
            &[("DUCKDNS_TOKEN", "good"), ("DUCKDNS_URL", &duck)],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let out = run_hook(
        "duckdns",
        &["set", record, VALUE],
        &[("DUCKDNS_TOKEN", "bad"), ("DUCKDNS_URL", &duck)],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DuckDNS answered 'KO'"),
        "{out:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[..2],
        [
            format!("GET /update?domains=mybox&token=good&txt={VALUE} "),
            "GET /update?domains=mybox&token=good&txt=removed&clear=true ".to_string()
        ]
    );
    let out = run_hook(
        "duckdns",
        &["set", record, VALUE],
        &[("DUCKDNS_URL", &duck)],
    );
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("DUCKDNS_TOKEN")
    );

    // Cloudflare: find the zone by walking up the name, add the record, and on unset delete
    // only the record holding our value.
    let (api, seen) = provider_api(|method, path| {
        let zone = "0123456789abcdef0123456789abcdef";
        let ours = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let other = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        match (method, path) {
            ("GET", p) if p.starts_with("/zones?name=home.example.org") => {
                format!(
                    r#"{{"result":[{{"id":"{zone}","name":"home.example.org","account":{{"id":"ffffffffffffffffffffffffffffffff"}}}}]}}"#
                )
            }
            ("GET", p) if p.starts_with("/zones?") => r#"{"result":[]}"#.into(),
            ("GET", p) if p.contains("/dns_records?") => {
                format!(
                    r#"{{"result":[{{"id":"{other}","zone_id":"{zone}"}},{{"id":"{ours}","zone_id":"{zone}"}}]}}"#
                )
            }
            ("GET", p) if p.ends_with(ours) => {
                format!(r#"{{"result":{{"content":"\"{VALUE}\""}}}}"#)
            }
            ("GET", _) => r#"{"result":{"content":"\"another-value\""}}"#.into(),
            _ => r#"{"success":true}"#.into(),
        }
    });
    let record = "_acme-challenge.llm.home.example.org";
    for action in ["set", "unset"] {
        let out = run_hook(
            "cloudflare",
            &[action, record, VALUE],
            &[("CF_API_TOKEN", "t"), ("CF_API_URL", &api)],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let seen = seen.lock().unwrap().clone();
    let zone = "0123456789abcdef0123456789abcdef";
    assert_eq!(seen[0], "GET /zones?name=llm.home.example.org ");
    assert_eq!(seen[1], "GET /zones?name=home.example.org ");
    assert!(
        seen[2].starts_with(&format!("POST /zones/{zone}/dns_records ")),
        "{seen:?}"
    );
    let created: serde_json::Value = serde_json::from_str(
        seen[2]
            .split_once(' ')
            .unwrap()
            .1
            .split_once(' ')
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(created["name"], record);
    assert_eq!(created["content"], format!("\"{VALUE}\""));
    let deletes: Vec<&String> = seen.iter().filter(|s| s.starts_with("DELETE")).collect();
    assert_eq!(
        deletes,
        [&format!(
            "DELETE /zones/{zone}/dns_records/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
        )],
        "{seen:?}"
    );
}
