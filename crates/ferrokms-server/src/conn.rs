//! One connection: what it is doing (requests in flight, idle since when, a request head half
//! read), the registry of all open connections that the accept loop consults at its limit, and
//! the one watchdog task that walks the registry and closes connections idle or slow for too
//! long.
//!
//! A connection with no request in flight may be closed at any time without losing work: the
//! watchdog does so after the header-read or idle timeout, the accept loop does so to make room
//! for a newcomer, and shutdown does so at once. A request only starts (the application is only
//! called) on a connection that is not closing, and both are decided under one lock, so a
//! request is never started on a connection that is being dropped.
//!
//! A connection's task waits on its connection and on one signal (close, or drain on shutdown):
//! no timer or shutdown channel per connection is polled each time it wakes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// What answers the requests of every connection.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request that came over a connection from `peer`.
    fn call(&self, req: Request<Incoming>, peer: SocketAddr) -> impl Future<Output = Response<Full<Bytes>>> + Send;
}

/// The connection limits and timeouts, resolved.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// TLS handshake and first request head of a new connection; any request head from its
    /// first byte.
    pub header_read: Duration,
    /// Keep-alive wait for the next request.
    pub idle: Duration,
    /// A request's whole body, once its head is in.
    pub body_read: Duration,
    /// What in-flight requests are given on shutdown.
    pub shutdown: Duration,
}

impl Limits {
    /// How often a connection's watchdog looks at it.
    fn tick(&self) -> Duration {
        (self.header_read.min(self.idle) / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

#[derive(Debug)]
struct Activity {
    /// Requests whose handler is running.
    in_flight: usize,
    /// Since when no request has been in flight (the accept time at first).
    idle_since: Instant,
    /// When the first byte of a request head not yet complete arrived (HTTP/1 only).
    partial_since: Option<Instant>,
    /// Requests started.
    served: u64,
    /// Being dropped: no new request may start.
    closing: bool,
    /// HTTP/2 (its frames between requests are not a request head).
    h2: bool,
    /// Shutdown asked it to finish what is in flight and take nothing new.
    draining: bool,
}

/// The shared record of one connection.
#[derive(Debug)]
pub(crate) struct ConnInfo {
    id: u64,
    activity: Mutex<Activity>,
    /// Wakes the connection's task: it is closing, or draining (see `Activity`).
    signal: Notify,
    changed: Arc<Changes>,
    /// The registry's count of connections not closing.
    open: Arc<AtomicUsize>,
}

impl ConnInfo {
    /// Marks it closing (once: the open count drops by one).
    fn mark_closing(&self, a: &mut Activity) {
        if !a.closing {
            a.closing = true;
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Marks a request as started; `None` if the connection is closing.
    fn begin(self: &Arc<Self>) -> Option<InFlight> {
        let mut a = self.activity.lock();
        if a.closing {
            return None;
        }
        a.in_flight += 1;
        a.served += 1;
        a.partial_since = None;
        Some(InFlight(self.clone()))
    }

    /// Bytes arrived from the client.
    fn on_read(&self) {
        let mut a = self.activity.lock();
        if a.in_flight == 0 && !a.h2 && a.partial_since.is_none() {
            a.partial_since = Some(Instant::now());
        }
    }

    /// The connection speaks HTTP/2.
    pub(crate) fn set_h2(&self) {
        let mut a = self.activity.lock();
        a.h2 = true;
        a.partial_since = None;
    }

    /// If no request is in flight, marks the connection closing and returns true: it may be
    /// dropped now.
    fn try_close(&self) -> bool {
        let mut a = self.activity.lock();
        if a.in_flight == 0 {
            self.mark_closing(&mut a);
        }
        a.closing
    }

    /// Whether the connection has waited too long with no request in flight.
    fn expired(&self, limits: &Limits, now: Instant) -> bool {
        let a = self.activity.lock();
        if a.in_flight > 0 {
            return false;
        }
        if a.draining {
            // Shutdown: its last request is answered (hyper closes it by itself unless the
            // client stops reading or, on HTTP/2, never acknowledges the GOAWAY).
            return true;
        }
        let head_late = a.partial_since.is_some_and(|p| now.saturating_duration_since(p) >= limits.header_read);
        let wait = if a.served == 0 { limits.header_read } else { limits.idle };
        head_late || now.saturating_duration_since(a.idle_since) >= wait
    }

    /// Since when it has been idle, if it is idle and not already closing.
    fn idle_since(&self) -> Option<Instant> {
        let a = self.activity.lock();
        (a.in_flight == 0 && !a.closing).then_some(a.idle_since)
    }

    /// Completes when the connection's task has something to do: drop the connection (it is
    /// closing) or drain it.
    pub(crate) fn signalled(&self) -> tokio::sync::futures::Notified<'_> {
        self.signal.notified()
    }

    /// Whether the task is to drop the connection now; if not, whether to drain it.
    fn order(&self) -> (bool, bool) {
        let a = self.activity.lock();
        (a.closing, a.draining)
    }

    /// Asks the task to finish what is in flight and take nothing new: an idle connection is
    /// closed at once.
    fn drain(&self) {
        let mut a = self.activity.lock();
        a.draining = true;
        if a.in_flight == 0 {
            self.mark_closing(&mut a);
        }
        drop(a);
        self.signal.notify_one();
    }

    #[cfg(test)]
    fn is_closing(&self) -> bool {
        self.activity.lock().closing
    }

    /// Has the connection's task drop it (whatever is in flight).
    fn kill(&self) {
        self.mark_closing(&mut self.activity.lock());
        self.signal.notify_one();
    }

    /// Has the connection's task drop it if it is idle; true if so.
    fn close_if_idle(&self) -> bool {
        let closed = self.try_close();
        if closed {
            self.signal.notify_one();
        }
        closed
    }
}

/// What the accept loop waits on at the connection limit: a connection closing or becoming idle.
///
/// A connection becomes idle at the end of every request; telling nobody costs nothing, but a
/// `Notify` is one lock shared by every connection. So becoming idle notifies only while someone
/// waits: the waiter registers (`notified().enable()`), counts itself in `waiting`, then looks
/// at the connections; a request ends by updating its connection, then reads `waiting`. The two
/// SeqCst fences make sure that either the request sees the waiter or the waiter sees the idle
/// connection.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    notify: Notify,
    waiting: AtomicUsize,
}

impl Changes {
    /// A connection closed: always told.
    fn closed(&self) {
        self.notify.notify_waiters();
    }

    /// A connection became idle: told if someone waits.
    fn idle(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.notify.notify_waiters();
        }
    }

    /// Completes at the next change (enable it, then hold a [`Waiting`], then look).
    pub(crate) fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Counts the caller as waiting for an idle connection while the guard lives.
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        Waiting(self)
    }
}

/// See [`Changes::waiting`].
pub(crate) struct Waiting<'a>(&'a Changes);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request in flight on a connection; ends when dropped (handler done or cancelled).
struct InFlight(Arc<ConnInfo>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let idle = {
            let mut a = self.0.activity.lock();
            a.in_flight = a.in_flight.saturating_sub(1);
            if a.in_flight == 0 {
                a.idle_since = Instant::now();
            }
            a.in_flight == 0
        };
        if idle {
            self.0.changed.idle();
        }
    }
}

/// Every open connection.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnInfo>>>,
    /// Notified when a connection closes or becomes idle.
    changed: Arc<Changes>,
    /// Connections not closing: what counts against the limit.
    open: Arc<AtomicUsize>,
    next: AtomicU64,
}

impl Registry {
    /// Records a new connection.
    pub(crate) fn add(&self) -> Arc<ConnInfo> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let info = Arc::new(ConnInfo {
            id,
            activity: Mutex::new(Activity {
                in_flight: 0,
                idle_since: Instant::now(),
                partial_since: None,
                served: 0,
                closing: false,
                h2: false,
                draining: false,
            }),
            signal: Notify::new(),
            changed: self.changed.clone(),
            open: self.open.clone(),
        });
        self.open.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().insert(id, info.clone());
        info
    }

    fn remove(&self, id: u64) {
        if let Some(c) = self.conns.lock().remove(&id) {
            c.mark_closing(&mut c.activity.lock());
        }
        self.changed.closed();
    }

    /// Connections open, closing ones included.
    pub(crate) fn len(&self) -> usize {
        self.conns.lock().len()
    }

    /// Connections open and not closing: what counts against the limit.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Closes the connection idle the longest; false if every connection is busy.
    pub(crate) fn evict_idlest(&self) -> bool {
        let conns = self.conns.lock();
        // Idle when looked at may be busy a moment later: then look again (bounded: each miss
        // is a connection that just started a request).
        for _ in 0..8 {
            let Some((_, c)) = conns.values().filter_map(|c| c.idle_since().map(|t| (t, c))).min_by_key(|(t, _)| *t)
            else {
                return false;
            };
            if c.close_if_idle() {
                return true;
            }
        }
        false
    }

    /// Drops every connection, requests in flight or not; returns how many there were.
    pub(crate) fn kill_all(&self) -> usize {
        let conns = self.conns.lock();
        for c in conns.values() {
            c.kill();
        }
        conns.len()
    }

    /// Closes every connection that has waited too long with no request in flight.
    fn close_expired(&self, limits: &Limits, now: Instant) {
        for c in self.conns.lock().values() {
            if c.expired(limits, now) {
                c.close_if_idle();
            }
        }
    }

    /// Closes every idle connection and has the others finish what is in flight.
    pub(crate) fn drain_all(&self) {
        for c in self.conns.lock().values() {
            c.drain();
        }
    }

    /// Notified when a connection closes or becomes idle (see [`Changes`]).
    pub(crate) fn changed(&self) -> Arc<Changes> {
        self.changed.clone()
    }

    /// Waits until every connection is gone.
    pub(crate) async fn wait_empty(&self) {
        let changed = self.changed.clone();
        loop {
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The watchdog: every tick, closes the connections that have waited too long with no request
/// in flight (one task for all connections). Runs until dropped.
pub(crate) async fn watchdog(registry: Arc<Registry>, limits: Limits) {
    let mut tick = tokio::time::interval(limits.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        registry.close_expired(&limits, Instant::now());
    }
}

/// What every connection task shares.
pub(crate) struct Shared<H> {
    pub(crate) app: Arc<H>,
    pub(crate) builder: auto::Builder<TokioExecutor>,
    pub(crate) limits: Limits,
    pub(crate) registry: Arc<Registry>,
}

/// Removes its connection from the registry when the connection's task ends (or is dropped).
pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Registered {
    pub(crate) fn new(registry: Arc<Registry>, info: &ConnInfo) -> Self {
        Self { registry, id: info.id }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// The client's bytes, watched: a read outside any request is a request head starting.
struct Watched<T> {
    inner: T,
    info: Arc<ConnInfo>,
    /// How much of the HTTP/2 preface has been seen (`usize::MAX`: it is not HTTP/2).
    sniffed: usize,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                if this.sniffed < H2_PREFACE.len() {
                    let n = new.len().min(H2_PREFACE.len() - this.sniffed);
                    if new[..n] == H2_PREFACE[this.sniffed..this.sniffed + n] {
                        this.sniffed += n;
                    } else {
                        this.sniffed = usize::MAX;
                    }
                    if this.sniffed == H2_PREFACE.len() {
                        this.info.set_h2();
                    }
                }
                this.info.on_read();
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that keeps its request counted as in flight until hyper has taken all of it
/// (or dropped it), so that neither eviction nor shutdown closes the connection between the end
/// of the handler and the writing of its answer.
pub(crate) struct Answering {
    body: Full<Bytes>,
    _in_flight: Option<InFlight>,
}

impl hyper::body::Body for Answering {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn closing() -> Response<Full<Bytes>> {
    let mut r = crate::app::empty(StatusCode::SERVICE_UNAVAILABLE);
    r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    r
}

/// Serves HTTP on one (plain or TLS) stream until the client closes it, the watchdog or the
/// accept loop closes it, or shutdown ends it.
pub(crate) async fn serve<I, H>(io: I, peer: SocketAddr, info: Arc<ConnInfo>, shared: &Shared<H>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let io = TokioIo::new(Watched { inner: io, info: info.clone(), sniffed: 0 });
    let (app, conn_info) = (shared.app.clone(), info.clone());
    // Each request counts as in flight from its start to its answer (or to its future's drop, if
    // the client goes away); none starts on a connection that is closing.
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let guard = conn_info.begin();
        let app = app.clone();
        async move {
            let Some(guard) = guard else {
                // Only reachable in the instant between the decision to close and the drop.
                return Ok::<_, Infallible>(closing().map(|body| Answering { body, _in_flight: None }));
            };
            let response = app.call(req, peer).await;
            Ok(response.map(|body| Answering { body, _in_flight: Some(guard) }))
        }
    });
    let conn = shared.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = info.signalled() => {
                let (close, drain) = info.order();
                if close {
                    return;
                }
                if drain && !draining {
                    // Finish what is in flight, take nothing new (HTTP/1: no keep-alive; HTTP/2:
                    // GOAWAY); the connection ends by itself after that.
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 2,
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            body_read: Duration::from_secs(10),
            shutdown: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_new_silent_connection_gets_the_header_timeout() {
        let r = Registry::default();
        let c = r.add();
        let now = Instant::now();
        assert!(!c.expired(&limits(), now + Duration::from_secs(9)));
        assert!(c.expired(&limits(), now + Duration::from_secs(11)));
    }

    #[test]
    fn keep_alive_gets_the_idle_timeout_and_a_head_the_header_timeout() {
        let r = Registry::default();
        let c = r.add();
        drop(c.begin().expect("open"));
        let now = Instant::now();
        assert!(!c.expired(&limits(), now + Duration::from_secs(30)), "idle keep-alive cut at the header timeout");
        assert!(c.expired(&limits(), now + Duration::from_secs(61)));
        c.on_read();
        assert!(c.expired(&limits(), now + Duration::from_secs(11)), "a head started is under the header timeout");
        // HTTP/2 frames between streams are not a request head.
        c.set_h2();
        c.on_read();
        assert!(!c.expired(&limits(), now + Duration::from_secs(30)));
    }

    #[test]
    fn a_request_in_flight_never_expires_nor_is_evicted() {
        let r = Registry::default();
        let c = r.add();
        let guard = c.begin().expect("open");
        assert!(!c.expired(&limits(), Instant::now() + Duration::from_secs(3600)));
        assert!(!c.try_close());
        assert!(!r.evict_idlest());
        drop(guard);
        assert!(r.evict_idlest());
        assert!(c.begin().is_none(), "a request started on a connection being closed");
    }

    #[test]
    fn eviction_takes_the_idlest() {
        let r = Registry::default();
        let old = r.add();
        std::thread::sleep(Duration::from_millis(5));
        let newer = r.add();
        assert_eq!(r.open(), 2);
        assert!(r.evict_idlest());
        assert!(old.is_closing() && !newer.is_closing());
        assert_eq!(r.open(), 1);
        assert_eq!(r.len(), 2, "an evicted connection counts until its task has dropped it");
        r.remove(old.id);
        assert_eq!((r.len(), r.open()), (1, 1));
        r.remove(newer.id);
        assert_eq!((r.len(), r.open()), (0, 0));
    }
}
