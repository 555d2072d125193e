//! Self-provisioned HTTPS end to end: ACME against a real Pebble with real TLS-ALPN-01
//! validation (issuance, restart from cache, renewal, CA down at start), the LAN CA, files
//! with hot reload, and the HTTP redirect.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::acme::{free_port, not_after, served_cert, served_text, wait_for_cert, Pebble, DOMAIN};
use common::{Server, TempDir};

fn acme_args<'a>(listen: &'a str, directory: &'a str, ca_file: &'a str) -> Vec<&'a str> {
    vec![
        "--listen",
        listen,
        "--tls",
        "acme",
        "--acme-domain",
        DOMAIN,
        "--acme-contact",
        "ops@example.org",
        "--acme-directory",
        directory,
        "--acme-ca-file",
        ca_file,
        "--parallel",
        "1",
        "--ctx-size",
        "512",
    ]
}

#[test]
fn acme_issues_restarts_from_cache_and_renews_without_a_restart() {
    let _serial = common::serial();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let pebble = Pebble::start(port, Duration::from_secs(90));
    let root = pebble.root();
    let (listen, dir, ca) = (
        format!("127.0.0.1:{port}"),
        pebble.directory(),
        pebble.ca_file().display().to_string(),
    );
    let args = acme_args(&listen, &dir, &ca);

    let server = Server::spawn_env(&args, &[]);
    let first = wait_for_cert(addr, &root, Duration::from_secs(60), None);
    let left = not_after(&first)
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
    assert!(
        left <= 95,
        "Pebble's short validity was not used ({left} s left)"
    );
    assert!(server.log().contains("DeployedNewCert"), "{}", server.log());
    let key_mode = {
        use std::os::unix::fs::PermissionsExt;
        let acme_dir = server.state.path().join("acme");
        assert_eq!(
            std::fs::metadata(&acme_dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::read_dir(&acme_dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().permissions().mode() & 0o777)
            .collect::<Vec<_>>()
    };
    assert!(
        !key_mode.is_empty() && key_mode.iter().all(|&m| m == 0o600),
        "{key_mode:?}"
    );

    // Restart with the cache: the same certificate at once, no new order.
    let state = server.stop_keep_state();
    let server = Server::spawn_in(state, &args, &[]);
    let again = wait_for_cert(addr, &root, Duration::from_secs(20), None);
    assert_eq!(
        again, first,
        "a restart should serve the cached certificate"
    );
    let restart_log = server.log();
    assert!(restart_log.contains("DeployedCachedCert"), "{restart_log}");
    assert!(
        !restart_log.contains("DeployedNewCert"),
        "a restart ordered a new certificate:\n{restart_log}"
    );

    // Renewal at two thirds of the 90 s validity, while the daemon keeps serving.
    let renewed = wait_for_cert(addr, &root, Duration::from_secs(100), Some(&first));
    assert!(not_after(&renewed) > not_after(&first));
    assert!(server.log().contains("DeployedNewCert"));
    let r = server.blocking_client().get(server.url("/healthz")).send();
    assert!(r.is_err() || r.unwrap().status() == 200);
    drop(server);
}

#[test]
fn with_the_ca_down_at_start_the_lan_certificate_serves_until_acme_succeeds() {
    let _serial = common::serial();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut pebble = Pebble::prepare(port, Duration::from_secs(3600));
    let (listen, dir, ca) = (
        format!("127.0.0.1:{port}"),
        pebble.directory(),
        pebble.ca_file().display().to_string(),
    );
    let mut args = acme_args(&listen, &dir, &ca);
    args.extend(["--acme-retry-max-seconds", "2"]);
    let started = Instant::now();
    let server = Server::start(&args);
    // The LAN certificate is served while the CA is unreachable, and the failure is logged.
    let lan = served_cert(addr, "localhost", &server.ca_pem())
        .expect("the LAN certificate is served while the CA is down");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log().contains("certificate order failed") {
        assert!(
            Instant::now() < deadline,
            "no failure logged:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // /readyz and /status name the source and the CA's error while it is down.
    let client = server.blocking_client();
    let ready: serde_json::Value = client
        .get(server.url("/readyz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["certificate"], "acme", "{ready}");
    assert!(
        ready["acme_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{ready}"
    );
    let status: serde_json::Value = client
        .get(server.url("/status"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        status["certificate"]["serving"], "lan (until ACME succeeds)",
        "{status}"
    );
    assert!(
        status["certificate"]["acme"]["failures"].as_u64().unwrap() >= 1,
        "{status}"
    );
    // The CA stays down for 20 s: rustls-acme's own doubling would now wait 16 s before its
    // next attempt; with the retry capped at 2 s the certificate follows the CA's return at
    // once.
    std::thread::sleep(Duration::from_secs(20).saturating_sub(started.elapsed()));
    pebble.run();
    let root = pebble.root();
    let acme = wait_for_cert(addr, &root, Duration::from_secs(9), None);
    assert_ne!(acme, lan);
    // Once a certificate is issued the error is gone.
    let ready: serde_json::Value = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&root).unwrap())
        .resolve(DOMAIN, addr)
        .build()
        .unwrap()
        .get(format!("https://{DOMAIN}:{}/readyz", addr.port()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(ready["acme_error"].is_null(), "{ready}");
    // Operators see both in the metrics.
    let m = served_text(addr, &root, "/metrics");
    assert!(
        common::metric(&m, "edgellm_acme_failures_total") >= 1.0,
        "{m}"
    );
    assert!(
        common::metric(&m, "edgellm_acme_certificates_deployed_total") >= 1.0,
        "{m}"
    );
}

#[test]
fn the_lan_ca_validates_every_local_name_and_survives_a_restart() {
    let _serial = common::serial();
    let server = Server::start(&["--ctx-size", "512"]);
    let ca = server.ca_pem();
    let addr: SocketAddr = ([127, 0, 0, 1], server.port()).into();
    for host in ["localhost", "127.0.0.1"] {
        served_cert(addr, host, &ca).unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    let fingerprint = Command::new(common::binary())
        .args(["ca", "show", "--state-dir"])
        .arg(server.state.path())
        .output()
        .unwrap()
        .stdout;
    let state = server.stop_keep_state();
    // Again on ::1, in the same state dir.
    let server = Server::spawn_in(state, &["--listen", "[::1]:0", "--ctx-size", "512"], &[]);
    server.wait_ready_at(&format!("https://[::1]:{}/readyz", server.port()));
    let v6: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, server.port()).into();
    served_cert(v6, "::1", &server.ca_pem()).expect("::1 validates against the LAN CA");
    let after = Command::new(common::binary())
        .args(["ca", "show", "--state-dir"])
        .arg(server.state.path())
        .output()
        .unwrap()
        .stdout;
    assert_eq!(fingerprint, after, "the CA changed across a restart");
    assert_eq!(server.ca_pem(), ca);
}

#[test]
fn the_lan_leaf_is_reissued_while_serving_and_the_ca_is_name_constrained() {
    let _serial = common::serial();
    // A 6 s leaf, re-checked every second: renewed when 2 s are left, without a restart.
    let mut server = Server::start(&[
        "--ctx-size",
        "512",
        "--lan-leaf-lifetime",
        "6",
        "--lan-recheck",
        "1",
    ]);
    let ca = server.ca_pem();
    let addr: SocketAddr = ([127, 0, 0, 1], server.port()).into();
    let first = served_cert(addr, "localhost", &ca).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = vec![first.clone()];
    while seen.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the leaf was not reissued:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(500));
        // Every handshake validates against the same CA, before and after each renewal.
        let der =
            served_cert(addr, "localhost", &ca).unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
        if der != *seen.last().unwrap() {
            assert!(not_after(&der) > not_after(seen.last().unwrap()));
            seen.push(der);
        }
    }
    server.wait_for_log("LAN certificate reissued", Duration::from_secs(1));
    // The CA the daemon created can sign only for home-network names and addresses.
    let pem = String::from_utf8(ca).unwrap();
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let constraints = cert
        .name_constraints()
        .unwrap()
        .expect("name constraints")
        .value;
    let permitted = format!("{:?}", constraints.permitted_subtrees);
    for name in ["\"local\"", "\"home.arpa\"", "\"localhost\""] {
        assert!(permitted.contains(name), "{name} not in {permitted}");
    }
    assert!(constraints.excluded_subtrees.is_none());
}

/// A CA and a leaf for localhost, written to `cert` and `key`; returns the CA PEM.
fn issue_files(cert: &Path, key: &Path) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(cert, leaf.pem()).unwrap();
    std::fs::write(key, leaf_key.serialize_pem()).unwrap();
    ca_cert.pem().into_bytes()
}

#[test]
fn certificate_files_are_hot_reloaded_and_garbage_keeps_the_old_one() {
    let dir = TempDir::new("files");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ca_a = issue_files(&cert, &key);
    let server = Server::spawn(&[
        "--tls",
        "files",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--ctx-size",
        "512",
    ]);
    let addr: SocketAddr = ([127, 0, 0, 1], server.port()).into();
    let a = served_cert(addr, "localhost", &ca_a).expect("certificate A is served");

    let ca_b = issue_files(&cert, &key);
    let deadline = Instant::now() + Duration::from_secs(15);
    let b = loop {
        if let Ok(b) = served_cert(addr, "localhost", &ca_b) {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "replacing the files did not switch the certificate:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_ne!(a, b);

    std::fs::write(&cert, "garbage").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        served_cert(addr, "localhost", &ca_b).expect("the old certificate stays in service"),
        b
    );
    assert!(server.log().contains("not usable"), "{}", server.log());
    // SIGHUP with good files reloads too.
    let ca_c = issue_files(&cert, &key);
    let _ = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_cert(addr, "localhost", &ca_c).is_err() {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn plain_http_gets_a_308_to_the_same_path_on_https() {
    let mut server = Server::spawn(&["--redirect-listen", "127.0.0.1:0", "--ctx-size", "512"]);
    let plain = server.wait_for_log("redirecting http://", Duration::from_secs(30));
    let plain = plain.trim_end_matches(',');
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("http://{plain}/v1/models?x=1"))
        .header("host", "pi.local")
        .send()
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://pi.local:{}/v1/models?x=1", server.port())
    );
    let r = client
        .post(format!("http://{plain}/v1/chat/completions"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 308, "nothing but redirects over plain HTTP");
}
