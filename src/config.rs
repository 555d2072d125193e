//! Every setting in one place: a flag, an `EDGELLM_*` env var, a default. Parsed by clap
//! ([`Cli`]), then validated and derived once ([`ServeConfig::from_args`]). Nothing else in
//! the program reads the environment.

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
    /// Print one answer to a prompt (greedy by default): a quick on-device smoke test.
    Generate(Box<GenerateArgs>),
}

/// The model `edgellm pull` installs when no URL is given: Qwen2.5-0.5B-Instruct Q4_K_M from
/// Qwen's own Hugging Face repository, pinned to a revision, with that file's sha256.
pub mod default_model {
    pub const DESCRIPTION: &str = "Qwen2.5-0.5B-Instruct Q4_K_M";
    pub const URL: &str = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/\
                           9217f5db79a29953eb74d5343926648285ec7e67/qwen2.5-0.5b-instruct-q4_k_m.gguf";
    pub const SHA256: &str = "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db";
    pub const SIZE: u64 = 491_400_032;
    /// The file the daemon loads by default (`<models-dir>/model.gguf`).
    pub const NAME: &str = "model.gguf";
}

/// Flags of `edgellm pull`.
#[derive(Debug, Args)]
#[command(after_help = "Without a URL, installs Qwen2.5-0.5B-Instruct Q4_K_M \
                  (Qwen/Qwen2.5-0.5B-Instruct-GGUF on Hugging Face, revision 9217f5db, sha256 \
                  74a4da8c...) as <models-dir>/model.gguf, the file `edgellm serve` loads by \
                  default.")]
pub struct PullArgs {
    /// Where to download from (https://, or http:// for a local mirror) [default: the pinned
    /// Qwen2.5-0.5B-Instruct Q4_K_M, see below].
    pub url: Option<String>,
    /// Expected sha256 of the file (64 hex digits); nothing is installed unless it matches.
    /// Required with a URL.
    #[arg(long)]
    pub sha256: Option<String>,
    /// File name in the models directory [default: the URL's last path segment, or
    /// model.gguf for the default model].
    #[arg(long)]
    pub name: Option<String>,
    /// Models directory [default: <state-dir>/models].
    #[arg(long, env = "EDGELLM_MODELS_DIR", value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    #[command(flatten)]
    pub state_dir: StateDirArg,
}

/// Validated `edgellm pull` settings.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub url: String,
    pub sha256: String,
    pub name: String,
    /// Size the file must have, when known in advance (the default model).
    pub size: Option<u64>,
    pub models_dir: PathBuf,
}

impl PullArgs {
    pub fn resolve(self) -> Result<PullOptions, Error> {
        let (url, sha256, default_name, size) = match (self.url, self.sha256) {
            (None, None) => (
                default_model::URL.to_owned(),
                default_model::SHA256.to_owned(),
                default_model::NAME.to_owned(),
                Some(default_model::SIZE),
            ),
            (None, Some(_)) => {
                return Err(Error::config(
                    "sha256",
                    "is for a URL of your own; without a URL the default model's hash is used",
                ))
            }
            (Some(_), None) => {
                return Err(Error::config(
                    "sha256",
                    "is required with a URL (64 hexadecimal digits of the file's sha256)",
                ))
            }
            (Some(url), Some(sha256)) => {
                let name = url
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.split(['?', '#']).next())
                    .filter(|n| !n.is_empty())
                    .unwrap_or("model.gguf")
                    .to_owned();
                (url, sha256, name, None)
            }
        };
        let sha256 = sha256.trim().to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::config("sha256", "must be 64 hexadecimal digits"));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::config(
                "url",
                format!("'{url}' is not an http(s) URL"),
            ));
        }
        let name = self.name.unwrap_or(default_name);
        if name.contains('/') || name.starts_with('.') || name.is_empty() {
            return Err(Error::config(
                "name",
                format!("'{name}' is not a plain file name"),
            ));
        }
        let models_dir = match self.models_dir {
            Some(dir) => dir,
            None => self.state_dir.resolve()?.join("models"),
        };
        Ok(PullOptions {
            url,
            sha256,
            name,
            size,
            models_dir,
        })
    }
}

/// Flags of `edgellm generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The user message (or, with --raw, the text to continue).
    #[arg(long)]
    pub prompt: String,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy and repeatable.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Continue the prompt as plain text instead of applying the chat template.
    #[arg(long)]
    pub raw: bool,
}

/// What `edgellm generate` does, besides the engine settings.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub raw: bool,
}

/// Resolve `edgellm generate` flags: one slot, a context just big enough.
pub fn generate_config(args: GenerateArgs) -> Result<(GenerateOptions, EngineConfig), Error> {
    let state_dir = StateDirArg { state_dir: None }
        .resolve()
        .unwrap_or_default();
    if args.max_tokens == 0 {
        return Err(Error::config("max-tokens", "must be at least 1"));
    }
    if !(0.0..=2.0).contains(&args.temperature) {
        return Err(Error::config("temperature", "must be between 0 and 2"));
    }
    let mut engine = args.engine.resolve(&state_dir)?;
    engine.parallel = 1;
    Ok((
        GenerateOptions {
            prompt: args.prompt,
            max_tokens: args.max_tokens,
            temperature: args.temperature,
            raw: args.raw,
        },
        engine,
    ))
}

/// Flags of `edgellm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Engine settings, as for `serve`.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Words of filler in the prompt-processing test (about 1.3 tokens each).
    #[arg(long, default_value_t = 200)]
    pub prompt_words: usize,
    /// Tokens generated in the generation test (half of it per stream in the concurrency test).
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Print the CA certificate (PEM) and its SHA-256 fingerprint, to install on clients.
    Show(StateDirArg),
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

/// Flags of `edgellm serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML settings file; keys are these flags' names. Flags and environment override it.
    /// [default: /etc/edgellm/config.toml if it exists]
    #[arg(long, env = "EDGELLM_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Address and port of the HTTPS listener.
    #[arg(
        long,
        env = "EDGELLM_LISTEN",
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:8443"
    )]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub state_dir: StateDirArg,

    /// Where the HTTPS certificate comes from: a local CA (lan), an ACME CA (acme), or files.
    #[arg(
        long = "tls",
        env = "EDGELLM_TLS",
        value_name = "MODE",
        default_value = "lan"
    )]
    pub tls_mode: TlsMode,

    /// Domain to get an ACME certificate for (repeatable; --tls acme).
    #[arg(
        long = "acme-domain",
        env = "EDGELLM_ACME_DOMAINS",
        value_name = "DOMAIN",
        value_delimiter = ','
    )]
    pub acme_domains: Vec<String>,

    /// Contact e-mail for the ACME account (repeatable; required with --tls acme).
    #[arg(
        long = "acme-contact",
        env = "EDGELLM_ACME_CONTACT",
        value_name = "EMAIL",
        value_delimiter = ','
    )]
    pub acme_contact: Vec<String>,

    /// ACME directory URL [default: Let's Encrypt production]; any RFC 8555 CA works.
    #[arg(long, env = "EDGELLM_ACME_DIRECTORY", value_name = "URL")]
    pub acme_directory: Option<String>,

    /// Use Let's Encrypt's staging directory (untrusted certificates, generous limits).
    #[arg(long, env = "EDGELLM_ACME_STAGING")]
    pub acme_staging: bool,

    /// Extra CA certificate (PEM) to trust for the ACME directory, e.g. a private step-ca.
    #[arg(long, env = "EDGELLM_ACME_CA_FILE", value_name = "PEM")]
    pub acme_ca_file: Option<PathBuf>,

    /// Longest wait between failed ACME orders (the wait doubles from 1 s up to this).
    #[arg(
        long,
        env = "EDGELLM_ACME_RETRY_MAX_SECONDS",
        value_name = "SECONDS",
        default_value_t = 3600
    )]
    pub acme_retry_max_seconds: u64,

    /// Certificate chain file, PEM (--tls files); reloaded when it changes and on SIGHUP.
    #[arg(long, env = "EDGELLM_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// Private key file, PEM (--tls files).
    #[arg(long, env = "EDGELLM_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Also listen for plain HTTP here and answer every request with a 308 to HTTPS.
    #[arg(long, env = "EDGELLM_REDIRECT_LISTEN", value_name = "ADDR:PORT")]
    pub redirect_listen: Option<SocketAddr>,

    /// Extra DNS name or IP address for the LAN certificate (repeatable).
    #[arg(
        long = "tls-name",
        env = "EDGELLM_TLS_NAMES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub tls_names: Vec<String>,

    /// Seconds a client has to finish the TLS handshake and send its request headers.
    #[arg(
        long,
        env = "EDGELLM_HANDSHAKE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 10
    )]
    pub handshake_timeout: u64,

    /// Largest request body in bytes.
    #[arg(long, env = "EDGELLM_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest max_tokens a request may ask for (also the default when a request gives none).
    #[arg(long, env = "EDGELLM_MAX_TOKENS", value_name = "N")]
    pub max_tokens: Option<u32>,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(
        long,
        env = "EDGELLM_DRAIN_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub drain_timeout: u64,

    /// File of API keys, one per line (blank lines and # comments ignored).
    #[arg(long, env = "EDGELLM_API_KEY_FILE", value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// An API key (repeatable; the env var takes a comma-separated list).
    #[arg(
        long = "api-key",
        env = "EDGELLM_API_KEYS",
        value_name = "KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    /// Requests per second per client address (0 turns rate limiting off).
    #[arg(
        long,
        env = "EDGELLM_RATE_LIMIT_PER_SECOND",
        value_name = "N",
        default_value_t = 5.0
    )]
    pub rate_limit_per_second: f64,

    /// Requests a client may send at once before the per-second rate applies.
    #[arg(
        long,
        env = "EDGELLM_RATE_LIMIT_BURST",
        value_name = "N",
        default_value_t = 10
    )]
    pub rate_limit_burst: u32,

    /// Proxy address or CIDR whose X-Forwarded-For is believed (repeatable).
    #[arg(
        long = "trusted-proxy",
        env = "EDGELLM_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// Require an API key for /metrics too (by default it is open, like the probes).
    #[arg(long, env = "EDGELLM_METRICS_REQUIRE_KEY")]
    pub metrics_require_key: bool,

    /// Most open client connections; further clients wait in the kernel's accept queue.
    #[arg(
        long,
        env = "EDGELLM_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 256
    )]
    pub max_connections: u32,

    /// Refuse new requests and slow generation above this temperature (off by default).
    #[arg(long, env = "EDGELLM_THERMAL_LIMIT_CELSIUS", value_name = "C")]
    pub thermal_limit_celsius: Option<f64>,

    /// Service resumes this many degrees below the limit.
    #[arg(
        long,
        env = "EDGELLM_THERMAL_HYSTERESIS_CELSIUS",
        value_name = "C",
        default_value_t = 5.0
    )]
    pub thermal_hysteresis_celsius: f64,

    /// Temperature file to watch [default: the hottest /sys/class/thermal zone].
    #[arg(long, env = "EDGELLM_THERMAL_SENSOR", value_name = "PATH")]
    pub thermal_sensor: Option<PathBuf>,

    /// How often the thermal guard reads the sensor, in milliseconds.
    #[arg(
        long,
        env = "EDGELLM_THERMAL_POLL_MS",
        value_name = "MS",
        default_value_t = 2000
    )]
    pub thermal_poll_ms: u64,

    /// Log output: auto (journald under systemd, else text), text, json, journald.
    #[arg(
        long,
        env = "EDGELLM_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "auto"
    )]
    pub log_format: LogFormat,

    /// Log filter: error, warn, info, debug, trace, or a tracing directive list.
    #[arg(
        long,
        env = "EDGELLM_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
}

/// Certificate source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    Lan,
    Acme,
    Files,
}

/// The validated certificate settings.
#[derive(Debug, Clone)]
pub enum TlsSource {
    Lan,
    Acme(edgellm_tls::acme::AcmeSettings),
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

/// Engine flags shared by `serve` and `bench`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// GGUF model file [default: <state-dir>/models/model.gguf]
    #[arg(long, env = "EDGELLM_MODEL", value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Model id reported to clients [default: the file name without .gguf]
    #[arg(long, env = "EDGELLM_MODEL_ID", value_name = "ID")]
    pub model_id: Option<String>,

    /// Threads for generation [default: number of cores, at most 4]
    #[arg(long, env = "EDGELLM_THREADS", value_name = "N")]
    pub threads: Option<u32>,

    /// Threads for prompt processing [default: same as --threads]
    #[arg(long, env = "EDGELLM_THREADS_BATCH", value_name = "N")]
    pub threads_batch: Option<u32>,

    /// Context size in tokens, shared by all parallel slots (each gets ctx-size / parallel).
    #[arg(
        long,
        env = "EDGELLM_CTX_SIZE",
        value_name = "N",
        default_value_t = 4096
    )]
    pub ctx_size: u32,

    /// Most tokens decoded per step (prompt chunks plus one per generating slot).
    #[arg(
        long,
        env = "EDGELLM_BATCH_SIZE",
        value_name = "N",
        default_value_t = 256
    )]
    pub batch_size: u32,

    /// Micro-batch size; the compute buffer grows with it (the first memory knob on 1 GB boards).
    #[arg(
        long,
        env = "EDGELLM_UBATCH_SIZE",
        value_name = "N",
        default_value_t = 128
    )]
    pub ubatch_size: u32,

    /// Requests generated at the same time (continuous batching slots).
    #[arg(long, env = "EDGELLM_PARALLEL", value_name = "N", default_value_t = 2)]
    pub parallel: u32,

    /// Requests that may wait for a free slot; more get 503 with Retry-After.
    #[arg(long, env = "EDGELLM_QUEUE", value_name = "N", default_value_t = 8)]
    pub queue: u32,

    /// Lock the model in RAM so it is never paged out (needs LimitMEMLOCK).
    #[arg(long, env = "EDGELLM_MLOCK")]
    pub mlock: bool,
}

impl EngineArgs {
    /// Validate and derive the engine settings.
    pub fn resolve(self, state_dir: &std::path::Path) -> Result<EngineConfig, Error> {
        let model_path = self
            .model
            .unwrap_or_else(|| state_dir.join("models/model.gguf"));
        let model_id = self.model_id.unwrap_or_else(|| {
            model_path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let threads = at_least("threads", self.threads.unwrap_or(cores.min(4)), 1)?;
        let threads_batch = at_least("threads-batch", self.threads_batch.unwrap_or(threads), 1)?;
        let parallel = at_least("parallel", self.parallel, 1)?;
        let ctx_size = at_least("ctx-size", self.ctx_size, 64)?;
        if ctx_size / parallel < 64 {
            return Err(Error::config(
                "ctx-size",
                format!(
                    "{ctx_size} tokens shared by {parallel} slots leaves fewer than 64 per request"
                ),
            ));
        }
        let batch_size = at_least("batch-size", self.batch_size, parallel.max(8))?;
        let ubatch_size = at_least("ubatch-size", self.ubatch_size, 1)?;
        if ubatch_size > batch_size {
            return Err(Error::config(
                "ubatch-size",
                format!("must not exceed --batch-size ({batch_size}), got {ubatch_size}"),
            ));
        }
        Ok(EngineConfig {
            model_path,
            model_id,
            threads,
            threads_batch,
            ctx_size,
            batch_size,
            ubatch_size,
            parallel,
            queue: at_least("queue", self.queue, 1)?,
            mlock: self.mlock,
        })
    }
}

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub tls: TlsSource,
    pub redirect_listen: Option<SocketAddr>,
    pub keys: edgellm_api::ApiKeys,
    pub access: edgellm_api::AccessConfig,
    pub thermal: edgellm_observe::ThermalConfig,
    pub max_connections: usize,
    pub log_format: LogFormat,
    /// Set when running under systemd's journal (`JOURNAL_STREAM`).
    pub under_journald: bool,
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub engine: EngineConfig,
    pub api: ApiLimits,
    pub tls_names: Vec<String>,
    pub handshake_timeout: Duration,
    pub drain_timeout: Duration,
    pub log_level: String,
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

impl ServeConfig {
    pub fn from_args(args: ServeArgs) -> Result<Self, Error> {
        let state_dir = args.state_dir.resolve()?;
        let queue = u64::from(args.engine.queue);
        let engine = args.engine.resolve(&state_dir)?;
        if args.handshake_timeout == 0 {
            return Err(Error::config(
                "handshake-timeout",
                "must be at least 1 second",
            ));
        }
        if args.max_body_bytes < 1024 {
            return Err(Error::config("max-body-bytes", "must be at least 1024"));
        }
        if let Some(0) = args.max_tokens {
            return Err(Error::config("max-tokens", "must be at least 1"));
        }
        let keys = edgellm_api::ApiKeys::load(args.api_key_file.as_deref(), &args.api_keys)
            .map_err(|e| Error::config("api-key-file", e))?;
        let rate_limit =
            if args.rate_limit_per_second < 0.0 || !args.rate_limit_per_second.is_finite() {
                return Err(Error::config(
                    "rate-limit-per-second",
                    "must be 0 (off) or a positive number",
                ));
            } else if args.rate_limit_per_second == 0.0 {
                None
            } else {
                Some(edgellm_api::RateLimit {
                    per_second: args.rate_limit_per_second,
                    burst: at_least("rate-limit-burst", args.rate_limit_burst, 1)?,
                })
            };
        let trusted_proxies = args
            .trusted_proxies
            .iter()
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        Error::config(
                            "trusted-proxy",
                            format!("'{s}' is not an IP address or CIDR"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(limit) = args.thermal_limit_celsius {
            if !(20.0..=120.0).contains(&limit) {
                return Err(Error::config(
                    "thermal-limit-celsius",
                    format!("must be between 20 and 120, got {limit}"),
                ));
            }
        }
        if args.thermal_hysteresis_celsius < 0.0 {
            return Err(Error::config(
                "thermal-hysteresis-celsius",
                "must not be negative",
            ));
        }
        let tls = match args.tls_mode {
            TlsMode::Lan => TlsSource::Lan,
            TlsMode::Files => match (args.tls_cert, args.tls_key) {
                (Some(cert), Some(key)) => {
                    TlsSource::Files(edgellm_tls::files::CertFiles { cert, key })
                }
                _ => {
                    return Err(Error::config(
                        "tls",
                        "files mode needs both --tls-cert and --tls-key",
                    ))
                }
            },
            TlsMode::Acme => {
                if args.acme_domains.is_empty() {
                    return Err(Error::config(
                        "acme-domain",
                        "--tls acme needs at least one --acme-domain",
                    ));
                }
                if args.acme_contact.is_empty() {
                    return Err(Error::config("acme-contact", "--tls acme needs an --acme-contact e-mail address (the CA uses it for expiry notices)"));
                }
                if let Some(bad) = args
                    .acme_domains
                    .iter()
                    .find(|d| d.parse::<std::net::IpAddr>().is_ok() || !d.contains('.'))
                {
                    return Err(Error::config(
                        "acme-domain",
                        format!("'{bad}' is not a public DNS name"),
                    ));
                }
                let directory = match (args.acme_directory, args.acme_staging) {
                    (Some(url), _) => url,
                    (None, true) => edgellm_tls::acme::LETS_ENCRYPT_STAGING.into(),
                    (None, false) => edgellm_tls::acme::LETS_ENCRYPT.into(),
                };
                if !directory.starts_with("https://") {
                    return Err(Error::config(
                        "acme-directory",
                        format!("must be an https:// URL, got '{directory}'"),
                    ));
                }
                TlsSource::Acme(edgellm_tls::acme::AcmeSettings {
                    domains: args
                        .acme_domains
                        .iter()
                        .map(|d| d.to_ascii_lowercase())
                        .collect(),
                    contact: args
                        .acme_contact
                        .iter()
                        .map(|c| {
                            if c.starts_with("mailto:") {
                                c.clone()
                            } else {
                                format!("mailto:{c}")
                            }
                        })
                        .collect(),
                    directory,
                    ca_file: args.acme_ca_file,
                    cache_dir: state_dir.join("acme"),
                    retry_max: std::time::Duration::from_secs(args.acme_retry_max_seconds.max(1)),
                })
            }
        };
        Ok(Self {
            tls,
            redirect_listen: args.redirect_listen,
            keys,
            access: edgellm_api::AccessConfig {
                rate_limit,
                trusted_proxies,
                metrics_public: !args.metrics_require_key,
            },
            thermal: edgellm_observe::ThermalConfig {
                limit_celsius: args.thermal_limit_celsius,
                hysteresis_celsius: args.thermal_hysteresis_celsius,
                sensor: args.thermal_sensor,
                poll: Duration::from_millis(args.thermal_poll_ms.max(50)),
            },
            max_connections: at_least("max-connections", args.max_connections, 1)? as usize,
            log_format: args.log_format,
            under_journald: std::env::var_os("JOURNAL_STREAM").is_some(),
            listen: args.listen,
            engine,
            api: ApiLimits {
                max_body_bytes: args.max_body_bytes,
                max_tokens_cap: args.max_tokens,
                queue_capacity: queue,
            },
            state_dir,
            tls_names: args.tls_names,
            handshake_timeout: Duration::from_secs(args.handshake_timeout),
            drain_timeout: Duration::from_secs(args.drain_timeout),
            log_level: args.log_level,
        })
    }
}

/// Resolve `edgellm bench` flags; the state dir only supplies the default model path.
pub fn bench_config(args: BenchArgs) -> Result<(BenchOptions, EngineConfig), Error> {
    let state_dir = StateDirArg { state_dir: None }
        .resolve()
        .unwrap_or_default();
    let BenchArgs {
        engine,
        prompt_words,
        gen_tokens,
        json,
    } = args;
    let mut engine = engine.resolve(&state_dir)?;
    // Four streams are measured; give each a slot.
    engine.parallel = engine.parallel.max(4);
    engine.ctx_size = engine.ctx_size.max(engine.parallel * 512);
    Ok((
        BenchOptions {
            prompt_words,
            gen_tokens,
            json,
        },
        engine,
    ))
}

/// What `edgellm bench` measures, besides the engine settings.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub prompt_words: usize,
    pub gen_tokens: u32,
    pub json: bool,
}

/// OpenMP threads that busy-wait steal the cores from everything else on a small board
/// (measured: generation fell from ~25 to ~1 tok/s with a competing process). Unless the
/// operator chose otherwise, let idle OpenMP threads sleep. Must run before llama.cpp starts.
pub fn default_omp_wait_policy() {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        std::env::set_var("OMP_WAIT_POLICY", "PASSIVE");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<ServeConfig, Error> {
        let mut argv = vec!["edgellm", "serve", "--state-dir", "/tmp/x"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::config("?", e.to_string()))?;
        match cli.command {
            Command::Serve(a) => ServeConfig::from_args(*a),
            _ => unreachable!("serve only"),
        }
    }

    #[test]
    fn defaults_are_valid_and_derived() {
        let c = serve(&["--model", "/m/qwen.gguf"]).unwrap();
        assert_eq!(c.engine.model_id, "qwen");
        assert_eq!(c.listen.port(), 8443);
        assert!(c.engine.threads >= 1);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let err = serve(&["--threads", "0"]).unwrap_err().to_string();
        assert!(err.contains("--threads"), "{err}");
        let err = serve(&["--ubatch-size", "512", "--batch-size", "256"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ubatch-size"), "{err}");
        let err = serve(&["--ctx-size", "128", "--parallel", "4"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ctx-size"), "{err}");
    }

    fn pull(args: &[&str]) -> Result<PullOptions, Error> {
        let mut argv = vec!["edgellm", "pull", "--models-dir", "/m"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::config("?", e.to_string()))?;
        match cli.command {
            Command::Pull(a) => a.resolve(),
            _ => unreachable!("pull only"),
        }
    }

    #[test]
    fn pull_without_url_installs_the_pinned_default_as_model_gguf() {
        let p = pull(&[]).unwrap();
        assert!(p.url.starts_with("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/9217f5db79a29953eb74d5343926648285ec7e67/"), "{}", p.url);
        assert!(
            p.url.ends_with("/qwen2.5-0.5b-instruct-q4_k_m.gguf"),
            "{}",
            p.url
        );
        assert!(!p.url.contains(' '), "{}", p.url);
        assert_eq!(p.sha256.len(), 64);
        assert_eq!(p.name, "model.gguf");
        assert_eq!(p.size, Some(491_400_032));
        assert_eq!(p.models_dir, PathBuf::from("/m"));
    }

    #[test]
    fn pull_with_url_takes_its_name_and_needs_a_hash() {
        let sha = "AB".repeat(32);
        let p = pull(&["https://h/x/m.gguf?download=1", "--sha256", &sha]).unwrap();
        assert_eq!((p.name.as_str(), p.size), ("m.gguf", None));
        assert_eq!(p.sha256, "ab".repeat(32));
        let err = pull(&["https://h/m.gguf"]).unwrap_err().to_string();
        assert!(
            err.contains("--sha256") && err.contains("required"),
            "{err}"
        );
        let err = pull(&["--sha256", &sha]).unwrap_err().to_string();
        assert!(err.contains("--sha256"), "{err}");
        let err = pull(&["ftp://h/m.gguf", "--sha256", &sha])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an http(s) URL"), "{err}");
        let err = pull(&["--name", "../x"]).unwrap_err().to_string();
        assert!(err.contains("--name"), "{err}");
    }
}
