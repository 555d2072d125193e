//! The accept loop shared by the HTTPS listener and the plain-HTTP redirect listener, with
//! every connection limit a device on a LAN needs:
//!
//! - a cap on open connections (a semaphore; further clients wait in the kernel's queue),
//!   and per client address (an IPv6 /64), beyond which a connection is closed at once;
//! - TCP keepalive on accepted sockets (socket2), so dead peers are noticed;
//! - one deadline from accept to the end of the first request's headers, TLS handshake
//!   included, on HTTP/1.1 and HTTP/2 alike; HTTP/1.1's later requests get hyper's header
//!   read timeout (which also ends idle keep-alive connections);
//! - an idle timeout: a connection with no request in flight for `--idle-timeout` is closed
//!   (this is what ends idle HTTP/2 connections);
//! - HTTP/2 keep-alive pings and a cap on concurrent streams per connection (hyper);
//! - a write-stall timeout (tokio-io-timeout): a client that stops reading is cut off and
//!   its generation cancelled, so unread answers do not pile up;
//! - accept errors (e.g. out of file descriptors) back off instead of spinning.
//!
//! The request-body deadline (`--body-timeout`) is applied where bodies are read
//! (`edgellm_api::json::JsonBody`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::ConnectionLimits;
use edgellm_api::state::clients::ClientSlots;

/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// After draining, how long idle keep-alive connections get to close cleanly (bounded by
/// what is left of the drain deadline).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalive: first probe after this much silence, then every interval.
const TCP_KEEPALIVE_TIME: Duration = Duration::from_secs(60);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// HTTP/2 pings on a quiet connection, and how long the answer may take.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection speaks below HTTP.
#[derive(Clone)]
pub enum Transport {
    Tls(TlsAcceptor),
    /// Plain TCP: only for the redirect listener.
    Plain,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Serve `app` until `shutdown` resolves with a deadline; then stop accepting, let open
/// connections finish until that deadline, and close the rest.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = Instant>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_client = Arc::new(ClientSlots::new(Some(limits.max_connections_per_client)));
    tokio::pin!(shutdown);
    let deadline = loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break Instant::now(),
            },
            deadline = &mut shutdown => break deadline,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            deadline = &mut shutdown => break deadline,
        };
        // A trusted proxy pools many clients' requests on its connections: it is held to
        // the overall cap only.
        let pooled = limits.pooled_peers.iter().any(|n| n.contains(&peer.ip()));
        let client_permit = if pooled {
            None
        } else {
            let key = edgellm_api::peer::client_key(peer.ip(), &Default::default(), &[]);
            let Some(permit) = per_client.try_acquire(key) else {
                tracing::debug!(%peer, "too many connections from this client; closed");
                continue;
            };
            Some(permit)
        };
        let connection = Connection {
            transport: transport.clone(),
            app: app.clone(),
            limits: limits.clone(),
            peer,
        };
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permits = (permit, client_permit);
            connection.run(tcp, watcher).await;
        });
    };
    drop(listener);
    let close = CLOSE_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(close) => tracing::warn!("closing connections that did not finish"),
    }
}

struct Connection {
    transport: Transport,
    app: Router,
    limits: ConnectionLimits,
    peer: std::net::SocketAddr,
}

impl Connection {
    async fn run(self, tcp: TcpStream, watcher: hyper_util::server::graceful::Watcher) {
        let peer = self.peer;
        let first_deadline = Instant::now() + self.limits.handshake_timeout;
        configure_socket(&tcp);
        let io: Box<dyn Io> = match &self.transport {
            Transport::Plain => Box::new(tcp),
            Transport::Tls(acceptor) => {
                match tokio::time::timeout_at(first_deadline, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => Box::new(stream),
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        };
        let mut io = TimeoutStream::new(io);
        io.set_write_timeout(Some(self.limits.write_timeout));
        let io = TokioIo::new(Box::pin(io));

        let activity = Activity::new();
        let service = {
            let (app, activity) = (self.app.clone(), activity.clone());
            hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let busy = activity.begin();
                let app = app.clone();
                async move {
                    let response = app.oneshot(req).await?;
                    Ok::<_, std::convert::Infallible>(edgellm_api::body::on_end(
                        response,
                        move |_| drop(busy),
                    ))
                }
            })
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.handshake_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(H2_PING_INTERVAL))
            .keep_alive_timeout(H2_PING_TIMEOUT)
            .max_concurrent_streams(self.limits.max_streams);
        let conn = builder.serve_connection_with_upgrades(io, service);
        let conn = watcher.watch(conn.into_owned());
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            why = activity.expired(first_deadline, self.limits.idle_timeout) => {
                tracing::debug!(%peer, why, "closing the connection");
            }
        }
    }
}

fn configure_socket(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_TIME)
        .with_interval(TCP_KEEPALIVE_INTERVAL);
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

/// Requests in flight on one connection, and whether any has arrived yet.
#[derive(Clone)]
struct Activity {
    in_flight: Arc<watch::Sender<usize>>,
    seen: Arc<AtomicBool>,
}

/// Marks one request in flight until dropped (when its response body ends).
struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n -= 1);
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: Arc::new(watch::Sender::new(0)),
            seen: Arc::new(AtomicBool::new(false)),
        }
    }

    fn begin(&self) -> Busy {
        self.seen.store(true, Ordering::Relaxed);
        self.in_flight.send_modify(|n| *n += 1);
        Busy(self.clone())
    }

    /// Resolves when the connection should be closed: no request by `first_deadline`, or no
    /// request in flight for `idle`.
    async fn expired(&self, first_deadline: Instant, idle: Duration) -> &'static str {
        let mut rx = self.in_flight.subscribe();
        let mut deadline = first_deadline;
        let mut why = "no request before the deadline";
        loop {
            if *rx.borrow_and_update() > 0 {
                // Busy: wait for it to become idle, then start the idle clock.
                if rx.wait_for(|n| *n == 0).await.is_err() {
                    return std::future::pending().await;
                }
                deadline = Instant::now() + idle;
                why = "idle";
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if *rx.borrow() == 0 {
                        return why;
                    }
                }
                changed = rx.changed() => {
                    if changed.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
            if self.seen.load(Ordering::Relaxed) && why != "idle" {
                deadline = Instant::now() + idle;
                why = "idle";
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_request_before_the_deadline_closes_and_busy_connections_stay() {
        let a = Activity::new();
        let t0 = Instant::now();
        let why = a
            .expired(t0 + Duration::from_secs(10), Duration::from_secs(60))
            .await;
        assert_eq!(why, "no request before the deadline");
        assert_eq!(t0.elapsed().as_secs(), 10);

        let a = Activity::new();
        let busy = a.begin();
        let watcher = {
            let a = a.clone();
            tokio::spawn(async move {
                a.expired(
                    Instant::now() + Duration::from_secs(10),
                    Duration::from_secs(60),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert!(!watcher.is_finished(), "a request in flight keeps it open");
        drop(busy);
        let t1 = Instant::now();
        assert_eq!(watcher.await.unwrap(), "idle");
        assert_eq!(t1.elapsed().as_secs(), 60);
    }
}
