//! `edgellm pull` against the test's own HTTP server serving the test model: an interrupted
//! transfer resumes with a Range request, the sha256 is checked, and a wrong hash leaves no
//! model where the daemon would load it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::{binary, model_path, TempDir};

const MODEL_SHA256: &str = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";

/// Serves one file with Range support on 127.0.0.1; the first response is cut after
/// `cut_first` bytes when given. Records the Range start of every request.
fn serve(
    file: std::path::PathBuf,
    cut_first: Option<u64>,
) -> (String, Arc<Mutex<Vec<Option<u64>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/models/test.gguf", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ranges);
    std::thread::spawn(move || {
        let data = std::fs::read(&file).unwrap();
        let len = data.len() as u64;
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut start = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    start = v.trim().trim_end_matches('-').parse::<u64>().ok();
                }
            }
            seen.lock().unwrap().push(start);
            let from = start.unwrap_or(0).min(len);
            let head = match start {
                Some(s) => format!("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{len}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", len - 1, len - from),
                None => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
            };
            let _ = stream.write_all(head.as_bytes());
            let end = match cut_first {
                Some(cut) if i == 0 => (from + cut).min(len),
                _ => len,
            };
            let _ = stream.write_all(&data[from as usize..end as usize]);
        }
    });
    (url, ranges)
}

fn pull(url: &str, sha: &str, dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(binary())
        .args(["pull", url, "--sha256", sha, "--models-dir"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn an_interrupted_download_resumes_and_is_verified() {
    let dir = TempDir::new("pull");
    let (url, ranges) = serve(model_path(), Some(100 << 20));
    let (code, out) = pull(&url, MODEL_SHA256, dir.path());
    assert_ne!(code, 0, "the cut transfer must fail: {out}");
    assert!(out.contains("resume"), "{out}");
    assert!(
        !dir.path().join("test.gguf").exists(),
        "a partial model was installed"
    );
    let partial = dir.path().join(".test.gguf.partial");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 100 << 20);

    let (code, out) = pull(&url, MODEL_SHA256, dir.path());
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        ranges.lock().unwrap().clone(),
        vec![None, Some(100 << 20)],
        "the second request must resume"
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("test.gguf"))
            .unwrap()
            .len(),
        491_400_064
    );
    assert!(!partial.exists());
    // Already present and verified: nothing is downloaded again.
    let (code, out) = pull(&url, MODEL_SHA256, dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already present"), "{out}");
    assert_eq!(ranges.lock().unwrap().len(), 2);
}

#[test]
fn a_wrong_hash_installs_nothing() {
    let dir = TempDir::new("pull-bad");
    let small = dir.path().join("source.bin");
    std::fs::write(&small, vec![7u8; 3 << 20]).unwrap();
    let models = dir.path().join("models");
    let (url, _) = serve(small, None);
    let (code, out) = pull(&url, MODEL_SHA256, &models);
    assert_ne!(code, 0);
    assert!(out.contains("sha256 mismatch"), "{out}");
    assert!(!models.join("test.gguf").exists());
    assert!(!models.join(".test.gguf.partial").exists());
    let (code, out) = pull(&url, "abc", &models);
    assert_ne!(code, 0);
    assert!(out.contains("--sha256"), "{out}");
}

#[test]
fn without_a_url_it_fetches_the_pinned_default_model() {
    // No network in tests: send the request to a proxy that is not there, and check that the
    // pinned Hugging Face URL is what it tried, that the error is one clear line, and that
    // nothing was installed.
    let dir = TempDir::new("pull-default");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Command::new(binary())
        .args(["pull", "--models-dir"])
        .arg(dir.path())
        .env("HTTPS_PROXY", &proxy)
        .env("https_proxy", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/9217f5db79a29953eb74d5343926648285ec7e67/qwen2.5-0.5b-instruct-q4_k_m.gguf"),
        "{err}"
    );
    assert!(err.contains("model.gguf"), "{err}");
    assert!(!dir.path().join("model.gguf").exists());
    let help = Command::new(binary())
        .args(["pull", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Qwen2.5-0.5B-Instruct Q4_K_M"), "{help}");
}

/// A server that sends no Content-Length and never stops: the download is bounded by
/// --max-bytes and the partial file is deleted, so the disk does not fill up.
#[test]
fn an_endless_download_without_content_length_is_bounded_and_cleaned_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/endless.gguf", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'x'; 64 * 1024];
            // At most 64 MiB, so a broken bound fails the test instead of filling the disk.
            for _ in 0..1024 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    });
    let dir = TempDir::new("pull-endless");
    let out = Command::new(binary())
        .args([
            "pull",
            &url,
            "--sha256",
            MODEL_SHA256,
            "--max-bytes",
            "1000000",
            "--models-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("more than 1000000 bytes"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
