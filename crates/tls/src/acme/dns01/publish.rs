//! Putting the `_acme-challenge` TXT record in place and taking it away: an RFC 2136 update
//! signed with TSIG, or an executable hook (`PATH set|unset <name> <value>`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::dns;
use super::tsig::TsigKey;

/// The longest a hook may run before it is killed and the order fails.
const HOOK_LIMIT: Duration = Duration::from_secs(120);

/// How the TXT record is published.
#[derive(Debug, Clone)]
pub enum Publisher {
    /// RFC 2136 dynamic update at `server` (`HOST[:PORT]`).
    Rfc2136 { server: String, key: TsigKey },
    /// `PATH set|unset _acme-challenge.<domain> <value>`.
    Hook(PathBuf),
}

impl Publisher {
    pub fn describe(&self) -> String {
        match self {
            Publisher::Rfc2136 { server, key } => {
                format!("RFC 2136 update at {server} with TSIG key '{}'", key.name)
            }
            Publisher::Hook(path) => format!("hook {}", path.display()),
        }
    }

    async fn update_server(server: &str) -> Result<SocketAddr, String> {
        Ok(dns::resolve(server).await?[0])
    }

    /// Publish `value` at `name`.
    pub async fn set(&self, name: &str, value: &str) -> Result<(), String> {
        self.change(name, value, true).await
    }

    /// Take `value` away from `name`.
    pub async fn unset(&self, name: &str, value: &str) -> Result<(), String> {
        self.change(name, value, false).await
    }

    async fn change(&self, name: &str, value: &str, add: bool) -> Result<(), String> {
        match self {
            Publisher::Rfc2136 { server, key } => {
                let addr = Self::update_server(server).await?;
                dns::update_txt(addr, &key.signer()?, name, value, add).await
            }
            Publisher::Hook(path) => {
                let action = if add { "set" } else { "unset" };
                run_hook(path, action, name, value).await
            }
        }
    }

    /// Where to check that a record is visible before asking the CA: the configured
    /// resolvers; else the server we update (the zone's primary); else the zone's
    /// authoritative servers found through the system resolver.
    pub async fn check_servers(
        &self,
        resolvers: &[String],
        name: &str,
    ) -> Result<Vec<SocketAddr>, String> {
        if !resolvers.is_empty() {
            let mut all = Vec::new();
            for r in resolvers {
                all.push(dns::resolve(r).await?[0]);
            }
            return Ok(all);
        }
        match self {
            Publisher::Rfc2136 { server, .. } => Ok(vec![Self::update_server(server).await?]),
            Publisher::Hook(_) => dns::authoritative_servers(name).await,
        }
    }
}

async fn run_hook(
    path: &std::path::Path,
    action: &str,
    name: &str,
    value: &str,
) -> Result<(), String> {
    let what = format!("DNS hook `{} {action} {name}`", path.display());
    let mut command = tokio::process::Command::new(path);
    command
        .args([action, name, value])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    // The hook gets the daemon's environment (its own token, PATH) but none of the daemon's
    // own settings: `EDGELLM_API_KEYS` and the rest are not a DNS hook's business.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("EDGELLM_") {
            command.env_remove(key);
        }
    }
    let run = command.output();
    let output = tokio::time::timeout(HOOK_LIMIT, run)
        .await
        .map_err(|_| format!("{what} did not finish within {} s", HOOK_LIMIT.as_secs()))?
        .map_err(|e| format!("{what} could not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
    {
        tracing::info!(hook = %path.display(), action, "{line}");
    }
    if output.status.success() {
        return Ok(());
    }
    let last = stderr
        .lines()
        .rev()
        .chain(stdout.lines().rev())
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    Err(format!("{what} failed ({}): {last}", output.status))
}
