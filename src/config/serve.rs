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

    /// How the ACME CA validates the names: tls-alpn-01 (port 443 reachable from the
    /// internet) or dns-01 (a TXT record; no open port, wildcards allowed).
    #[arg(
        long,
        env = "EDGELLM_ACME_CHALLENGE",
        value_name = "TYPE",
        default_value = "tls-alpn-01"
    )]
    pub acme_challenge: AcmeChallenge,

    /// DNS-01 by RFC 2136 dynamic update: the zone's primary server, HOST[:PORT].
    #[arg(long, env = "EDGELLM_ACME_DNS_SERVER", value_name = "HOST:PORT")]
    pub acme_dns_server: Option<String>,

    /// TSIG key for the RFC 2136 updates, in BIND's key-file format (tsig-keygen).
    #[arg(long, env = "EDGELLM_ACME_DNS_TSIG_KEY", value_name = "FILE")]
    pub acme_dns_tsig_key: Option<PathBuf>,

    /// DNS-01 by hook: an executable run as `PATH set|unset _acme-challenge.<domain> <value>`.
    #[arg(long, env = "EDGELLM_ACME_DNS_HOOK", value_name = "PATH")]
    pub acme_dns_hook: Option<PathBuf>,

    /// DNS servers (HOST[:PORT], repeatable) that must answer the TXT record before the CA
    /// is asked to validate [default: the RFC 2136 server, else the zone's NS servers].
    #[arg(
        long = "acme-dns-resolver",
        env = "EDGELLM_ACME_DNS_RESOLVERS",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub acme_dns_resolvers: Vec<String>,

    /// The longest wait for the TXT record to become visible, in seconds.
    #[arg(
        long,
        env = "EDGELLM_ACME_DNS_WAIT_SECONDS",
        value_name = "SECONDS",
        default_value_t = 300
    )]
    pub acme_dns_wait_seconds: u64,

    /// The longest one DNS-01 order may take, start to certificate, in seconds; the records
    /// are removed afterwards in every case [default: --acme-dns-wait-seconds + 300]
    #[arg(
        long,
        env = "EDGELLM_ACME_ORDER_TIMEOUT_SECONDS",
        value_name = "SECONDS"
    )]
    pub acme_order_timeout_seconds: Option<u64>,

    /// Certificate chain file, PEM (--tls files); reloaded when it changes and on SIGHUP.
    #[arg(long, env = "EDGELLM_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// Private key file, PEM (--tls files).
    #[arg(long, env = "EDGELLM_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

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

impl ServeConfig {
    pub fn from_args(args: ServeArgs) -> Result<Self, Error> {
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
                let challenge = acme_challenge(&AcmeChallengeArgs {
                    challenge: args.acme_challenge,
                    domains: &args.acme_domains,
                    server: &args.acme_dns_server,
                    tsig_key: &args.acme_dns_tsig_key,
                    hook: &args.acme_dns_hook,
                    resolvers: &args.acme_dns_resolvers,
                    wait_seconds: args.acme_dns_wait_seconds,
                    order_seconds: args.acme_order_timeout_seconds,
                })?;
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
                TlsSource::Acme(Box::new(edgellm_tls::acme::AcmeSettings {
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
                    challenge,
                }))
            }
        };
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

/// The challenge settings of `--tls acme`: DNS-01 needs exactly one way to publish the
/// record; wildcards need DNS-01; DNS flags without DNS-01 are a mistake worth naming.
struct AcmeChallengeArgs<'a> {
    challenge: AcmeChallenge,
    domains: &'a [String],
    server: &'a Option<String>,
    tsig_key: &'a Option<PathBuf>,
    hook: &'a Option<PathBuf>,
    resolvers: &'a [String],
    wait_seconds: u64,
    order_seconds: Option<u64>,
}

fn acme_challenge(args: &AcmeChallengeArgs) -> Result<edgellm_tls::acme::Challenge, Error> {
    use edgellm_tls::acme::dns01::{publish::Publisher, tsig::TsigKey, Dns01Settings};
    let dns_flag = [
        (args.server.is_some(), "acme-dns-server"),
        (args.tsig_key.is_some(), "acme-dns-tsig-key"),
        (args.hook.is_some(), "acme-dns-hook"),
        (!args.resolvers.is_empty(), "acme-dns-resolver"),
    ]
    .into_iter()
    .find_map(|(set, name)| set.then_some(name));
    if args.challenge == AcmeChallenge::TlsAlpn01 {
        if let Some(flag) = dns_flag {
            return Err(Error::config(
                flag,
                format!("--{flag} needs --acme-challenge dns-01"),
            ));
        }
        if let Some(wild) = args.domains.iter().find(|d| d.starts_with("*.")) {
            return Err(Error::config(
                "acme-domain",
                format!("'{wild}': wildcard names need --acme-challenge dns-01"),
            ));
        }
        return Ok(edgellm_tls::acme::Challenge::TlsAlpn01);
    }
    if let Some(bad) = args
        .domains
        .iter()
        .find(|d| d.trim_start_matches("*.").contains('*'))
    {
        return Err(Error::config(
            "acme-domain",
            format!("'{bad}': a wildcard may only be the whole first label (*.example.org)"),
        ));
    }
    let publisher = match (&args.server, &args.tsig_key, &args.hook) {
        (Some(_), _, Some(_)) => {
            return Err(Error::config(
                "acme-dns-hook",
                "use either --acme-dns-server (RFC 2136) or --acme-dns-hook, not both",
            ))
        }
        (Some(server), Some(key), None) => Publisher::Rfc2136 {
            server: server.clone(),
            key: TsigKey::load(key).map_err(|e| Error::config("acme-dns-tsig-key", e))?,
        },
        (Some(_), None, None) => {
            return Err(Error::config(
                "acme-dns-tsig-key",
                "--acme-dns-server needs --acme-dns-tsig-key (a BIND key file from tsig-keygen)",
            ))
        }
        (None, Some(_), _) => {
            return Err(Error::config(
                "acme-dns-server",
                "--acme-dns-tsig-key needs --acme-dns-server",
            ))
        }
        (None, None, Some(hook)) => {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(hook).map_err(|e| {
                Error::config("acme-dns-hook", format!("{}: {e}", hook.display()))
            })?;
            if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                return Err(Error::config(
                    "acme-dns-hook",
                    format!("{} is not an executable file", hook.display()),
                ));
            }
            Publisher::Hook(hook.clone())
        }
        (None, None, None) => {
            return Err(Error::config(
                "acme-challenge",
                "dns-01 needs --acme-dns-server with --acme-dns-tsig-key (RFC 2136), or --acme-dns-hook",
            ))
        }
    };
    let propagation_limit = std::time::Duration::from_secs(args.wait_seconds.max(1));
    let order_limit = match args.order_seconds {
        Some(0) => {
            return Err(Error::config(
                "acme-order-timeout-seconds",
                "--acme-order-timeout-seconds must be at least 1",
            ))
        }
        Some(secs) => std::time::Duration::from_secs(secs),
        None => propagation_limit + std::time::Duration::from_secs(300),
    };
    Ok(edgellm_tls::acme::Challenge::Dns01(Dns01Settings {
        publisher,
        resolvers: args.resolvers.to_vec(),
        propagation_limit,
        order_limit,
    }))
}
