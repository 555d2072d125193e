//! Every setting in one place: a flag, an `EDGELLM_*` env var, a default. Parsed by clap
//! ([`Cli`]), then validated and derived once (`ServeArgs::resolve` and each command's `resolve`). The settings file
//! ([`crate::config_file`]) only fills in `EDGELLM_*` variables the environment does not set,
//! before clap reads them; nothing after this module reads the environment.
//!
//! One file per subcommand: [`serve`] (with [`connection`] limits), [`engine`] (shared by serve, bench and generate),
//! [`pull`], [`generate`], [`bench`]; [`reference`] turns the serve flags into the docs' table.

mod bench;
mod connection;
mod engine;
mod generate;
mod pull;
pub mod reference;
mod serve;
#[cfg(test)]
mod tests;
mod tls;

pub use bench::*;
pub use connection::*;
pub use engine::*;
pub use generate::*;
pub use pull::*;
pub use serve::*;
pub use tls::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use edgellm_api::ApiLimits;
use edgellm_engine::EngineConfig;

use crate::error::Error;

/// A private LLM appliance: in-process llama.cpp behind self-provisioned HTTPS.
#[derive(Debug, Parser)]
#[command(name = "edgellm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: load the model and serve the API over HTTPS.
    Serve(Box<ServeArgs>),
    /// The LAN certificate authority that signs this device's HTTPS certificate.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Measure this device: prompt and generation speed, TTFT, concurrency, prefix reuse, memory.
    Bench(Box<BenchArgs>),
    /// Download a GGUF model, verify its sha256 and move it into the models directory.
    Pull(PullArgs),
    /// Settings file tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The API key generated on first start (when listening beyond loopback without keys).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print one answer to a prompt (greedy by default): a quick on-device smoke test.
    Generate(Box<GenerateArgs>),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the settings (file, environment) and print the effective serve configuration,
    /// API keys redacted.
    Check {
        /// TOML settings file [default: $EDGELLM_CONFIG, else /etc/edgellm/config.toml]
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Print the `edgellm serve` flag reference as a Markdown table (docs/configuration.md).
    Flags,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the generated API key (clients send it as 'Authorization: Bearer <key>').
    Show(StateDirArg),
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the CA certificate (PEM) and its SHA-256 fingerprint, to install on clients.
    Show(StateDirArg),
    /// Write the CA certificate and its private key (secret!) as one PEM file, to import
    /// on other boards so clients trust one CA for the whole home lab.
    Export {
        #[command(flatten)]
        state: StateDirArg,
        /// File to create (mode 0600; an existing file is not overwritten) [default: stdout]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make an exported CA this board's CA; its certificate is reissued from it at the next start.
    Import {
        /// The file `edgellm ca export` wrote.
        file: PathBuf,
        #[command(flatten)]
        state: StateDirArg,
        /// Replace a different CA this board already has.
        #[arg(long)]
        force: bool,
    },
}

/// Where the daemon keeps certificates, the ACME cache and downloaded models.
#[derive(Debug, Clone, Args)]
pub struct StateDirArg {
    /// State directory [default: $STATE_DIRECTORY under systemd, else
    /// $XDG_STATE_HOME/edgellm or ~/.local/state/edgellm]
    #[arg(long, env = "EDGELLM_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StateDirArg {
    pub fn resolve(&self) -> Result<PathBuf, Error> {
        if let Some(dir) = &self.state_dir {
            return Ok(dir.clone());
        }
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = env("STATE_DIRECTORY") {
            return Ok(dir);
        }
        if let Some(dir) = env("XDG_STATE_HOME") {
            return Ok(dir.join("edgellm"));
        }
        env("HOME")
            .map(|h| h.join(".local/state/edgellm"))
            .ok_or_else(|| {
                Error::config("state-dir", "no state directory given and $HOME is not set")
            })
    }
}

/// Certificate source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    Lan,
    Acme,
    Files,
}

/// How the ACME CA checks that we control the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AcmeChallenge {
    /// TLS-ALPN-01 on the HTTPS port (reachable from the internet on 443).
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
    /// DNS-01: a TXT record published by RFC 2136 or a hook; no inbound port.
    #[value(name = "dns-01")]
    Dns01,
}

/// The validated certificate settings.
#[derive(Debug, Clone)]
pub enum TlsSource {
    Lan,
    Acme(Box<edgellm_tls::acme::AcmeSettings>),
    Files(edgellm_tls::files::CertFiles),
}

/// Where logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
    Journald,
}

/// OpenMP threads that busy-wait steal the cores from everything else on a small board
/// (measured: generation fell from ~25 to ~1 tok/s with a competing process). Unless the
/// operator chose otherwise, let idle OpenMP threads sleep. Must run before llama.cpp starts.
pub fn default_omp_wait_policy() {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        std::env::set_var("OMP_WAIT_POLICY", "PASSIVE");
    }
}

fn at_least(flag: &'static str, value: u32, min: u32) -> Result<u32, Error> {
    if value < min {
        return Err(Error::config(
            flag,
            format!("must be at least {min}, got {value}"),
        ));
    }
    Ok(value)
}
