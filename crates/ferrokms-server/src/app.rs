//! The HTTP front door: `/healthz`, and every other request to the dialect it is addressed to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use ferrokms_alibaba::AlibabaApi;
use ferrokms_tencent::{MAX_BODY, Reply, TencentApi};

use crate::config::TlsConfig;
use crate::listener::{self, Limits};

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    tencent: Arc<TencentApi>,
    alibaba: Arc<AlibabaApi>,
    body_timeout: Duration,
}

impl AppState {
    /// State over the two dialect fronts; request bodies get 10 s.
    pub fn new(tencent: TencentApi, alibaba: AlibabaApi) -> Self {
        Self { tencent: Arc::new(tencent), alibaba: Arc::new(alibaba), body_timeout: Duration::from_secs(10) }
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
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" })).fallback(dispatch).with_state(state)
}

fn alibaba_reply(r: ferrokms_alibaba::Reply) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, r.content_type);
    if let Some(after) = r.retry_after {
        resp.headers_mut().insert("x-acs-retry-after", after);
    }
    resp
}

fn reply(r: Reply) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::CONTENT_TYPE, Reply::content_type());
    resp
}

/// Why a request body could not be read.
enum BodyFailure {
    TooLarge,
    TimedOut,
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // HTTP/2 carries the host in `:authority`; the signature covers it as `host`.
    if !parts.headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority().and_then(|a| a.as_str().parse().ok())
    {
        parts.headers.insert(header::HOST, authority);
    }
    let query = parts.uri.query().unwrap_or_default();
    // The body first (within its time limit): a Tencent v1-signed POST says so only in its form
    // body. One listener, two dialects: the request itself says which (TC3 headers or v1
    // parameters, asked first, or ACS/RPC ones).
    let body = match tokio::time::timeout(state.body_timeout, to_bytes(body, MAX_BODY)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(BodyFailure::TooLarge),
        Err(_) => Err(BodyFailure::TimedOut),
    };
    let seen = body.as_deref().unwrap_or_default();
    let alibaba = !TencentApi::claims(&parts.headers, query, seen) && AlibabaApi::claims(&parts.headers, query);
    let body = match body {
        Ok(body) => body,
        Err(BodyFailure::TooLarge) => {
            return if alibaba {
                alibaba_reply(state.alibaba.too_large(&parts.headers))
            } else {
                reply(state.tencent.too_large())
            };
        }
        Err(BodyFailure::TimedOut) => {
            let secs = state.body_timeout.as_secs();
            let mut resp = if alibaba {
                alibaba_reply(state.alibaba.body_timeout(&parts.headers, secs))
            } else {
                reply(state.tencent.body_timeout(secs))
            };
            // The rest of the body may still be on its way: this connection cannot be reused.
            resp.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            return resp;
        }
    };
    if alibaba {
        return alibaba_reply(state.alibaba.handle(&parts.method, query, &parts.headers, &body).await);
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    reply(state.tencent.handle(&parts.method, query, &parts.headers, &body, peer).await)
}

/// Serves `router` on `addr` (TLS when configured) under `limits` until SIGTERM or Ctrl-C,
/// then drains connections (see [`listener`]).
pub async fn run(router: Router, addr: SocketAddr, tls: Option<&TlsConfig>, limits: Limits) -> Result<(), String> {
    let acceptor = tls.map(listener::tls_acceptor).transpose()?;
    let shutdown = shutdown_signal();
    let tcp = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener::local_addr(&tcp)?;
    announce(if acceptor.is_some() { "https" } else { "http" }, local);
    listener::serve(tcp, acceptor, router, limits, shutdown).await;
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
