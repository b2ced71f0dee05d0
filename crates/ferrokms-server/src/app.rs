//! The HTTP front door: `/healthz`, and every other request to the dialect it is addressed to.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use ferrokms_alibaba::AlibabaApi;
use ferrokms_tencent::{MAX_BODY, Reply, TencentApi};

use crate::config::TlsConfig;

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    tencent: Arc<TencentApi>,
    alibaba: Arc<AlibabaApi>,
}

impl AppState {
    /// State over the two dialect fronts.
    pub fn new(tencent: TencentApi, alibaba: AlibabaApi) -> Self {
        Self { tencent: Arc::new(tencent), alibaba: Arc::new(alibaba) }
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

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // HTTP/2 carries the host in `:authority`; the signature covers it as `host`.
    if !parts.headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority().and_then(|a| a.as_str().parse().ok())
    {
        parts.headers.insert(header::HOST, authority);
    }
    let query = parts.uri.query().unwrap_or_default();
    // The body first: a Tencent v1-signed POST says so only in its form body.
    let body = to_bytes(body, MAX_BODY).await;
    // One listener, two dialects: the request itself says which (TC3 headers or v1 parameters,
    // asked first, or ACS/RPC ones).
    let seen = body.as_deref().unwrap_or_default();
    let alibaba = !TencentApi::claims(&parts.headers, query, seen) && AlibabaApi::claims(&parts.headers, query);
    let Ok(body) = body else {
        return if alibaba {
            alibaba_reply(state.alibaba.too_large(&parts.headers))
        } else {
            reply(state.tencent.too_large())
        };
    };
    if alibaba {
        return alibaba_reply(state.alibaba.handle(&parts.method, query, &parts.headers, &body).await);
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    reply(state.tencent.handle(&parts.method, query, &parts.headers, &body, peer).await)
}

/// Serves `router` on `addr` (TLS when configured) until SIGTERM or Ctrl-C.
pub async fn run(router: Router, addr: SocketAddr, tls: Option<&TlsConfig>) -> Result<(), String> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            announce("http", local);
            axum::serve(listener, service).with_graceful_shutdown(shutdown()).await.map_err(|e| e.to_string())
        }
        Some(tls) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| format!("cannot load the TLS certificate or key: {e}"))?;
            let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown().await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            announce("https", local);
            axum_server::from_tcp_rustls(listener, config)
                .map_err(|e| e.to_string())?
                .handle(handle)
                .serve(service)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

fn announce(scheme: &str, addr: SocketAddr) {
    println!("ferrokms listening on {scheme}://{addr}");
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
