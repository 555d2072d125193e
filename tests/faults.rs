//! Faults a device meets in its life: a read-only or full state directory, the model file
//! removed or replaced while serving, a SIGKILL mid-stream. (An interrupted `pull` resuming
//! is in tests/pull.rs; ACME state surviving a SIGKILL restart is in tests/tls.rs, whose
//! restarts kill the daemon with SIGKILL.) Mounts need root, as CI runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{greedy_chat, Server, TempDir};
use serde_json::{json, Value};

/// A mount that is undone when dropped, also when the test fails.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = Command::new("mount").args(args).output().expect("mount");
        assert!(
            out.status.success(),
            "mount {args:?} failed (the fault tests need root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        Mount::run(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
            dir.to_str().unwrap(),
        ]);
        Mount(dir.into())
    }
    fn read_only_bind(dir: &Path) -> Mount {
        let d = dir.to_str().unwrap();
        Mount::run(&["--bind", d, d]);
        let m = Mount(dir.into());
        Mount::run(&["-o", "remount,bind,ro", d]);
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn serve_fails(state: &Path) -> String {
    let out = Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--model"])
        .arg(common::model_path())
        .arg("--state-dir")
        .arg(state)
        .envs(common::DEFAULT_ENV.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started on a broken state dir");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("edgellm: "), "{stderr}");
    last
}

fn greedy(server: &Server) -> String {
    let v: Value = server
        .blocking_client()
        .post(server.url("/v1/chat/completions"))
        .json(&greedy_chat("Name a colour.", json!({ "max_tokens": 8 })))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A state dir that became read-only (a remounted SD card) still serves with what it
/// holds; an empty read-only one is a one-line error naming the path.
#[test]
fn a_read_only_state_dir_serves_what_it_has_and_an_empty_one_is_a_clear_error() {
    let _serial = common::serial();
    let server = Server::start(&[]);
    let answer = greedy(&server);
    let state = server.stop_keep_state();
    {
        let _ro = Mount::read_only_bind(state.path());
        let again = Server::spawn_in(TempDir(state.path().into()), &[], &[]);
        again.wait_ready();
        assert_eq!(greedy(&again), answer);
        drop(again);
    }
    let empty = TempDir::new("ro-empty");
    let _ro = Mount::read_only_bind(empty.path());
    let line = serve_fails(empty.path());
    assert!(line.contains(empty.path().to_str().unwrap()), "{line}");
}

/// A full disk while creating the LAN CA: a one-line error, no temporary files left.
#[test]
fn a_full_state_dir_is_a_clear_error_and_leaves_no_temp_files() {
    let _serial = common::serial();
    let dir = TempDir::new("full");
    let _full = Mount::tmpfs(dir.path(), "4k");
    // Fill it: one page.
    let _ = std::fs::write(dir.path().join("filler"), vec![0u8; 4096]);
    let line = serve_fails(dir.path());
    assert!(
        line.contains("No space left") || line.contains("space"),
        "{line}"
    );
    let leftovers: Vec<String> = walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The model file removed, then replaced by garbage, while serving: the mapped model keeps
/// answering the same, readiness stays green.
#[test]
fn the_model_file_removed_or_replaced_while_serving_does_not_matter() {
    let dir = TempDir::new("model");
    let model = dir.path().join("model.gguf");
    if std::fs::hard_link(common::model_path(), &model).is_err() {
        std::fs::copy(common::model_path(), &model).unwrap();
    }
    let server = Server::start(&["--model", model.to_str().unwrap()]);
    let answer = greedy(&server);
    std::fs::remove_file(&model).unwrap();
    assert_eq!(greedy(&server), answer);
    std::fs::write(&model, b"not a model").unwrap();
    assert_eq!(greedy(&server), answer);
    let ready = server
        .blocking_client()
        .get(server.url("/readyz"))
        .send()
        .unwrap();
    assert_eq!(ready.status(), 200);
}

/// SIGKILL in the middle of a stream, then a restart in the same state dir: the same CA
/// and certificate, no temporary files, and the same answers.
#[test]
fn a_sigkill_mid_stream_and_a_restart_keep_the_state() {
    let _serial = common::serial();
    let server = Server::start(&[]);
    let answer = greedy(&server);
    let ca = server.ca_pem();
    let leaf = std::fs::read(server.state.path().join("tls/leaf.pem")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Keep the stream open: the SIGKILL (stop_keep_state) lands while it is being written.
    let stream = rt.block_on(server.stream_started(&greedy_chat(
        "Write a long story.",
        json!({ "max_tokens": 300, "stream": true }),
    )));
    let state = server.stop_keep_state();
    drop(stream);
    let again = Server::spawn_in(state, &[], &[]);
    again.wait_ready();
    assert_eq!(again.ca_pem(), ca, "the CA survived");
    assert_eq!(
        std::fs::read(again.state.path().join("tls/leaf.pem")).unwrap(),
        leaf
    );
    assert!(walk(again.state.path())
        .iter()
        .all(|p| !p.ends_with(".tmp")));
    assert_eq!(greedy(&again), answer);
    std::thread::sleep(Duration::from_millis(10));
}
