//! Fail closed: a daemon reachable beyond loopback never runs without an API key unless
//! told to (`--no-api-key`). Without configured keys it generates one on first start,
//! stores it in `<state-dir>/api-key` (0600) and requires it; `edgellm key show` prints it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use edgellm_api::ApiKeys;

use crate::config::ServeConfig;
use crate::error::Error;

/// The generated key's file in a state directory.
pub fn key_file(state_dir: &Path) -> PathBuf {
    state_dir.join("api-key")
}

/// The keys to require on `addr`.
pub fn effective(config: &ServeConfig, addr: SocketAddr) -> Result<ApiKeys, Error> {
    if !config.keys.is_empty() {
        return Ok(config.keys.clone());
    }
    if addr.ip().is_loopback() {
        return Ok(ApiKeys::default());
    }
    if config.no_api_key {
        tracing::warn!(%addr, "--no-api-key: anyone who can reach this address can use the model");
        return Ok(ApiKeys::default());
    }
    let path = key_file(&config.state_dir);
    let key = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
        Ok(_) => generate(&path, &config.state_dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate(&path, &config.state_dir)?,
        Err(source) => return Err(Error::Io { path, source }),
    };
    tracing::info!(key_file = %path.display(), "API key required (listening beyond loopback with no --api-key-file)");
    ApiKeys::load(None, &[key]).map_err(|e| Error::config("api-key-file", e))
}

fn generate(path: &Path, state_dir: &Path) -> Result<String, Error> {
    let key = format!(
        "edgellm-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    edgellm_tls::create_private_dir(state_dir)?;
    edgellm_tls::write_private(path, format!("{key}\n").as_bytes())?;
    tracing::warn!(
        key_file = %path.display(),
        "generated an API key for this device; clients must send it as 'Authorization: Bearer <key>'. \
         Print it with: edgellm key show --state-dir {}",
        state_dir.display()
    );
    Ok(key)
}
