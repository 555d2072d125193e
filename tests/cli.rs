//! The command line: version, help, and clear one-line errors with a non-zero exit.

mod common;

use std::process::Command;

use common::{binary, model_path, TempDir};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("edgellm {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--model",
        "--listen",
        "--state-dir",
        "--threads",
        "--ctx-size",
        "EDGELLM_MODEL",
        "EDGELLM_LISTEN",
    ] {
        assert!(out.contains(flag), "help lacks {flag}:\n{out}");
    }
}

fn serve_error(model: &std::path::Path, state: &TempDir) -> (i32, String) {
    let (code, _, err) = run(&[
        "serve",
        "--model",
        model.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--threads",
        "1",
    ]);
    (code, err)
}

#[test]
fn bad_model_files_are_named_and_exit_non_zero() {
    let dir = TempDir::new("models");
    let state = TempDir::new("state");

    let (code, err) = serve_error(&dir.path().join("missing.gguf"), &state);
    assert_ne!(code, 0);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("edgellm pull"), "{err}");

    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "this is not a model").unwrap();
    let (code, err) = serve_error(&text, &state);
    assert_ne!(code, 0);
    assert!(err.contains("not a GGUF"), "{err}");

    // The first 8 MiB of the real model: a valid header, missing tensor data.
    let truncated = dir.path().join("truncated.gguf");
    let bytes = std::fs::read(model_path()).unwrap();
    std::fs::write(&truncated, &bytes[..8 << 20]).unwrap();
    let (code, err) = serve_error(&truncated, &state);
    assert_ne!(code, 0);
    assert!(err.contains("truncated or corrupt"), "{err}");

    // A missing --embedding-model is named before anything loads.
    let missing = dir.path().join("embed.gguf");
    let (code, _, err) = run(&[
        "serve",
        "--model",
        model_path().to_str().unwrap(),
        "--embedding-model",
        missing.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("embed.gguf") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn invalid_flags_name_the_flag() {
    let (code, _, err) = run(&["serve", "--threads", "0", "--model", "/nonexistent"]);
    assert_ne!(code, 0);
    assert!(err.contains("--threads"), "{err}");
    let (code, _, err) = run(&["serve", "--listen", "not-an-address"]);
    assert_ne!(code, 0);
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let state = TempDir::new("state");
    let (code, _, err) = run(&[
        "serve",
        "--model",
        model_path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot listen on") && err.contains(&port),
        "{err}"
    );
}

#[test]
fn ca_show_prints_the_ca_and_a_stable_fingerprint() {
    let state = TempDir::new("state");
    let dir = state.path().to_str().unwrap();
    let (code, first, err) = run(&["ca", "show", "--state-dir", dir]);
    assert_eq!(code, 0, "{err}");
    assert!(first.starts_with("-----BEGIN CERTIFICATE-----"), "{first}");
    assert!(first.contains("SHA-256 fingerprint: "), "{first}");
    let (_, second, _) = run(&["ca", "show", "--state-dir", dir]);
    assert_eq!(first, second, "the CA must persist");
}

#[test]
fn bench_reports_figures_as_json() {
    let out = Command::new(binary())
        .args([
            "bench",
            "--json",
            "--gen-tokens",
            "16",
            "--prompt-words",
            "40",
            "--threads",
            "2",
            "--model",
        ])
        .arg(model_path())
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("bench --json prints JSON");
    for key in [
        "load_seconds",
        "prompt_tokens_per_second",
        "generation_tokens_per_second",
        "time_to_first_token_seconds",
        "second_turn_ttft_cold_seconds",
        "second_turn_ttft_warm_seconds",
        "peak_rss_mib",
    ] {
        let v = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(v > 0.0 && v.is_finite(), "{key} = {v}");
    }
    let streams: Vec<u64> = report["aggregate_tokens_per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["streams"].as_u64().unwrap())
        .collect();
    assert_eq!(streams, vec![1, 2, 4]);
    assert!(report["generated_tokens"].as_u64().unwrap() == 16);
    // Which CPU kernels ran: the build's backend, the architecture, the detected features.
    let cpu = &report["cpu_backend"];
    assert!(
        cpu["backend"]
            .as_str()
            .unwrap()
            .starts_with("llama.cpp CPU"),
        "{cpu}"
    );
    assert_eq!(cpu["arch"], std::env::consts::ARCH);
    assert!(cpu["features"].is_array(), "{cpu}");
}

#[test]
fn acme_settings_are_checked_before_start() {
    let (code, _, err) = run(&[
        "serve",
        "--tls",
        "acme",
        "--acme-domain",
        "llm.example.org",
        "--model",
        "/nonexistent",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--acme-contact"), "{err}");
    let (code, _, err) = run(&[
        "serve",
        "--tls",
        "acme",
        "--acme-contact",
        "a@example.org",
        "--model",
        "/nonexistent",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--acme-domain"), "{err}");
    let (code, _, err) = run(&[
        "serve",
        "--tls",
        "files",
        "--tls-cert",
        "/x.pem",
        "--model",
        "/nonexistent",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--tls-key"), "{err}");
}

#[test]
fn generate_prints_a_repeatable_greedy_answer() {
    let args = [
        "generate",
        "--prompt",
        "Write a haiku about the sea.",
        "--max-tokens",
        "8",
        "--threads",
        "2",
        "--model",
    ];
    let once = || {
        let out = Command::new(binary())
            .args(args)
            .arg(model_path())
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().any(|l| l.starts_with("edgellm: llama.cpp CPU")),
            "generate names its CPU backend on stderr: {err}"
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = once();
    assert!(first.split_whitespace().count() >= 2, "{first:?}");
    assert_eq!(first, once());
    let (code, _, err) = run(&[
        "generate",
        "--prompt",
        "x",
        "--max-tokens",
        "0",
        "--model",
        "/nonexistent",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--max-tokens"), "{err}");
}

#[test]
fn an_unusable_state_dir_is_a_clear_error() {
    let dir = TempDir::new("state-file");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let state = file.join("state");
    let (code, _, err) = run(&[
        "serve",
        "--model",
        model_path().to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot use") && err.contains("not-a-dir"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn the_settings_file_sits_beneath_environment_and_flags() {
    let dir = TempDir::new("config");
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "ctx-size = 1024\nparallel = 1\napi-key = [\"sk-file-secret-123\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (code, out, err) = run(&["config", "check", "--config", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ctx_size: 1024"), "{out}");
    assert!(
        out.contains("ApiKeys(1 keys)") && !out.contains("sk-file-secret"),
        "{out}"
    );
    let over = Command::new(binary())
        .args(["config", "check", "--config", path])
        .env("EDGELLM_CTX_SIZE", "2048")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&over.stdout).contains("ctx_size: 2048"));
    std::fs::write(&file, "ctx_sise = 1024\n").unwrap();
    let (code, _, err) = run(&["config", "check", "--config", path]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown key 'ctx_sise'"), "{err}");
    std::fs::write(&file, "ctx-size = \"big\"\n").unwrap();
    let (code, _, err) = run(&["config", "check", "--config", path]);
    assert_ne!(code, 0);
    assert!(err.contains("--ctx-size"), "{err}");
}

#[test]
fn dns01_settings_are_checked_before_start() {
    let dir = common::TempDir::new("dns01-cli");
    let garbage = dir.path().join("garbage.key");
    std::fs::write(
        &garbage,
        "key \"k\" { algorithm hmac-md5; secret \"YQ==\"; };\n",
    )
    .unwrap();
    let not_executable = dir.path().join("hook");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let base = [
        "serve",
        "--tls",
        "acme",
        "--acme-contact",
        "a@example.org",
        "--model",
        "/nonexistent",
    ];
    let check = |extra: &[&str], expected: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let (code, _, err) = run(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    };
    let domain = ["--acme-domain", "llm.example.org"];
    let dns01 = ["--acme-challenge", "dns-01"];
    check(
        &["--acme-domain", "*.example.org"],
        "wildcard names need --acme-challenge dns-01",
    );
    check(
        &[&domain[..], &["--acme-dns-hook", "/bin/true"]].concat(),
        "--acme-dns-hook needs --acme-challenge dns-01",
    );
    check(
        &[&domain[..], &dns01[..]].concat(),
        "dns-01 needs --acme-dns-server",
    );
    check(
        &[&domain[..], &dns01[..], &["--acme-dns-server", "127.0.0.1"]].concat(),
        "--acme-dns-tsig-key",
    );
    let garbage = garbage.display().to_string();
    check(
        &[
            &domain[..],
            &dns01[..],
            &[
                "--acme-dns-server",
                "127.0.0.1",
                "--acme-dns-tsig-key",
                &garbage,
            ],
        ]
        .concat(),
        "hmac-md5' is not supported",
    );
    let hook = not_executable.display().to_string();
    check(
        &[&domain[..], &dns01[..], &["--acme-dns-hook", &hook]].concat(),
        "is not an executable file",
    );
    check(
        &[
            &domain[..],
            &dns01[..],
            &[
                "--acme-dns-hook",
                "/bin/true",
                "--acme-dns-server",
                "127.0.0.1",
            ],
        ]
        .concat(),
        "not both",
    );
    check(
        &[
            "--acme-domain",
            "a.*.example.org",
            "--acme-challenge",
            "dns-01",
            "--acme-dns-hook",
            "/bin/true",
        ],
        "whole first label",
    );
}

/// The x86-64 build carries one AVX2 backend: on an older CPU (here qemu's Nehalem model,
/// no AVX) it must refuse in one line naming what is missing, not die of SIGILL.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_cpu_without_avx2_is_told_so_in_one_line() {
    let qemu = ["/usr/bin/qemu-x86_64", "/usr/bin/qemu-x86_64-static"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("qemu-x86_64 is missing: install qemu-user (tests/setup.sh does)");
    let run_on = |cpu: &str| {
        Command::new(qemu)
            .args(["-cpu", cpu])
            .arg(binary())
            .args(["generate", "--prompt", "hi", "--max-tokens", "1", "--model"])
            .arg(model_path())
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .output()
            .unwrap()
    };
    let out = run_on("Nehalem");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("need a CPU with")
            && err.contains("this CPU lacks avx, avx2, fma, f16c, bmi2"),
        "{err}"
    );
}
