//! Connection limits of the HTTPS and redirect listeners: deadlines, idle and stall
//! timeouts, stream and connection caps. Defaults suit a Pi on a home LAN.

use std::time::Duration;

use clap::Args;

use crate::error::Error;

/// Flags of the listeners' connection limits (part of `edgellm serve`).
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Seconds from accept to the end of the first request's headers (TLS handshake
    /// included), and for each later request's headers on HTTP/1.1.
    #[arg(
        long,
        env = "EDGELLM_HANDSHAKE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 10
    )]
    pub handshake_timeout: u64,

    /// Seconds a keep-alive connection may sit idle (no request in flight) before it is closed.
    #[arg(
        long,
        env = "EDGELLM_IDLE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 60
    )]
    pub idle_timeout: u64,

    /// Seconds a request body may take to arrive in full.
    #[arg(
        long,
        env = "EDGELLM_BODY_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub body_timeout: u64,

    /// Seconds a client may stop reading (a write stalled on a full socket) before its
    /// connection is closed and its generation cancelled.
    #[arg(
        long,
        env = "EDGELLM_WRITE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub write_timeout: u64,

    /// Most concurrent HTTP/2 streams on one connection.
    #[arg(
        long,
        env = "EDGELLM_MAX_STREAMS_PER_CONNECTION",
        value_name = "N",
        default_value_t = 16
    )]
    pub max_streams_per_connection: u32,

    /// Most open connections from one client address (an IPv6 /64); further ones are
    /// closed at once, so one host cannot take every connection.
    #[arg(
        long,
        env = "EDGELLM_MAX_CONNECTIONS_PER_CLIENT",
        value_name = "N",
        default_value_t = 32
    )]
    pub max_connections_per_client: u32,

    /// Most open client connections; further clients wait in the kernel's accept queue.
    #[arg(
        long,
        env = "EDGELLM_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 256
    )]
    pub max_connections: u32,
}

/// Validated connection limits.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub write_timeout: Duration,
    pub max_streams: u32,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Peers exempt from the per-client connection cap: the `--trusted-proxy` balancers,
    /// whose one address carries many clients (each request is still limited per client,
    /// by the address the proxy forwards).
    pub pooled_peers: Vec<ipnet::IpNet>,
}

impl ConnectionArgs {
    pub fn resolve(&self) -> Result<ConnectionLimits, Error> {
        let secs = |flag: &'static str, v: u64| {
            if v == 0 {
                Err(Error::config(flag, "must be at least 1 second"))
            } else {
                Ok(Duration::from_secs(v))
            }
        };
        if self.max_streams_per_connection == 0 {
            return Err(Error::config(
                "max-streams-per-connection",
                "must be at least 1",
            ));
        }
        if self.max_connections == 0 {
            return Err(Error::config(
                "max-connections",
                "must be at least 1, got 0",
            ));
        }
        Ok(ConnectionLimits {
            handshake_timeout: secs("handshake-timeout", self.handshake_timeout)?,
            idle_timeout: secs("idle-timeout", self.idle_timeout)?,
            body_timeout: secs("body-timeout", self.body_timeout)?,
            write_timeout: secs("write-timeout", self.write_timeout)?,
            max_streams: self.max_streams_per_connection,
            max_connections: self.max_connections as usize,
            max_connections_per_client: self.max_connections_per_client.max(1) as usize,
            pooled_peers: Vec::new(),
        })
    }
}
