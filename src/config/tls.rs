//! `edgellm serve`'s certificate flags (`--tls`, ACME, DNS-01, certificate files), checked
//! into a [`TlsSource`].

use super::*;

/// Where the HTTPS certificate comes from, and how to get it (part of `edgellm serve`).
#[derive(Debug, Args)]
pub struct TlsArgs {
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
}

impl TlsArgs {
    /// The certificate source, every flag checked; ACME state lives under `state_dir`.
    pub fn resolve(self, state_dir: &std::path::Path) -> Result<TlsSource, Error> {
        Ok(match self.tls_mode {
            TlsMode::Lan => TlsSource::Lan,
            TlsMode::Files => match (self.tls_cert, self.tls_key) {
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
                if self.acme_domains.is_empty() {
                    return Err(Error::config(
                        "acme-domain",
                        "--tls acme needs at least one --acme-domain",
                    ));
                }
                if self.acme_contact.is_empty() {
                    return Err(Error::config("acme-contact", "--tls acme needs an --acme-contact e-mail address (the CA uses it for expiry notices)"));
                }
                if let Some(bad) = self
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
                    challenge: self.acme_challenge,
                    domains: &self.acme_domains,
                    server: &self.acme_dns_server,
                    tsig_key: &self.acme_dns_tsig_key,
                    hook: &self.acme_dns_hook,
                    resolvers: &self.acme_dns_resolvers,
                    wait_seconds: self.acme_dns_wait_seconds,
                    order_seconds: self.acme_order_timeout_seconds,
                })?;
                let directory = match (self.acme_directory, self.acme_staging) {
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
                    domains: self
                        .acme_domains
                        .iter()
                        .map(|d| d.to_ascii_lowercase())
                        .collect(),
                    contact: self
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
                    ca_file: self.acme_ca_file,
                    cache_dir: state_dir.join("acme"),
                    retry_max: std::time::Duration::from_secs(self.acme_retry_max_seconds.max(1)),
                    challenge,
                }))
            }
        })
    }
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
