//! A persistent local CA for home labs without a public name.
//!
//! On first start a CA (10 years) and a leaf signed by it are written under
//! `<state-dir>/tls`. Install `ca.pem` on a phone or laptop once and every restart, address
//! change or leaf renewal stays trusted: the CA never changes, only the leaf is reissued
//! when the machine's names or addresses change or it nears expiry (checked at start and,
//! by `serve`, every hour while running). A new CA is name-constrained to home-network
//! names and addresses (see [`crate::scope`]).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::names::Identity;
use crate::scope::Scope;
use crate::store::certified_key;
use crate::{create_private_dir, write_private, TlsError};

/// CA lifetime: long, because users install it by hand.
const CA_DAYS: i64 = 3650;
/// Leaf lifetime: within what Apple accepts for user-installed roots (825 days).
pub const LEAF_LIFETIME: Duration = Duration::days(365);
/// Reissue the leaf when it has less than this left (or a third of its lifetime, if shorter).
const RENEW_BEFORE: Duration = Duration::days(30);

/// The CA on disk.
#[derive(Debug)]
pub struct LanCa {
    dir: PathBuf,
    cert_pem: String,
    key_pem: String,
    leaf_lifetime: Duration,
}

impl LanCa {
    /// Directory under the state dir that holds the CA and the leaf.
    pub fn dir_in(state_dir: &Path) -> PathBuf {
        state_dir.join("tls")
    }

    /// Load the CA from `dir`, creating it (and `dir`, mode 0700) on first use. Creation
    /// happens under an exclusive lock file, so two processes starting on a fresh state dir
    /// (`serve` and `ca show`) end up with the same CA, never a key from one and a
    /// certificate from the other.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        Self::load_or_create_for(dir, &[])
    }

    /// As [`LanCa::load_or_create`]; a CA created now also permits the `extra` names
    /// (`--tls-name`) besides the home-network ones.
    pub fn load_or_create_for(dir: &Path, extra: &[String]) -> Result<Self, TlsError> {
        create_private_dir(dir)?;
        if let Some(ca) = Self::load(dir)? {
            return Ok(ca);
        }
        let _lock = match CreationLock::acquire(&dir.join("ca.lock"))? {
            Some(lock) => lock,
            // Another process created it while we waited.
            None => {
                return Self::load(dir)?.ok_or_else(|| TlsError::Io {
                    path: dir.join("ca.pem"),
                    source: std::io::Error::other(
                        "the CA was not created by the process that held the lock",
                    ),
                })
            }
        };
        if let Some(ca) = Self::load(dir)? {
            return Ok(ca);
        }
        Self::create(dir, extra)
    }

    /// Issue leaves valid for `lifetime` instead of a year (tests; short-lived setups).
    pub fn with_leaf_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.leaf_lifetime = Duration::try_from(lifetime).unwrap_or(LEAF_LIFETIME);
        self
    }

    /// The CA, if both its files are there.
    fn load(dir: &Path) -> Result<Option<Self>, TlsError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if !(cert_path.exists() && key_path.exists()) {
            return Ok(None);
        }
        Ok(Some(Self {
            dir: dir.into(),
            cert_pem: read(&cert_path)?,
            key_pem: read(&key_path)?,
            leaf_lifetime: LEAF_LIFETIME,
        }))
    }

    fn create(dir: &Path, extra: &[String]) -> Result<Self, TlsError> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca.key");
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("edgellm LAN CA ({})", host.trim()),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "edgellm");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let host = host.trim().to_ascii_lowercase();
        let host = (!host.is_empty() && host != "localhost").then_some(host.as_str());
        params.name_constraints = Some(Scope::for_new_ca(host, extra).to_name_constraints());
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(CA_DAYS);
        let cert = params.self_signed(&key)?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        write_private(&cert_path, cert.pem().as_bytes())?;
        tracing::info!(path = %cert_path.display(), "created a new LAN CA");
        Ok(Self {
            dir: dir.into(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            leaf_lifetime: LEAF_LIFETIME,
        })
    }

    /// The CA certificate and its private key as one PEM bundle, for `edgellm ca import`
    /// on another board (so one CA serves the whole home lab). Secret: it can sign.
    pub fn export_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }

    /// Install an exported bundle as the CA in `dir`. The certificate must be a CA and the
    /// key its own. A different CA already there is replaced only with `replace`. The old
    /// leaf is removed, so the next start issues one from the imported CA.
    pub fn import(dir: &Path, bundle: &str, replace: bool) -> Result<Self, TlsError> {
        let bad = |why: &str| {
            TlsError::Import(format!("not a CA bundle from `edgellm ca export`: {why}"))
        };
        let block = |kind: &str| -> Option<String> {
            let begin = format!("-----BEGIN {kind}-----");
            let end = format!("-----END {kind}-----");
            let start = bundle.find(&begin)?;
            let stop = bundle[start..].find(&end)? + start + end.len();
            Some(format!("{}\n", &bundle[start..stop]))
        };
        let cert_pem = block("CERTIFICATE").ok_or_else(|| bad("no certificate"))?;
        let key_pem = block("PRIVATE KEY").ok_or_else(|| bad("no private key"))?;
        let der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| bad("the certificate does not parse"))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|_| bad("the certificate does not parse"))?;
        if !cert.is_ca() {
            return Err(bad("the certificate is not a CA"));
        }
        let key = KeyPair::from_pem(&key_pem).map_err(|_| bad("the key does not parse"))?;
        if key.public_key_raw() != &*cert.public_key().subject_public_key.data {
            return Err(bad("the key does not belong to the certificate"));
        }
        create_private_dir(dir)?;
        if let Some(existing) = Self::load(dir)? {
            if existing.cert_pem.trim() == cert_pem.trim() {
                return Ok(existing);
            }
            if !replace {
                return Err(TlsError::Import(format!(
                    "{} already holds a different CA; pass --force to replace it (clients that trust the old one will need the new one)",
                    dir.display()
                )));
            }
        }
        write_private(&dir.join("ca.key"), key_pem.as_bytes())?;
        write_private(&dir.join("ca.pem"), cert_pem.as_bytes())?;
        for leaf in ["leaf.pem", "leaf.key", "leaf.names"] {
            let _ = std::fs::remove_file(dir.join(leaf));
        }
        Ok(Self {
            dir: dir.into(),
            cert_pem,
            key_pem,
            leaf_lifetime: LEAF_LIFETIME,
        })
    }

    /// The CA certificate (PEM), to install on clients.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    fn cert_der(&self) -> Result<Vec<u8>, TlsError> {
        rustls_pemfile::certs(&mut self.cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .map(|d| d.to_vec())
            .ok_or(TlsError::BadPem {
                path: self.dir.join("ca.pem"),
                what: "certificate",
            })
    }

    /// SHA-256 fingerprint of the CA certificate.
    pub fn fingerprint(&self) -> Result<String, TlsError> {
        Ok(crate::fingerprint(&self.cert_der()?))
    }

    /// What the CA may sign for; `None` when it is not name-constrained.
    pub fn scope(&self) -> Result<Option<Scope>, TlsError> {
        Ok(Scope::of_ca(&self.cert_der()?))
    }

    /// The leaf for `identity`: reused from disk when it covers the same names and is not
    /// near expiry, otherwise issued anew and saved.
    pub fn leaf(&self, identity: &Identity) -> Result<CertifiedKey, TlsError> {
        match self.stored_leaf(identity)? {
            Some(leaf) => Ok(leaf),
            None => self.issue(identity),
        }
    }

    /// A new leaf when the stored one no longer fits `identity` or nears expiry; `None`
    /// while it does (the periodic re-check while serving). A CA replaced on disk meanwhile
    /// (`edgellm ca import --force` beside the running daemon) is taken up first, so the
    /// new leaf is its own: never one signed by the old CA stored beside the new one.
    pub fn renewed_leaf(&mut self, identity: &Identity) -> Result<Option<CertifiedKey>, TlsError> {
        if let Some(disk) = Self::load(&self.dir)? {
            if disk.cert_pem.trim() != self.cert_pem.trim() {
                // `import` writes the key first: between the two writes the pair is torn.
                if !pair_matches(&disk.cert_pem, &disk.key_pem) {
                    return Ok(None);
                }
                tracing::warn!(
                    fingerprint = %disk.fingerprint()?,
                    "the LAN CA was replaced on disk; its leaf goes into service"
                );
                self.cert_pem = disk.cert_pem;
                self.key_pem = disk.key_pem;
            }
        }
        match self.stored_leaf(identity)? {
            Some(_) => Ok(None),
            None => self.issue(identity).map(Some),
        }
    }

    /// The names and addresses of `identity` this CA may sign for; with `warn`, the rest
    /// are named in a warning.
    fn scoped(&self, identity: &Identity, warn: bool) -> Result<Identity, TlsError> {
        let Some(scope) = self.scope()? else {
            return Ok(identity.clone());
        };
        let mut kept = identity.clone();
        kept.dns.retain(|d| scope.permits_dns(d));
        kept.ips.retain(|ip| scope.permits_ip(*ip));
        let dropped: Vec<String> = identity
            .dns
            .difference(&kept.dns)
            .cloned()
            .chain(identity.ips.difference(&kept.ips).map(|ip| ip.to_string()))
            .collect();
        if warn && !dropped.is_empty() {
            tracing::warn!(
                ?dropped,
                "left out of the LAN certificate: outside what its CA may sign for (home-network names and private addresses); see docs/https.md to rotate the CA"
            );
        }
        Ok(kept)
    }

    /// The leaf on disk, if it covers `identity` (as scoped) and is not near expiry.
    fn stored_leaf(&self, identity: &Identity) -> Result<Option<CertifiedKey>, TlsError> {
        let identity = self.scoped(identity, false)?;
        let wanted = self.leaf_record(&identity)?;
        let (Ok(cert), Ok(key), Ok(names)) = (
            read(&self.dir.join("leaf.pem")),
            read(&self.dir.join("leaf.key")),
            read(&self.dir.join("leaf.names")),
        ) else {
            return Ok(None);
        };
        let (expiry, stored) = names.split_once('\n').unwrap_or(("0", ""));
        let expiry: i64 = expiry.trim().parse().unwrap_or(0);
        let renew_before = RENEW_BEFORE.min(self.leaf_lifetime / 3);
        let fresh =
            expiry - OffsetDateTime::now_utc().unix_timestamp() > renew_before.whole_seconds();
        if fresh && stored == wanted {
            return certified_key(&format!("{cert}{}", self.cert_pem), &key).map(Some);
        }
        tracing::info!(
            "the machine's names or addresses changed, or the leaf nears expiry: reissuing"
        );
        Ok(None)
    }

    /// What `leaf.names` says of a leaf for `identity` beside its expiry: the names and the
    /// CA that signed it (a leaf from another CA is never reused).
    fn leaf_record(&self, identity: &Identity) -> Result<String, TlsError> {
        Ok(format!(
            "{}\nca {}",
            identity.to_lines(),
            self.fingerprint()?
        ))
    }

    /// Issue, save and return a leaf for `identity` (as scoped).
    fn issue(&self, identity: &Identity) -> Result<CertifiedKey, TlsError> {
        let identity = &self.scoped(identity, true)?;
        let wanted = self.leaf_record(identity)?;
        let (cert_path, key_path, names_path) = (
            self.dir.join("leaf.pem"),
            self.dir.join("leaf.key"),
            self.dir.join("leaf.names"),
        );
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let cn = identity
            .dns
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| "edgellm".into());
        params.distinguished_name.push(DnType::CommonName, cn);
        for dns in &identity.dns {
            params
                .subject_alt_names
                .push(SanType::DnsName(dns.clone().try_into()?));
        }
        for ip in &identity.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + self.leaf_lifetime;
        let ca_key = KeyPair::from_pem(&self.key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, ca_key)?;
        let cert = params.signed_by(&key, &issuer)?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        write_private(&cert_path, cert.pem().as_bytes())?;
        let names = format!("{}\n{wanted}", params.not_after.unix_timestamp());
        write_private(&names_path, names.as_bytes())?;
        certified_key(
            &format!("{}{}", cert.pem(), self.cert_pem),
            &key.serialize_pem(),
        )
    }
}

/// Whether `key_pem` is the key of the certificate in `cert_pem`.
fn pair_matches(cert_pem: &str, key_pem: &str) -> bool {
    let Some(der) = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .next()
        .and_then(Result::ok)
    else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    KeyPair::from_pem(key_pem)
        .is_ok_and(|k| k.public_key_raw() == &*cert.public_key().subject_public_key.data)
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

/// How long a process waits for another to finish creating the CA before it takes the
/// lock over (the other one died holding it).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusively created lock file, removed on drop.
struct CreationLock(PathBuf);

impl CreationLock {
    /// `Some` when this process holds the lock; `None` when another process held it and
    /// has finished (its CA files appeared).
    fn acquire(path: &Path) -> Result<Option<Self>, TlsError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(Some(Self(path.into()))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if LanCa::load(dir)?.is_some() {
                        return Ok(None);
                    }
                    if std::time::Instant::now() > deadline {
                        tracing::warn!(lock = %path.display(), "removing a stale CA lock");
                        let _ = std::fs::remove_file(path);
                        continue;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(TlsError::Io {
                        path: path.into(),
                        source,
                    })
                }
            }
        }
    }
}

impl Drop for CreationLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rustls's own certificate verification (webpki), trusting only `ca`.
    fn verify(
        ca: &LanCa,
        chain: &[rustls::pki_types::CertificateDer<'static>],
        name: &str,
    ) -> Result<(), rustls::Error> {
        use rustls::client::danger::ServerCertVerifier;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().unwrap().into()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &name,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn a_new_ca_is_name_constrained_and_clients_refuse_leaves_outside_it() {
        let dir = std::env::temp_dir().join(format!("edgellm-ca-scope-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = LanCa::load_or_create_for(&dir, &["llm.home.example.org".into()]).unwrap();
        let scope = ca.scope().unwrap().expect("a new CA has name constraints");
        assert!(scope.permits_dns("llm.home.example.org") && !scope.permits_dns("example.org"));
        // The leaf leaves out what the CA may not sign for, and clients accept it.
        let mut id = Identity::default();
        id.dns.extend([
            "localhost".into(),
            "pi.local".into(),
            "llm.home.example.org".into(),
            "bank.example.com".into(),
        ]);
        id.ips.extend([
            "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
            "8.8.8.8".parse().unwrap(),
        ]);
        let leaf = ca.leaf(&id).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf.cert[0]).unwrap();
        let sans = format!(
            "{:?}",
            cert.subject_alternative_name().unwrap().unwrap().value
        );
        assert!(
            sans.contains("pi.local") && !sans.contains("bank.example.com"),
            "{sans}"
        );
        assert!(!sans.contains("[8, 8, 8, 8]"), "{sans}");
        for name in ["pi.local", "localhost", "llm.home.example.org", "127.0.0.1"] {
            verify(&ca, &leaf.cert, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // Someone holding the CA key signs for a bank: clients refuse it.
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["bank.example.com".to_string()]).unwrap();
        params.use_authority_key_identifier_extension = true;
        let issuer =
            Issuer::from_ca_cert_pem(&ca.cert_pem, KeyPair::from_pem(&ca.key_pem).unwrap())
                .unwrap();
        let rogue = params.signed_by(&key, &issuer).unwrap();
        let chain = vec![rogue.der().clone(), ca.cert_der().unwrap().into()];
        let err = verify(&ca, &chain, "bank.example.com").unwrap_err();
        assert!(format!("{err:?}").contains("NameConstraint"), "{err:?}");
        // A leaf within the scope, signed the same way, is accepted.
        let params = CertificateParams::new(vec!["other.home.arpa".to_string()]).unwrap();
        let fine = params.signed_by(&key, &issuer).unwrap();
        let chain = vec![fine.der().clone(), ca.cert_der().unwrap().into()];
        verify(&ca, &chain, "other.home.arpa").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_short_lived_leaf_is_renewed_when_a_third_of_its_life_is_left() {
        let dir = std::env::temp_dir().join(format!("edgellm-ca-renew-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut ca = LanCa::load_or_create(&dir)
            .unwrap()
            .with_leaf_lifetime(std::time::Duration::from_secs(3));
        let id = Identity::of_this_machine(&[]);
        let first = ca.leaf(&id).unwrap();
        assert!(ca.renewed_leaf(&id).unwrap().is_none(), "renewed at once");
        std::thread::sleep(std::time::Duration::from_millis(2200));
        let second = ca.renewed_leaf(&id).unwrap().expect("renewed near expiry");
        assert_ne!(first.cert[0], second.cert[0]);
        let mut other = id.clone();
        other.dns.insert("new-name.local".into());
        assert!(
            ca.renewed_leaf(&other).unwrap().is_some(),
            "renewed for a new name"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_exported_ca_imports_on_another_board_and_bad_bundles_are_refused() {
        let base = std::env::temp_dir().join(format!("edgellm-ca-io-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (a, b, c) = (base.join("a"), base.join("b"), base.join("c"));
        let first = LanCa::load_or_create(&a).unwrap();
        let bundle = first.export_pem();
        let imported = LanCa::import(&b, &bundle, false).unwrap();
        assert_eq!(
            imported.fingerprint().unwrap(),
            first.fingerprint().unwrap()
        );
        // What the daemon loads afterwards is the imported CA, and its leaves chain to it.
        let loaded = LanCa::load_or_create(&b).unwrap();
        assert_eq!(loaded.fingerprint().unwrap(), first.fingerprint().unwrap());
        let leaf = loaded.leaf(&Identity::of_this_machine(&[])).unwrap();
        assert_eq!(leaf.cert.len(), 2);
        // A board with its own CA keeps it unless told to replace it.
        let own = LanCa::load_or_create(&c).unwrap();
        let err = LanCa::import(&c, &bundle, false).unwrap_err().to_string();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(
            LanCa::load_or_create(&c).unwrap().fingerprint().unwrap(),
            own.fingerprint().unwrap()
        );
        LanCa::import(&c, &bundle, true).unwrap();
        assert_eq!(
            LanCa::load_or_create(&c).unwrap().fingerprint().unwrap(),
            first.fingerprint().unwrap()
        );
        // A key from another CA, a certificate alone, garbage.
        let mismatched = format!("{}{}", first.cert_pem(), own.key_pem);
        let err = LanCa::import(&base.join("d"), &mismatched, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not belong"), "{err}");
        assert!(LanCa::import(&base.join("d"), first.cert_pem(), false).is_err());
        assert!(LanCa::import(&base.join("d"), "hello", false).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// `ca import --force` beside a running daemon: its hourly re-check used to sign a leaf
    /// with the old CA into the new CA's directory, served with the new chain after a restart.
    #[test]
    fn a_ca_replaced_while_serving_signs_the_next_leaf() {
        let base = std::env::temp_dir().join(format!("edgellm-ca-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (dir, other) = (base.join("board"), base.join("other"));
        let identity = Identity::of_this_machine(&[]);
        let mut running = LanCa::load_or_create(&dir).unwrap();
        running.leaf(&identity).unwrap();
        let new = LanCa::load_or_create(&other).unwrap();
        LanCa::import(&dir, &new.export_pem(), true).unwrap();
        let leaf = running
            .renewed_leaf(&identity)
            .unwrap()
            .expect("a leaf from the new CA");
        assert_eq!(running.fingerprint().unwrap(), new.fingerprint().unwrap());
        verify(&new, &leaf.cert, "localhost").unwrap();
        // What a restart loads: the stored leaf, signed by the new CA.
        let restarted = LanCa::load_or_create(&dir).unwrap();
        let stored = restarted.leaf(&identity).unwrap();
        assert_eq!(stored.cert[0], leaf.cert[0]);
        verify(&new, &stored.cert, "localhost").unwrap();
        // A leaf signed by another CA is not reused even when its names fit.
        let third = base.join("third");
        let mut third_ca = LanCa::load_or_create(&third).unwrap();
        for f in ["leaf.pem", "leaf.key", "leaf.names"] {
            std::fs::copy(dir.join(f), third.join(f)).unwrap();
        }
        let fresh = third_ca.renewed_leaf(&identity).unwrap().expect("reissued");
        verify(&third_ca, &fresh.cert, "localhost").unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn ca_persists_and_leaf_is_reused_until_names_change() {
        let dir = std::env::temp_dir().join(format!("edgellm-lan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = LanCa::load_or_create(&dir).unwrap();
        let again = LanCa::load_or_create(&dir).unwrap();
        assert_eq!(ca.fingerprint().unwrap(), again.fingerprint().unwrap());
        let id = Identity::of_this_machine(&[]);
        let a = ca.leaf(&id).unwrap();
        let b = ca.leaf(&id).unwrap();
        assert_eq!(
            a.cert[0], b.cert[0],
            "same names: the stored leaf is reused"
        );
        let other = Identity::of_this_machine(&["llm.home.arpa".into()]);
        let c = ca.leaf(&other).unwrap();
        assert_ne!(a.cert[0], c.cert[0], "new names: a new leaf");
        assert_eq!(c.cert.len(), 2, "the chain includes the CA");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn processes_creating_the_ca_at_once_all_get_the_same_one() {
        let dir = std::env::temp_dir().join(format!("edgellm-lan-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cas: Vec<(String, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let ca = LanCa::load_or_create(&dir).unwrap();
                        (ca.cert_pem, ca.key_pem)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = (
            std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
            std::fs::read_to_string(dir.join("ca.key")).unwrap(),
        );
        assert!(cas.iter().all(|ca| *ca == on_disk), "one CA for everyone");
        assert!(!dir.join("ca.lock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_written_side_by_side_never_share_a_temp_file_and_private_dirs_need_no_chmod() {
        let dir = std::env::temp_dir().join(format!("edgellm-lan-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir(&dir).unwrap();
        // leaf.pem and leaf.key once shared "leaf.tmp"; written from two threads at once
        // the key could land in the certificate's file.
        let (a, b) = (dir.join("leaf.pem"), dir.join("leaf.key"));
        std::thread::scope(|s| {
            for _ in 0..50 {
                s.spawn(|| crate::write_private(&a, b"CERT").unwrap());
                s.spawn(|| crate::write_private(&b, b"KEY").unwrap());
            }
        });
        assert_eq!(std::fs::read(&a).unwrap(), b"CERT");
        assert_eq!(std::fs::read(&b).unwrap(), b"KEY");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 2, "no temp files left behind");
        // An already private directory is accepted even where chmod would fail: make the
        // parent read-only is not enough for root, so check the no-chmod path directly.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o500, "a private dir is left as it is");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
