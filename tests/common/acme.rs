//! ACME test parts: Pebble (Let's Encrypt's test CA) with pebble-challtestsrv, started by
//! the tests and stopped on drop, and clients that trust only Pebble's root.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub const DOMAIN: &str = "llm.edgellm.test";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pebble plus pebble-challtestsrv (DNS answering 127.0.0.1 for every name), killed on drop.
pub struct Pebble {
    children: Vec<Child>,
    pub dir: TempDir,
    dir_port: u16,
    mgmt_port: u16,
    /// pebble-challtestsrv's DNS port and its management API port.
    pub dns_port: u16,
    pub chall_mgmt: u16,
    /// Where Pebble resolves names [default: challtestsrv], e.g. a BIND9 for DNS-01.
    pub dns_server: Option<String>,
}

impl Pebble {
    /// Prepare and start. `tls_port`: where Pebble's validator dials the daemon.
    pub fn start(tls_port: u16, validity: Duration) -> Pebble {
        let mut p = Pebble::prepare(tls_port, validity);
        p.run();
        p
    }

    /// Write Pebble's certificate and configuration; start nothing yet.
    pub fn prepare(tls_port: u16, validity: Duration) -> Pebble {
        let dir = TempDir::new("pebble");
        // Pebble's own HTTPS certificate, from a throwaway CA.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pebble test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let (dir_port, mgmt_port, dns_port, chall_mgmt) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{dir_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": 5002,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity.as_secs(),
        }});
        std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
        Pebble {
            children: Vec::new(),
            dir,
            dir_port,
            mgmt_port,
            dns_port,
            chall_mgmt,
            dns_server: None,
        }
    }

    /// Start challtestsrv and Pebble, and wait until Pebble answers.
    pub fn run(&mut self) {
        let log = |name: &str| std::fs::File::create(self.dir.path().join(name)).unwrap();
        let dns = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{}", self.dns_port),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{}", self.chall_mgmt)])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble) is installed by tests/setup.sh");
        self.children.push(dns);
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(self.dir.path().join("pebble.json"))
            .args([
                "-dnsserver",
                &self
                    .dns_server
                    .clone()
                    .unwrap_or_else(|| format!("127.0.0.1:{}", self.dns_port)),
                "-strict=false",
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble is installed by tests/setup.sh");
        self.children.push(pebble);
        self.root();
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.dir_port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The issuing root of this Pebble run (it changes at every start).
    pub fn root(&self) -> Vec<u8> {
        let client = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(self.ca_file()).unwrap()).unwrap(),
            )
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client
                .get(format!("https://127.0.0.1:{}/roots/0", self.mgmt_port))
                .send()
            {
                if r.status() == 200 {
                    return r.bytes().unwrap().to_vec();
                }
            }
            assert!(
                Instant::now() < deadline,
                "pebble did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The certificate `host` is served on `addr`, if a client trusting only `root_pem` accepts it.
pub fn served_cert(addr: SocketAddr, host: &str, root_pem: &[u8]) -> Result<Vec<u8>, String> {
    let client = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem).map_err(|e| e.to_string())?)
        .resolve(host, addr)
        .tls_info(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("https://[{ip}]:{}/healthz", addr.port()),
        _ => format!("https://{host}:{}/healthz", addr.port()),
    };
    let r = client.get(url).send().map_err(|e| format!("{e:?}"))?;
    if r.status() != 200 {
        return Err(format!("status {}", r.status()));
    }
    let info = r
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .ok_or("no TLS info")?;
    Ok(info
        .peer_certificate()
        .ok_or("no peer certificate")?
        .to_vec())
}

pub fn wait_for_cert(
    addr: SocketAddr,
    root: &[u8],
    timeout: Duration,
    not: Option<&[u8]>,
) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match served_cert(addr, DOMAIN, root) {
            Ok(der) if Some(der.as_slice()) != not => return der,
            Ok(_) => last = "still the old certificate".into(),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("no (new) certificate chaining to Pebble's root after {timeout:?}: {last}");
}

pub fn not_after(der: &[u8]) -> i64 {
    x509_parser::parse_x509_certificate(der)
        .unwrap()
        .1
        .validity()
        .not_after
        .timestamp()
}

/// GET `path` from `DOMAIN` at `addr`, trusting only `root` (e.g. Pebble's).
pub fn served_text(addr: SocketAddr, root: &[u8], path: &str) -> String {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root).unwrap())
        .resolve(DOMAIN, addr)
        .build()
        .unwrap()
        .get(format!("https://{DOMAIN}:{}{path}", addr.port()))
        .send()
        .unwrap()
        .text()
        .unwrap()
}
