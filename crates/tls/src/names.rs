//! The names and addresses this machine answers to, for the LAN certificate.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// DNS names and IP addresses a certificate should cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub dns: BTreeSet<String>,
    pub ips: BTreeSet<IpAddr>,
}

impl Identity {
    /// `extra` names from the operator, the hostname, `<hostname>.local`, `localhost`,
    /// loopback addresses and every non-loopback interface address.
    pub fn of_this_machine(extra: &[String]) -> Self {
        let mut id = Identity::default();
        id.dns.insert("localhost".into());
        if let Some(host) = hostname() {
            id.dns.insert(format!("{host}.local"));
            id.dns.insert(host);
        }
        for name in extra {
            match name.parse::<IpAddr>() {
                Ok(ip) => id.ips.insert(ip),
                Err(_) => id.dns.insert(name.to_ascii_lowercase()),
            };
        }
        id.ips.insert(IpAddr::from([127, 0, 0, 1]));
        id.ips.insert(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        if let Ok(ifaces) = if_addrs::get_if_addrs() {
            for iface in ifaces {
                let ip = iface.ip();
                // Link-local IPv6 addresses need a zone and are not usable in URLs.
                let link_local_v6 =
                    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
                if !link_local_v6 {
                    id.ips.insert(ip);
                }
            }
        }
        id
    }

    /// A stable one-line-per-entry form, stored beside the leaf to notice changes.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for d in &self.dns {
            out.push_str(&format!("dns {d}\n"));
        }
        for ip in &self.ips {
            out.push_str(&format!("ip {ip}\n"));
        }
        out
    }
}

/// The kernel host name, lower-cased (none when empty or "localhost").
pub fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    (!name.is_empty() && name != "localhost").then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_covers_loopback_and_extra_names() {
        let id = Identity::of_this_machine(&["Pi.Example.org".into(), "10.1.2.3".into()]);
        assert!(id.dns.contains("localhost"));
        assert!(id.dns.contains("pi.example.org"));
        assert!(id.ips.contains(&"127.0.0.1".parse().unwrap()));
        assert!(id.ips.contains(&"::1".parse().unwrap()));
        assert!(id.ips.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!id.dns.iter().any(|d| d.starts_with("*.")));
    }
}
