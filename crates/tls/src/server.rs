//! The rustls server configuration the listener uses.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::server::ResolvesServerCert;

use crate::TlsError;

/// rustls config: TLS 1.3 and 1.2, ALPN h2 then http/1.1 (plus `acme-tls/1` when ACME
/// validates on this port), certificates from `resolver`.
pub fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    acme: bool,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme {
        config.alpn_protocols.push(crate::acme::ACME_ALPN.to_vec());
    }
    Ok(config)
}
