//! The application behind the connections: `/healthz`, and every other request to the dialect
//! it is addressed to. hyper calls it directly (no router: there is one route besides the
//! dialects, and a router's boxed services and request conversions cost more than that match).

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use ferrokms_alibaba::AlibabaApi;
use ferrokms_core::service::Kms;
use ferrokms_tencent::{MAX_BODY, Reply, TencentApi};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::audit::{Arrival, Audit, FrontReply};
use crate::config::TlsConfig;
use crate::conn::Handler;
use crate::listener::{self, Limits};

/// The two dialect fronts and the body-read limit.
pub struct App {
    kms: Arc<Kms>,
    pub(crate) tencent: TencentApi,
    pub(crate) alibaba: AlibabaApi,
    body_timeout: Duration,
    /// The audit log (see `audit`), once open: at start, or at the first unseal of a sealed start.
    pub(crate) audit: Arc<OnceLock<Arc<Audit>>>,
    /// Whether it is enabled (requests are refused while it should be open and is not).
    pub(crate) audit_wanted: bool,
}

impl App {
    /// The application over the two dialect fronts of `kms`; request bodies get 10 s.
    pub fn new(kms: Arc<Kms>, tencent: TencentApi, alibaba: AlibabaApi) -> Self {
        Self {
            kms,
            tencent,
            alibaba,
            body_timeout: Duration::from_secs(10),
            audit: Arc::default(),
            audit_wanted: false,
        }
    }

    /// Drops the expired entries of both fronts' replay memory (run by the background pass).
    pub fn sweep_replay_memory(&self) {
        self.tencent.sweep_replay_memory();
        self.alibaba.sweep_replay_memory();
    }

    /// How long a request's body may take to arrive, once its head is in.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Answers one request that came over a connection from `peer`.
    pub async fn answer(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let arrived = Arrival::now();
        let (mut parts, body) = req.into_parts();
        if parts.method == Method::GET || parts.method == Method::HEAD {
            match parts.uri.path() {
                "/healthz" => return plain(StatusCode::OK, "ok"),
                "/readyz" => return self.readiness().await,
                _ => {}
            }
        }
        // HTTP/2 carries the host in `:authority`; the signature covers it as `host`.
        if !parts.headers.contains_key(header::HOST)
            && let Some(authority) = parts.uri.authority().and_then(|a| a.as_str().parse().ok())
        {
            parts.headers.insert(header::HOST, authority);
        }
        let query = parts.uri.query().unwrap_or_default();
        // The body first (within its time limit): a Tencent v1-signed POST says so only in its form
        // body. One listener, two dialects: the request itself says which (see
        // `addressed_to_alibaba`).
        let body = read_body(body, self.body_timeout).await;
        let seen = body.as_deref().unwrap_or_default();
        let alibaba = addressed_to_alibaba(&parts.headers, query, seen);
        let body = match body {
            Ok(body) => body,
            Err(BodyFailure::TooLarge) => {
                let r = if alibaba {
                    FrontReply::Alibaba(self.alibaba.too_large(&parts.headers))
                } else {
                    FrontReply::Tencent(self.tencent.too_large())
                };
                return self.audited(r, &parts.headers, arrived, peer).await;
            }
            Err(BodyFailure::TimedOut) => {
                let secs = self.body_timeout.as_secs();
                let r = if alibaba {
                    FrontReply::Alibaba(self.alibaba.body_timeout(&parts.headers, secs))
                } else {
                    FrontReply::Tencent(self.tencent.body_timeout(secs))
                };
                let mut resp = self.audited(r, &parts.headers, arrived, peer).await;
                // The rest of the body may still be on its way: this connection cannot be reused.
                resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                return resp;
            }
        };
        // Sealed: nothing can be checked (the credentials are sealed too) nor served.
        let r = if self.kms.is_sealed() {
            if alibaba {
                FrontReply::Alibaba(self.alibaba.sealed(&parts.headers))
            } else {
                FrontReply::Tencent(self.tencent.sealed())
            }
        } else if let Some(refused) = self.refused_unaudited(alibaba, &parts.headers) {
            refused
        } else if alibaba {
            FrontReply::Alibaba(self.alibaba.handle(&parts.method, query, &parts.headers, &body).await)
        } else {
            FrontReply::Tencent(self.tencent.handle(&parts.method, query, &parts.headers, &body, Some(peer)).await)
        };
        self.audited(r, &parts.headers, arrived, peer).await
    }
}

impl Handler for App {
    fn call(&self, req: Request<Incoming>, peer: SocketAddr) -> impl Future<Output = Response<Full<Bytes>>> + Send {
        self.answer(req, peer)
    }
}

/// Which dialect a request is for: Tencent's TC3 headers first, then Alibaba's ACS headers,
/// then Tencent's v1 parameters (in the query or a form body), then Alibaba's RPC ones. A
/// request with ACS headers is not searched for v1 parameters.
fn addressed_to_alibaba(headers: &http::HeaderMap, query: &str, body: &[u8]) -> bool {
    if TencentApi::claims_by_headers(headers) {
        return false;
    }
    AlibabaApi::claims_by_headers(headers)
        || (!TencentApi::claims(headers, query, body) && AlibabaApi::claims(headers, query))
}

/// Why a request body could not be read.
enum BodyFailure {
    TooLarge,
    TimedOut,
}

/// The whole body, at most [`MAX_BODY`] bytes, within `timeout`. A body already in (the usual
/// case: a small request arrives in one segment with its head) is taken without arming a timer.
async fn read_body(body: Incoming, timeout: Duration) -> Result<Bytes, BodyFailure> {
    let mut collect = pin!(Limited::new(body, MAX_BODY).collect());
    let first = collect.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    let done = match first {
        Poll::Ready(done) => done,
        Poll::Pending => match tokio::time::timeout(timeout, collect).await {
            Ok(done) => done,
            Err(_) => return Err(BodyFailure::TimedOut),
        },
    };
    // Limited's only error besides the connection's own is "too large"; either way nothing
    // usable arrived.
    done.map(|c| c.to_bytes()).map_err(|_| BodyFailure::TooLarge)
}

impl App {
    /// `/readyz`: 200 when unsealed and the store answers (within a second), else 503 saying why.
    async fn readiness(&self) -> Response<Full<Bytes>> {
        if self.kms.is_sealed() {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "sealed");
        }
        match tokio::time::timeout(Duration::from_secs(1), self.kms.store_reachable()).await {
            Ok(true) => plain(StatusCode::OK, "ready"),
            _ => plain(StatusCode::SERVICE_UNAVAILABLE, "store unreachable"),
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

pub(crate) fn alibaba_reply(r: ferrokms_alibaba::Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, r.content_type);
    if let Some(after) = r.retry_after {
        resp.headers_mut().insert("x-acs-retry-after", after);
    }
    resp
}

pub(crate) fn reply(r: Reply) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, Reply::content_type());
    resp
}

/// A bare answer with no body (the connection layer's own refusals).
pub(crate) fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// Serves `app` on `addr` (TLS when configured) under `limits` until SIGTERM or Ctrl-C,
/// then drains connections (see [`listener`]).
pub async fn run(app: Arc<App>, addr: SocketAddr, tls: Option<&TlsConfig>, limits: Limits) -> Result<(), String> {
    let acceptor = tls.map(listener::tls_acceptor).transpose()?;
    let shutdown = shutdown_signal();
    let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener::local_addr(&tcp)?;
    announce(if acceptor.is_some() { "https" } else { "http" }, local);
    listener::serve(tcp, acceptor, app, limits, shutdown).await;
    Ok(())
}
fn announce(scheme: &str, addr: SocketAddr) {
    println!("ferrokms listening on {scheme}://{addr}");
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed by this call, before the server
/// announces itself, so a signal sent as soon as it listens is not lost.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind)
                .inspect_err(|e| tracing::warn!(error = %e, "cannot handle {name}; it will not stop the server"))
                .ok()
        };
        let mut term = install(SignalKind::terminate(), "SIGTERM");
        let mut int = install(SignalKind::interrupt(), "SIGINT");
        async fn recv(s: Option<&mut Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        async move {
            tokio::select! {
                () = recv(term.as_mut()) => {},
                () = recv(int.as_mut()) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
