//! DNS for DNS-01 (hickory): RFC 2136 updates signed with TSIG, TXT queries, the zone of a
//! name, the authoritative servers of a zone, and the wait until a record is visible.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_client::client::{Client, ClientHandle};
use hickory_client::proto::dnssec::tsig::TSigner;
use hickory_client::proto::op::{MessageFinalizer, ResponseCode};
use hickory_client::proto::rr::rdata::TXT;
use hickory_client::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_client::proto::runtime::TokioRuntimeProvider;
use hickory_client::proto::udp::UdpClientStream;
use hickory_client::proto::xfer::DnsResponse;
use hickory_client::proto::ProtoErrorKind;
use hickory_client::{ClientError, ClientErrorKind};

/// TTL of the challenge record: short, so a retry's new value is not hidden by caches.
const TXT_TTL: u32 = 60;

/// `HOST`, `HOST:PORT`, `IP`, `[IPv6]:PORT` -> addresses (port 53 when none is given).
pub async fn resolve(spec: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = spec.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, 53)]);
    }
    let with_port = if spec
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        spec.to_string()
    } else {
        format!("{spec}:53")
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| format!("cannot resolve the DNS server '{spec}': {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("the DNS server '{spec}' has no address"));
    }
    Ok(addrs)
}

fn fqdn(name: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(name).map_err(|e| format!("'{name}' is not a DNS name: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

async fn client(server: SocketAddr, signer: Option<&TSigner>) -> Result<Client, String> {
    let signer = signer.map(|s| Arc::new(s.clone()) as Arc<dyn MessageFinalizer>);
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(Duration::from_secs(5)))
        .with_signer(signer)
        .build();
    let (client, background) = Client::connect(stream)
        .await
        .map_err(|e| format!("DNS server {server}: {e}"))?;
    tokio::spawn(background);
    Ok(client)
}

async fn query(server: SocketAddr, name: &Name, kind: RecordType) -> Result<DnsResponse, String> {
    client(server, None)
        .await?
        .query(name.clone(), DNSClass::IN, kind)
        .await
        .map_err(|e| format!("DNS server {server}, {kind} {name}: {e}"))
}

/// The zone `name` belongs to, as `server` sees it (the owner of the SOA it answers with).
pub async fn zone_of(server: SocketAddr, name: &str) -> Result<Name, String> {
    let name = fqdn(name)?;
    let answer = query(server, &name, RecordType::SOA).await?;
    answer
        .answers()
        .iter()
        .chain(answer.name_servers())
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.name().clone())
        .ok_or_else(|| {
            format!(
                "DNS server {server} names no zone for {name} ({}); is it authoritative for it?",
                answer.response_code()
            )
        })
}

fn txt_record(name: &str, value: &str) -> Result<Record, String> {
    let mut record = Record::from_rdata(
        fqdn(name)?,
        TXT_TTL,
        RData::TXT(TXT::new(vec![value.to_string()])),
    );
    record.set_dns_class(DNSClass::IN);
    Ok(record)
}

fn updated(response: Result<DnsResponse, ClientError>, what: &str) -> Result<(), String> {
    let response = response.map_err(|e| {
        let detail = match e.kind() {
            ClientErrorKind::Proto(p) => p.to_string(),
            other => other.to_string(),
        };
        let timeout = matches!(e.kind(), ClientErrorKind::Timeout)
            || matches!(e.kind(), ClientErrorKind::Proto(p) if matches!(p.kind(), ProtoErrorKind::Timeout));
        if timeout {
            format!("{what}: no answer within 5 s")
        } else {
            // A refused signature comes back unsigned or with an empty MAC, which fails the
            // answer's verification.
            format!("{what}: no validly signed answer; the server did not accept the TSIG key (wrong key name, secret or algorithm, or clocks more than 5 minutes apart): {detail}")
        }
    })?;
    match response.response_code() {
        ResponseCode::NoError => Ok(()),
        ResponseCode::NotAuth => Err(format!(
            "{what}: the server refused the update (NOTAUTH: wrong TSIG key, or the key may not update this zone)"
        )),
        ResponseCode::Refused => Err(format!(
            "{what}: the server refused the update (REFUSED: its update policy does not allow this key or name)"
        )),
        code => Err(format!("{what}: the server answered {code}")),
    }
}

/// Add `value` to (`add`), or remove it from, the TXT records at `name` by an RFC 2136
/// update signed with `key`.
pub async fn update_txt(
    server: SocketAddr,
    key: &TSigner,
    name: &str,
    value: &str,
    add: bool,
) -> Result<(), String> {
    let zone = zone_of(server, name).await?;
    let record = txt_record(name, value)?;
    let mut client = client(server, Some(key)).await?;
    let (response, verb) = if add {
        (client.append(record, zone, false).await, "adding")
    } else {
        (client.delete_by_rdata(record, zone).await, "removing")
    };
    updated(
        response,
        &format!("DNS update at {server} {verb} TXT {name}"),
    )
}

/// The TXT strings at `name` on `server`.
pub async fn txt(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let answer = query(server, &fqdn(name)?, RecordType::TXT).await?;
    Ok(answer
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::TXT(txt) => Some(
                txt.txt_data()
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect())
}

/// The authoritative servers of the zone holding `name`, found through the system's
/// resolvers (`/etc/resolv.conf`): SOA -> zone, NS -> hosts, A/AAAA -> addresses, port 53.
pub async fn authoritative_servers(name: &str) -> Result<Vec<SocketAddr>, String> {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolvers: Vec<SocketAddr> = resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    let resolver = *resolvers
        .first()
        .ok_or("no nameserver in /etc/resolv.conf to find the zone's authoritative servers; set --acme-dns-resolver")?;
    let zone = zone_of(resolver, name).await?;
    let ns = query(resolver, &zone, RecordType::NS).await?;
    let mut servers = Vec::new();
    for host in ns.answers().iter().filter_map(|r| match r.data() {
        RData::NS(ns) => Some(ns.0.clone()),
        _ => None,
    }) {
        for kind in [RecordType::A, RecordType::AAAA] {
            if let Ok(answer) = query(resolver, &host, kind).await {
                servers.extend(answer.answers().iter().filter_map(|r| match r.data() {
                    RData::A(a) => Some(SocketAddr::new(a.0.into(), 53)),
                    RData::AAAA(a) => Some(SocketAddr::new(a.0.into(), 53)),
                    _ => None,
                }));
            }
        }
    }
    if servers.is_empty() {
        return Err(format!(
            "found no authoritative server address for zone {zone}; set --acme-dns-resolver"
        ));
    }
    Ok(servers)
}

/// Wait until every server answers `value` among the TXT records at `name`.
pub async fn wait_visible(
    servers: &[SocketAddr],
    name: &str,
    value: &str,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut waiting: Vec<SocketAddr> = servers.to_vec();
    let mut last_error = String::new();
    loop {
        let mut still = Vec::new();
        for server in waiting {
            match txt(server, name).await {
                Ok(values) if values.iter().any(|v| v == value) => {}
                Ok(_) => still.push(server),
                Err(e) => {
                    last_error = format!(" (last error: {e})");
                    still.push(server);
                }
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the TXT record {name} did not appear at {waiting:?} within {} s{last_error}",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
