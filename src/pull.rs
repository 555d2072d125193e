//! `edgellm pull [URL --sha256 HEX]`: download a GGUF into the models directory (without
//! a URL: the pinned default model, see `config::default_model`).
//!
//! The download goes to `<models-dir>/.<name>.partial`; an interrupted transfer resumes with
//! an HTTP Range request; the complete file's sha256 must match before it is renamed into
//! place, so the daemon never sees a partial or wrong model. A mismatch deletes the partial
//! file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::config::{default_model, PullOptions};
use crate::error::Error;

/// Copy buffer size.
const CHUNK: usize = 1 << 20;

fn fail(message: impl Into<String>) -> Error {
    Error::Pull(message.into())
}

pub fn main(options: PullOptions) -> Result<(), Error> {
    let name = &options.name;
    std::fs::create_dir_all(&options.models_dir).map_err(|e| {
        fail(format!(
            "cannot create {}: {e}",
            options.models_dir.display()
        ))
    })?;
    let target = options.models_dir.join(name);
    let partial = options.models_dir.join(format!(".{name}.partial"));
    if target.exists() && sha256_file(&target)? == options.sha256 {
        println!("{} is already present and verified", target.display());
        return Ok(());
    }
    if options.url.starts_with("http://") {
        eprintln!(
            "edgellm: warning: {} is plain HTTP; the sha256 still protects the file",
            options.url
        );
    }
    if options.url == default_model::URL {
        eprintln!("edgellm: installing {}", default_model::DESCRIPTION);
    }
    eprintln!(
        "edgellm: downloading {} into {}",
        options.url,
        target.display()
    );
    download(&options.url, &partial, options.size, options.max_bytes)?;
    let got = sha256_file(&partial)?;
    if got != options.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Err(fail(format!(
            "sha256 mismatch for {}: expected {}, got {got}; the download was deleted",
            options.url, options.sha256
        )));
    }
    std::fs::rename(&partial, &target)
        .map_err(|e| fail(format!("cannot move into {}: {e}", target.display())))?;
    println!("{} verified ({got})", target.display());
    Ok(())
}

/// Download `url` into `partial`, resuming from its current length. The transfer is
/// bounded by the known size, else the Content-Length, else `max_bytes`. A failure that a
/// retry cannot fix (too large, disk full, wrong size) deletes the partial file; an
/// interrupted transfer keeps it, to resume.
fn download(url: &str, partial: &Path, size: Option<u64>, max_bytes: u64) -> Result<(), Error> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(None)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let have = std::fs::metadata(partial).map_or(0, |m| m.len());
    let mut request = client.get(url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let mut response = request.send().map_err(|e| fail(format!("{url}: {e}")))?;
    let start = match response.status() {
        StatusCode::PARTIAL_CONTENT if have > 0 && resumes_at(&response, have) => have,
        StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => return Ok(()),
        s if s.is_success() => 0,
        s => return Err(fail(format!("{url}: HTTP {s}"))),
    };
    let total = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map(|n| n + start);
    if let (Some(total), Some(size)) = (total, size) {
        if total != size {
            return Err(fail(format!(
                "{url} offers {total} bytes but the model has {size}; nothing was installed"
            )));
        }
    }
    let limit = size.or(total).unwrap_or(max_bytes);
    let mut file = if start > 0 {
        OpenOptions::new().append(true).open(partial)
    } else {
        File::create(partial)
    }
    .map_err(|e| io(partial, e))?;
    let discard = |why: String| {
        let _ = std::fs::remove_file(partial);
        fail(format!("{why}; the partial download was deleted"))
    };
    let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if start > 0 {
        eprintln!("edgellm: resuming at {start} bytes");
    }
    bar.set_position(start);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = response.read(&mut buf).map_err(|e| {
            fail(format!(
                "download interrupted at {} bytes ({e}); run the same command again to resume",
                bar.position()
            ))
        })?;
        if n == 0 {
            break;
        }
        if bar.position() + n as u64 > limit {
            return Err(discard(format!(
                "{url} sent more than {limit} bytes (set --max-bytes for larger files)"
            )));
        }
        file.write_all(&buf[..n])
            .map_err(|e| discard(format!("cannot write {}: {e}", partial.display())))?;
        bar.inc(n as u64);
    }
    file.sync_all()
        .map_err(|e| discard(format!("cannot write {}: {e}", partial.display())))?;
    bar.finish_and_clear();
    if let Some(total) = total {
        if bar.position() < total {
            return Err(fail(format!(
                "download ended early at {} of {total} bytes; run the same command again to resume",
                bar.position()
            )));
        }
    }
    Ok(())
}

/// A 206 must start exactly where our file ends.
fn resumes_at(response: &reqwest::blocking::Response, have: u64) -> bool {
    response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|s| s.parse::<u64>().ok())
        == Some(have)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    fail(format!("{}: {e}", path.display()))
}

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &PathBuf) -> Result<String, Error> {
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
