//! Who sent a request: the peer address, or behind a `--trusted-proxy` the client it
//! forwards for, and the key per-client limits count under (an IPv4 address, an IPv6 /64).
//! Used by the guards and by the daemon's listener (connections per client).

use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address of `X-Forwarded-For` that is not a trusted proxy itself. Entries are
/// read from the right (the nearest proxy's) and the walk stops at the first one that is not
/// an address: left of it, anything may have been written by the client, so the nearest
/// trusted hop is used instead.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut hop = canonical(peer);
    if !is_trusted(&hop) {
        return hop;
    }
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let Some(ip) = parse_forwarded(entry) else {
            return hop;
        };
        hop = ip;
        if !is_trusted(&hop) {
            return hop;
        }
    }
    hop
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as the IPv4 address they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key limits are counted under: the client's IPv4 address, or its IPv6 /64 (one
/// host usually owns a whole /64 and could otherwise rotate through it).
pub fn client_key(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    match client_ip(peer, headers, trusted) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The limit key of a request, from its connection's peer address.
pub fn request_key<T>(req: &Request<T>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(client_key(peer, req.headers(), trusted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.5".parse().unwrap());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(stranger, &headers, &trusted), stranger);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
    }

    #[test]
    fn a_malformed_forwarded_entry_stops_the_walk_at_the_nearest_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        // The client wrote "6.6.6.6, junk"; the proxy appended nothing usable.
        headers.insert("x-forwarded-for", "6.6.6.6, junk".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &trusted), proxy);
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9:4711".parse().unwrap(),
        );
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_proxies_are_trusted_and_ipv6_clients_share_their_64() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        assert_eq!(
            client_key(mapped, &headers, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let none = HeaderMap::new();
        assert_eq!(client_key(a, &none, &[]), client_key(b, &none, &[]));
        assert_ne!(client_key(a, &none, &[]), client_key(c, &none, &[]));
    }
}
