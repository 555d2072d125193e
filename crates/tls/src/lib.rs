//! edgellm's certificates.
//!
//! - [`store`]: [`CertStore`], the hot-swappable certificate rustls serves from.
//! - `server`: the rustls [`server_config`] (TLS 1.3 + 1.2, ALPN h2 and http/1.1, ring
//!   provider, `acme-tls/1` when ACME validates on the port).
//! - `fs`: private files and directories (keys, the CA, ACME state), written atomically.
//! - `error`: [`TlsError`].
//! - [`lan`]: a persistent local CA and a leaf for this machine's names and addresses.
//! - [`names`]: which names and addresses this machine answers to.
//! - [`scope`]: the name constraints of a new LAN CA (home-network names and addresses).
//! - [`acme`]: certificates from an ACME CA by TLS-ALPN-01, renewed and swapped in place.
//! - [`files`]: operator-provided certificate files, reloaded on change or SIGHUP.
//!
//! One crypto provider for the whole binary: ring (smaller than aws-lc-rs on aarch64 and
//! needs no cmake/Go at build time).
#![forbid(unsafe_code)]

pub mod acme;
mod error;
pub mod files;
mod fs;
pub mod lan;
pub mod names;
pub mod scope;
mod server;
pub mod store;

pub use error::TlsError;
pub use fs::{create_private_dir, write_private};
pub use lan::LanCa;
pub use server::server_config;
pub use store::{fingerprint, CertStore};
