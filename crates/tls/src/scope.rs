//! What a LAN CA may sign for: X.509 name constraints.
//!
//! A CA that clients trust can sign for any name unless it carries name constraints. So a
//! newly created LAN CA is limited to names and addresses that only exist on a home network:
//! `.local` (mDNS), `.home.arpa` (RFC 8375), `.internal`, `.lan`, `localhost`, the machine's
//! bare host name, the `--tls-name` names given when it is created, and the private,
//! loopback, link-local and CGNAT (Tailscale) address ranges. Someone who steals a board's
//! CA key cannot use it to impersonate a bank to the home lab's clients. The leaf carries
//! only the names and addresses its CA permits (others are left out, with a warning), so a
//! board with a public address still gets a certificate clients accept.

use std::net::IpAddr;

use rcgen::{CidrSubnet, GeneralSubtree, NameConstraints};

/// DNS subtrees every new LAN CA permits.
const HOME_DOMAINS: &[&str] = &["local", "home.arpa", "internal", "lan", "localhost"];

/// Address ranges every new LAN CA permits: (network, prefix length).
const HOME_NETS: &[(&str, u8)] = &[
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("169.254.0.0", 16),
    ("127.0.0.0", 8),
    ("fc00::", 7),
    ("fe80::", 10),
    ("::1", 128),
];

/// The names and networks a CA permits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// DNS subtrees: the name itself and every name under it.
    pub dns: Vec<String>,
    /// Networks: (address, prefix length).
    pub nets: Vec<(IpAddr, u8)>,
}

impl Scope {
    /// The scope of a new LAN CA on a machine called `host`, with the operator's `extra`
    /// names (DNS names and IP addresses from `--tls-name`).
    pub fn for_new_ca(host: Option<&str>, extra: &[String]) -> Self {
        let mut scope = Scope {
            dns: HOME_DOMAINS.iter().map(|d| d.to_string()).collect(),
            nets: HOME_NETS
                .iter()
                .map(|(net, len)| (net.parse().expect("valid network"), *len))
                .collect(),
        };
        for name in host.into_iter().chain(extra.iter().map(String::as_str)) {
            match name.parse::<IpAddr>() {
                Ok(ip) => {
                    if !scope.permits_ip(ip) {
                        scope.nets.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
                    }
                }
                Err(_) => {
                    let name = name.trim_start_matches("*.").to_ascii_lowercase();
                    if !name.is_empty() && !scope.permits_dns(&name) {
                        scope.dns.push(name);
                    }
                }
            }
        }
        scope
    }

    /// The name constraints of the CA certificate in `der`; `None` when it has none (a CA
    /// made before edgellm added them, or brought in with `edgellm ca import`).
    pub fn of_ca(der: &[u8]) -> Option<Self> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let constraints = cert.name_constraints().ok()??.value;
        let permitted = constraints.permitted_subtrees.as_ref()?;
        let mut scope = Scope::default();
        let (mut dns_named, mut ips_named) = (false, false);
        for subtree in permitted {
            match &subtree.base {
                GeneralName::DNSName(name) => {
                    dns_named = true;
                    scope
                        .dns
                        .push(name.trim_start_matches('.').to_ascii_lowercase());
                }
                GeneralName::IPAddress(bytes) => {
                    ips_named = true;
                    if let Some(net) = net_from_bytes(bytes) {
                        scope.nets.push(net);
                    }
                }
                _ => {}
            }
        }
        // RFC 5280 4.2.1.10: a name type the permitted subtrees do not mention is not
        // constrained (an imported CA limited to DNS names still signs for any address).
        if !ips_named {
            scope.nets = vec![(IpAddr::from([0u8; 4]), 0), (IpAddr::from([0u16; 8]), 0)];
        }
        if !dns_named {
            scope.dns = vec![String::new()];
        }
        Some(scope)
    }

    /// Whether `name` is one of the permitted DNS subtrees or under one (an empty subtree:
    /// DNS names are not constrained).
    pub fn permits_dns(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.dns
            .iter()
            .any(|d| d.is_empty() || name == *d || name.ends_with(&format!(".{d}")))
    }

    /// Whether `ip` lies in a permitted network.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|&(net, len)| in_net(ip, net, len))
    }

    /// The X.509 extension.
    pub fn to_name_constraints(&self) -> NameConstraints {
        let mut permitted: Vec<GeneralSubtree> = self
            .dns
            .iter()
            .map(|d| GeneralSubtree::DnsName(d.clone()))
            .collect();
        permitted.extend(
            self.nets.iter().map(|&(net, len)| {
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(net, len))
            }),
        );
        NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: Vec::new(),
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32u32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let len = u32::from(len).min(bits);
    if len == 0 {
        return true;
    }
    let shift = bits - len;
    (ip >> shift) == (net >> shift)
}

/// An iPAddress name constraint: address then mask, 8 or 32 bytes.
fn net_from_bytes(bytes: &[u8]) -> Option<(IpAddr, u8)> {
    let half = bytes.len() / 2;
    let addr: IpAddr = match half {
        4 => <[u8; 4]>::try_from(&bytes[..4]).ok()?.into(),
        16 => <[u8; 16]>::try_from(&bytes[..16]).ok()?.into(),
        _ => return None,
    };
    let prefix = bytes[half..].iter().map(|b| b.count_ones()).sum::<u32>();
    Some((addr, prefix as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_scope_covers_home_names_and_private_ranges_only() {
        let s = Scope::for_new_ca(
            Some("pi"),
            &["llm.home.example.org".into(), "203.0.113.7".into()],
        );
        for ok in [
            "pi",
            "pi.local",
            "a.b.home.arpa",
            "localhost",
            "box.lan",
            "llm.home.example.org",
            "x.llm.home.example.org",
        ] {
            assert!(s.permits_dns(ok), "{ok}");
        }
        for bad in [
            "example.org",
            "home.example.org",
            "bank.com",
            "local.evil.com",
            "xpi",
        ] {
            assert!(!s.permits_dns(bad), "{bad}");
        }
        for ok in [
            "10.1.2.3",
            "172.31.255.1",
            "192.168.1.20",
            "100.100.1.1",
            "127.0.0.1",
            "::1",
            "fd00::2",
            "fe80::1",
            "203.0.113.7",
        ] {
            assert!(s.permits_ip(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "8.8.8.8",
            "172.32.0.1",
            "192.0.2.2",
            "2001:db8::1",
            "203.0.113.8",
        ] {
            assert!(!s.permits_ip(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn the_constraints_read_back_from_a_signed_ca() {
        let scope = Scope::for_new_ca(Some("pi"), &["10.9.8.7".into()]);
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.name_constraints = Some(scope.to_name_constraints());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(Scope::of_ca(cert.der()), Some(scope));
        // A CA without the extension has no scope.
        params.name_constraints = None;
        let plain = params.self_signed(&key).unwrap();
        assert_eq!(Scope::of_ca(plain.der()), None);
    }

    /// An imported CA that constrains DNS names only still signs for any address (RFC 5280:
    /// a name type it does not mention is not constrained); one that names addresses only
    /// leaves DNS names free.
    #[test]
    fn a_name_type_the_ca_does_not_mention_is_not_constrained() {
        let ca = |subtrees: Vec<GeneralSubtree>| {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.name_constraints = Some(NameConstraints {
                permitted_subtrees: subtrees,
                excluded_subtrees: Vec::new(),
            });
            let key = rcgen::KeyPair::generate().unwrap();
            Scope::of_ca(params.self_signed(&key).unwrap().der()).unwrap()
        };
        let dns_only = ca(vec![GeneralSubtree::DnsName("home.example".into())]);
        assert!(dns_only.permits_dns("pi.home.example"));
        assert!(!dns_only.permits_dns("bank.example"));
        assert!(dns_only.permits_ip("192.168.1.20".parse().unwrap()));
        assert!(dns_only.permits_ip("2001:db8::1".parse().unwrap()));
        let ips_only = ca(vec![GeneralSubtree::IpAddress(
            CidrSubnet::from_addr_prefix("10.0.0.0".parse().unwrap(), 8),
        )]);
        assert!(ips_only.permits_dns("anything.example"));
        assert!(ips_only.permits_ip("10.1.2.3".parse().unwrap()));
        assert!(!ips_only.permits_ip("192.168.1.20".parse().unwrap()));
    }
}
