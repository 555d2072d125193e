//! `edgellm serve` flags, validated into [`ServeConfig`].

use super::*;

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

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Also listen for plain HTTP here and answer every request with a 308 to HTTPS.
    #[arg(long, env = "EDGELLM_REDIRECT_LISTEN", value_name = "ADDR:PORT")]
    pub redirect_listen: Option<SocketAddr>,

    /// Advertise the service on the LAN by mDNS/DNS-SD (_https._tcp and _ollama._tcp).
    #[arg(long, env = "EDGELLM_MDNS")]
    pub mdns: bool,

    /// avahi-daemon's socket: while it exists, avahi owns `<hostname>.local` and --mdns
    /// points its service at `<hostname>-edgellm.local`.
    #[arg(
        long,
        env = "EDGELLM_MDNS_AVAHI_SOCKET",
        value_name = "PATH",
        default_value = "/run/avahi-daemon/socket",
        hide = true
    )]
    pub mdns_avahi_socket: PathBuf,

    /// Extra DNS name or IP address for the LAN certificate (repeatable).
    #[arg(
        long = "tls-name",
        env = "EDGELLM_TLS_NAMES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub tls_names: Vec<String>,

    /// How often the LAN certificate is re-checked against the machine's names, addresses and
    /// its expiry while serving, in seconds.
    #[arg(
        long,
        env = "EDGELLM_LAN_RECHECK",
        value_name = "SECS",
        default_value_t = 3600,
        hide = true
    )]
    pub lan_recheck: u64,

    /// How often the status page's history is sampled, in seconds (it keeps an hour).
    #[arg(
        long,
        env = "EDGELLM_STATUS_INTERVAL",
        value_name = "SECS",
        default_value_t = 10,
        hide = true
    )]
    pub status_interval: u64,

    /// Lifetime of a LAN leaf certificate, in seconds [default: a year].
    #[arg(
        long,
        env = "EDGELLM_LAN_LEAF_LIFETIME",
        value_name = "SECS",
        hide = true
    )]
    pub lan_leaf_lifetime: Option<u64>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

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

    /// This board's name in the `x-edgellm-node` response header and /readyz, so a load
    /// balancer's clients can tell which board answered [default: the hostname]
    #[arg(long, env = "EDGELLM_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,

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

    /// Serve beyond loopback without an API key. Without this (and without keys), a daemon
    /// listening beyond loopback generates a key on first start and requires it.
    #[arg(long, env = "EDGELLM_NO_API_KEY")]
    pub no_api_key: bool,

    /// Browser origin allowed to call the API from its pages, e.g. https://ha.home.arpa:8123
    /// (repeatable). Other origins' requests are refused.
    #[arg(
        long = "cors-origin",
        env = "EDGELLM_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Generations one client address (an IPv6 /64) may have queued or running at once
    /// (0: no limit).
    #[arg(
        long,
        env = "EDGELLM_MAX_CLIENT_REQUESTS",
        value_name = "N",
        default_value_t = 4
    )]
    pub max_client_requests: u32,

    /// Require an API key for /metrics too (by default it is open, like the probes).
    #[arg(long, env = "EDGELLM_METRICS_REQUIRE_KEY")]
    pub metrics_require_key: bool,

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

    /// Temperature file to watch [default: the CPU zone of /sys/class/thermal by name, else
    /// the hottest plausible zone].
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

/// The validated daemon configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub tls: TlsSource,
    pub redirect_listen: Option<SocketAddr>,
    pub keys: edgellm_api::ApiKeys,
    pub access: edgellm_api::AccessConfig,
    pub thermal: edgellm_observe::ThermalConfig,
    pub connection: ConnectionLimits,
    /// Serve beyond loopback without a key (`--no-api-key`).
    pub no_api_key: bool,
    pub max_client_requests: Option<usize>,
    pub log_format: LogFormat,
    /// Set when running under systemd's journal (`JOURNAL_STREAM`).
    pub under_journald: bool,
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub engine: EngineConfig,
    pub api: ApiLimits,
    pub tls_names: Vec<String>,
    /// Advertise over mDNS/DNS-SD.
    pub mdns: bool,
    /// Where avahi-daemon's socket would be.
    pub mdns_avahi_socket: PathBuf,
    /// LAN leaf: re-check interval and lifetime.
    pub lan_recheck: Duration,
    pub lan_leaf_lifetime: Duration,
    pub status_interval: Duration,
    pub drain_timeout: Duration,
    pub node_name: String,
    pub log_level: String,
}

/// A browser origin: `scheme://host[:port]`, nothing after it.
fn check_origin(origin: &str) -> Result<String, Error> {
    let origin = origin.trim().trim_end_matches('/');
    let ok = ["https://", "http://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#', ' ', '@']))
    });
    if ok {
        Ok(origin.to_owned())
    } else {
        Err(Error::config(
            "cors-origin",
            format!("'{origin}' is not an origin like https://host:port"),
        ))
    }
}

impl ServeArgs {
    /// Validate every `serve` flag and derive the daemon's settings, once.
    pub fn resolve(self) -> Result<ServeConfig, Error> {
        ServeConfig::from_args(self)
    }
}

impl ServeConfig {
    fn from_args(args: ServeArgs) -> Result<Self, Error> {
        let state_dir = args.state_dir.resolve()?;
        let queue = u64::from(args.engine.queue);
        let engine = args.engine.resolve(&state_dir)?;
        let connection = args.connection.resolve()?;
        let body_timeout = connection.body_timeout;
        let cors_origins = args
            .cors_origins
            .iter()
            .map(|o| check_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
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
        let tls = args.tls.resolve(&state_dir)?;
        Ok(Self {
            tls,
            redirect_listen: args.redirect_listen,
            keys,
            access: edgellm_api::AccessConfig {
                rate_limit,
                trusted_proxies: trusted_proxies.clone(),
                metrics_public: !args.metrics_require_key,
                cors_origins,
            },
            thermal: edgellm_observe::ThermalConfig {
                limit_celsius: args.thermal_limit_celsius,
                hysteresis_celsius: args.thermal_hysteresis_celsius,
                sensor: args.thermal_sensor,
                poll: Duration::from_millis(args.thermal_poll_ms.max(50)),
            },
            connection: ConnectionLimits {
                pooled_peers: trusted_proxies.clone(),
                ..connection
            },
            no_api_key: args.no_api_key,
            max_client_requests: (args.max_client_requests > 0)
                .then_some(args.max_client_requests as usize),
            log_format: args.log_format,
            under_journald: std::env::var_os("JOURNAL_STREAM").is_some(),
            listen: args.listen,
            engine,
            api: ApiLimits {
                max_body_bytes: args.max_body_bytes,
                max_tokens_cap: args.max_tokens,
                queue_capacity: queue,
                body_timeout,
            },
            state_dir,
            tls_names: args.tls_names,
            mdns: args.mdns,
            mdns_avahi_socket: args.mdns_avahi_socket,
            lan_recheck: Duration::from_secs(args.lan_recheck.max(1)),
            status_interval: Duration::from_secs(args.status_interval.clamp(1, 3600)),
            lan_leaf_lifetime: match args.lan_leaf_lifetime {
                Some(secs) if secs < args.lan_recheck.max(1).saturating_mul(3) => {
                    return Err(Error::config(
                        "lan-leaf-lifetime",
                        "must be at least three --lan-recheck intervals, so the leaf is renewed in time",
                    ))
                }
                Some(secs) => Duration::from_secs(secs),
                None => edgellm_tls::lan::LEAF_LIFETIME.unsigned_abs(),
            },
            drain_timeout: Duration::from_secs(args.drain_timeout),
            node_name: node_name(args.node_name)?,
            log_level: args.log_level,
        })
    }
}

/// `--node-name`, else the hostname; it goes into a response header, so it must be a
/// valid header value (visible ASCII, at most 64 bytes).
fn node_name(given: Option<String>) -> Result<String, Error> {
    let name = match given {
        Some(n) => n,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
    };
    if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::config(
            "node-name",
            format!("must be up to 64 visible ASCII characters, got '{name}'"),
        ));
    }
    Ok(name)
}
