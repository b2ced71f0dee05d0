//! The accept loop: TCP, optional TLS, HTTP/1.1 and HTTP/2 (hyper), under the `[http]` limits,
//! and graceful shutdown.
//!
//! - At `max_connections`, the connection idle the longest (no request in flight: an idle
//!   keep-alive socket, a half-sent request head) is closed to make room for the newcomer; if
//!   every connection has a request in flight, the newcomer waits (and those after it in the
//!   kernel's backlog) until one finishes. A flood of idle sockets therefore never locks out a
//!   client that sends a request, and no request in flight is ever dropped to make room.
//! - The watchdog (the `conn` module) closes a connection after the header-read
//!   timeout (TLS handshake, first request head, any head from its first byte) or the idle
//!   timeout (keep-alive wait), never while a request is in flight.
//! - On shutdown: stop accepting, close every connection without a request in flight, let the
//!   others finish (no keep-alive, HTTP/2 GOAWAY) up to the shutdown timeout, then drop them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::config::{HttpConfig, TlsConfig};
pub use crate::conn::Limits;
use crate::conn::{ConnInfo, Handler, Registered, Registry, Shared, watchdog};

/// File descriptors kept for everything but client connections (the listener, the database
/// and its WAL, logs, the runtime).
const RESERVED_FDS: u64 = 64;

/// The limits `[http]` asks for, `max_connections` lowered to what the process's open-file
/// limit leaves room for (with a warning).
pub fn limits(http: &HttpConfig) -> Result<Limits, String> {
    http.check()?;
    let mut max_connections = http.max_connections;
    if let Some(fds) = open_files_limit() {
        let room = usize::try_from(fds.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
        if room < max_connections {
            tracing::warn!(
                configured = max_connections,
                open_files_limit = fds,
                using = room,
                "http.max_connections lowered to fit the open-file limit (RLIMIT_NOFILE); raise it with ulimit -n"
            );
            max_connections = room;
        }
    }
    Ok(Limits {
        max_connections,
        header_read: Duration::from_secs(http.header_read_timeout_secs),
        idle: Duration::from_secs(http.idle_timeout_secs),
        body_read: Duration::from_secs(http.body_read_timeout_secs),
        shutdown: Duration::from_secs(http.shutdown_timeout_secs),
    })
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux); `None` where unknown or unlimited.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// The TLS acceptor for `[tls]`: the certificate chain and key from PEM files, ALPN h2 and
/// http/1.1.
pub fn tls_acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot load the TLS certificate {}: {e}", tls.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("cannot load the TLS certificate {}: no certificate in it", tls.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| key_error(&tls.key, &e))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("cannot load the TLS certificate or key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn key_error(path: &Path, e: &rustls::pki_types::pem::Error) -> String {
    // The error describes the file's structure, never its contents.
    format!("cannot load the TLS key {}: {e}", path.display())
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog enforces the header-read and idle timeouts. hyper's own header timer is off:
    // it would start when a keep-alive connection begins waiting (so it would also cut idle
    // keep-alive at the header timeout), and it costs a boxed timer armed and cancelled on every
    // request, for nothing the watchdog does not already do.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` completes, then
/// drains connections as the module documentation says.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry::default());
    let shared = Arc::new(Shared { app, builder: builder(), limits, registry: registry.clone() });
    // Stopped with this function, however it ends (returned, or its future dropped).
    let _watchdog = AbortOnDrop(tokio::spawn(watchdog(registry, limits)));
    tokio::pin!(shutdown);
    let mut last_error_log: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(error = %e, "accept failed");
                    last_error_log = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        if !make_room(&shared, &mut shutdown).await {
            break;
        }
        let _ = tcp.set_nodelay(true);
        let info = shared.registry.add();
        tokio::spawn(connection(tcp, peer, tls.clone(), info, shared.clone()));
    }
    drop(listener);
    let open = shared.registry.len();
    tracing::info!(
        connections = open,
        deadline_secs = limits.shutdown.as_secs(),
        "shutting down: not accepting; closing idle connections, finishing requests in flight"
    );
    shared.registry.drain_all();
    if tokio::time::timeout(limits.shutdown, shared.registry.wait_empty()).await.is_err() {
        let cut = shared.registry.kill_all();
        tracing::warn!(connections = cut, "shutdown deadline reached: dropping requests still in flight");
        let _ = tokio::time::timeout(Duration::from_secs(1), shared.registry.wait_empty()).await;
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// At the limit, closes the idlest connection, or waits until one is idle or gone. False if
/// shutdown came first.
async fn make_room<H, F: Future<Output = ()>>(shared: &Shared<H>, shutdown: &mut Pin<&mut F>) -> bool {
    let changed = shared.registry.changed();
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let _waiting = changed.waiting();
        if shared.registry.open() < shared.limits.max_connections || shared.registry.evict_idlest() {
            return true;
        }
        tokio::select! {
            () = shutdown.as_mut() => return false,
            () = notified => {}
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

async fn connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    info: Arc<ConnInfo>,
    shared: Arc<Shared<H>>,
) {
    let _registered = Registered::new(shared.registry.clone(), &info);
    let Some(acceptor) = tls else {
        crate::conn::serve(tcp, peer, info, &shared).await;
        return;
    };
    // No request is in flight during the handshake: the watchdog's header-read timeout, the
    // accept loop's eviction and shutdown all close it at once (the task then drops it here).
    let stream = tokio::select! {
        r = acceptor.accept(tcp) => match r {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
        },
        () = info.signalled() => return,
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        info.set_h2();
    }
    crate::conn::serve(stream, peer, info, &shared).await;
}

/// The local address, for the "listening on" line.
pub fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener.local_addr().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn limits(max_connections: usize) -> Limits {
        Limits {
            max_connections,
            header_read: Duration::from_millis(300),
            idle: Duration::from_millis(600),
            body_read: Duration::from_secs(5),
            shutdown: Duration::from_secs(2),
        }
    }

    /// Answers every request `ok`.
    struct Ok200;

    impl Handler for Ok200 {
        async fn call(&self, _: http::Request<hyper::body::Incoming>, _: SocketAddr) -> http::Response<Full<Bytes>> {
            http::Response::new(Full::new(Bytes::from_static(b"ok")))
        }
    }

    async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(tcp, None, Arc::new(Ok200), limits, async move {
            let _ = stopped.await;
        }));
        (addr, stop, task)
    }

    /// Reads until EOF or reset; how long it took, `None` if still open after `within`.
    async fn closed(sock: &mut TcpStream, within: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at((t0 + within).into(), sock.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => return Some(t0.elapsed()),
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn get(sock: &mut TcpStream) -> String {
        sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut buf = vec![0u8; 1024];
        let n = sock.read(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Listings stop when their request future is dropped (see the store's listing tests): this
    /// is what drops it when the client goes away mid-request.
    #[tokio::test]
    async fn a_request_whose_client_goes_away_is_cancelled() {
        struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        /// Never answers; says when it started, and when its future is dropped.
        struct Pending {
            dropped: parking_lot::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
            started: parking_lot::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
        }
        impl Handler for Pending {
            fn call(
                &self,
                _: http::Request<hyper::body::Incoming>,
                _: SocketAddr,
            ) -> impl Future<Output = http::Response<Full<Bytes>>> + Send {
                let guard = Dropped(self.dropped.lock().take());
                let started = self.started.lock().take();
                async move {
                    let _guard = guard;
                    if let Some(tx) = started {
                        let _ = tx.send(());
                    }
                    std::future::pending().await
                }
            }
        }
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let app = Arc::new(Pending {
            dropped: parking_lot::Mutex::new(Some(dropped_tx)),
            started: parking_lot::Mutex::new(Some(started_tx)),
        });
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let limits = Limits { idle: Duration::from_secs(30), header_read: Duration::from_secs(30), ..limits(16) };
        let _task = tokio::spawn(serve(tcp, None, app, limits, std::future::pending()));
        let mut sock = TcpStream::connect(addr).await.expect("connect");
        sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        tokio::time::timeout(Duration::from_secs(5), started_rx).await.expect("handler started").expect("sent");
        drop(sock);
        tokio::time::timeout(Duration::from_secs(5), dropped_rx)
            .await
            .expect("the handler's future was dropped when its client went away")
            .expect("sent");
    }

    #[test]
    fn open_files_limit_reads_proc() {
        if Path::new("/proc/self/limits").exists() {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }

    #[tokio::test]
    async fn silent_and_idle_connections_are_closed() {
        let (addr, _stop, _task) = start(limits(16)).await;
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let mut keep_alive = TcpStream::connect(addr).await.expect("connect");
        assert!(get(&mut keep_alive).await.starts_with("HTTP/1.1 200"));
        let took = closed(&mut silent, Duration::from_secs(2)).await.expect("silent socket left open");
        assert!(took < Duration::from_secs(1));
        let took = closed(&mut keep_alive, Duration::from_secs(2)).await.expect("idle keep-alive left open");
        assert!(took >= Duration::from_millis(200), "keep-alive closed at the header timeout: {took:?}");
    }

    #[tokio::test]
    async fn at_the_limit_the_idlest_makes_room() {
        let (addr, _stop, _task) = start(Limits { header_read: Duration::from_secs(30), ..limits(2) }).await;
        let mut first = TcpStream::connect(addr).await.expect("connect");
        let _second = TcpStream::connect(addr).await.expect("connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut third = TcpStream::connect(addr).await.expect("connect");
        assert!(get(&mut third).await.starts_with("HTTP/1.1 200"));
        assert!(closed(&mut first, Duration::from_secs(1)).await.is_some(), "the idlest connection was kept");
    }

    /// At the limit with every connection busy, a newcomer waits until one becomes idle (the
    /// end of a request wakes the accept loop only while it waits: see `conn::Changes`).
    #[tokio::test]
    async fn at_the_limit_a_newcomer_waits_for_a_request_to_end() {
        struct Slow;
        impl Handler for Slow {
            async fn call(
                &self,
                _: http::Request<hyper::body::Incoming>,
                _: SocketAddr,
            ) -> http::Response<Full<Bytes>> {
                tokio::time::sleep(Duration::from_millis(300)).await;
                http::Response::new(Full::new(Bytes::from_static(b"ok")))
            }
        }
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let limits = Limits { header_read: Duration::from_secs(30), idle: Duration::from_secs(30), ..limits(1) };
        let _task = tokio::spawn(serve(tcp, None, Arc::new(Slow), limits, std::future::pending()));
        for _ in 0..3 {
            let mut busy = TcpStream::connect(addr).await.expect("connect");
            busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
            tokio::time::sleep(Duration::from_millis(50)).await;
            let t0 = Instant::now();
            let mut newcomer = TcpStream::connect(addr).await.expect("connect");
            let answer =
                tokio::time::timeout(Duration::from_secs(5), get(&mut newcomer)).await.expect("newcomer served");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            // Its own 300 ms, after the busy one's remaining 250 ms.
            assert!(t0.elapsed() >= Duration::from_millis(450), "served before the busy request ended");
            let mut buf = [0u8; 256];
            let n = busy.read(&mut buf).await.expect("read");
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "the busy request was cut");
        }
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_returns() {
        let (addr, stop, task) = start(Limits { header_read: Duration::from_secs(30), ..limits(16) }).await;
        let mut half = TcpStream::connect(addr).await.expect("connect");
        half.write_all(b"GET / HTTP/1.1\r\nHo").await.expect("write");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t0 = Instant::now();
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(1), task).await.expect("serve did not return").expect("join");
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert!(closed(&mut half, Duration::from_secs(1)).await.is_some());
    }
}
