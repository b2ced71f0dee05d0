//! The audit log at the front door: every request the dialects answer (allowed or refused) is
//! recorded from the outcome its front reports, and its answer is held until the record is
//! durable. A record that cannot be written refuses the answer (fail closed: Tencent
//! `InternalError`, Alibaba 503 `ServiceUnavailableTemporary`), unless `[audit] fail_closed =
//! false`. While the log cannot be written, requests are refused before they run: only those in
//! flight when it broke may have taken effect unrecorded (docs/security.md).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ferrokms_audit::{AuditLog, Dialect, Entry, Signer};
use ferrokms_crypto::root::RootKey;
use http::{HeaderMap, Response};
use http_body_util::Full;

use crate::app::{self, App};
use crate::config::AuditConfig;

/// The audit directory `cfg` names for the data directory `data_dir`.
pub fn dir(data_dir: &Path, cfg: &AuditConfig) -> std::path::PathBuf {
    cfg.dir.clone().unwrap_or_else(|| data_dir.join("audit"))
}

/// The log, and what to do when it cannot be written.
pub struct Audit {
    /// The writer.
    pub log: AuditLog,
    fail_closed: bool,
}

impl Audit {
    /// Opens the audit log `cfg` asks for (none if disabled), its signing key sealed under `root`.
    pub fn open(data_dir: &Path, cfg: &AuditConfig, root: &dyn RootKey) -> Result<Option<Arc<Self>>, String> {
        if !cfg.enabled {
            tracing::warn!("the audit log is disabled ([audit] enabled = false)");
            return Ok(None);
        }
        if !cfg.fail_closed {
            tracing::warn!(
                "[audit] fail_closed = false: requests are answered even when their record cannot be written"
            );
        }
        let dir = dir(data_dir, cfg);
        let signer = Signer::load_or_create(&dir, root).map_err(|e| format!("audit: {e}"))?;
        let mut c = ferrokms_audit::AuditConfig::new(dir);
        c.max_file_bytes = cfg.max_file_bytes.max(1);
        c.checkpoint_records = cfg.checkpoint_records.max(1);
        c.checkpoint_interval = Duration::from_secs(cfg.checkpoint_interval_secs.max(1));
        c.stdout = cfg.stdout;
        let log = AuditLog::open(c, signer).map_err(|e| format!("audit: {e}"))?;
        Ok(Some(Arc::new(Self { log, fail_closed: cfg.fail_closed })))
    }
}

/// When a request arrived.
#[derive(Clone, Copy)]
pub(crate) struct Arrival {
    at: SystemTime,
    clock: Instant,
}

impl Arrival {
    pub(crate) fn now() -> Self {
        Self { at: SystemTime::now(), clock: Instant::now() }
    }
}

/// A front's reply, before it is sent.
pub(crate) enum FrontReply {
    Tencent(ferrokms_tencent::Reply),
    Alibaba(ferrokms_alibaba::Reply),
}

impl FrontReply {
    fn into_response(self) -> Response<Full<Bytes>> {
        match self {
            Self::Tencent(r) => app::reply(r),
            Self::Alibaba(r) => app::alibaba_reply(r),
        }
    }
}

impl App {
    /// Says whether the audit log is enabled: while it is and not open yet (a sealed start),
    /// requests are refused.
    #[must_use]
    pub fn expecting_audit(mut self, enabled: bool) -> Self {
        self.audit_wanted = enabled;
        self
    }

    /// Uses `audit` for every request from now on (`None`: disabled).
    pub fn set_audit(&self, audit: Option<Arc<Audit>>) {
        if let Some(a) = audit {
            let _ = self.audit.set(a);
        }
    }

    /// The slot of the audit log, to close it after the application is gone.
    pub fn audit_handle(&self) -> Arc<OnceLock<Arc<Audit>>> {
        self.audit.clone()
    }

    /// Lets the audit writer sign a checkpoint when one is due (the background pass).
    pub fn tick_audit(&self) {
        if let Some(a) = self.audit.get() {
            a.log.tick();
        }
    }

    /// The refusal of a request not to be run, because the log cannot be written now (its
    /// record still goes to the writer, which is how the log is found writable again).
    pub(crate) fn refused_unaudited(&self, alibaba: bool, headers: &HeaderMap) -> Option<FrontReply> {
        let Some(audit) = self.audit.get() else {
            // Enabled but not open: it could not be opened after an unseal (fail closed).
            return self.audit_wanted.then(|| self.audit_refusal(alibaba, headers));
        };
        if !audit.fail_closed || audit.log.healthy() {
            return None;
        }
        Some(self.audit_refusal(alibaba, headers))
    }

    fn audit_refusal(&self, alibaba: bool, headers: &HeaderMap) -> FrontReply {
        if alibaba {
            FrontReply::Alibaba(self.alibaba.audit_unavailable(headers))
        } else {
            FrontReply::Tencent(self.tencent.audit_unavailable())
        }
    }

    /// Records the request `reply` answers and returns the answer once the record is durable,
    /// or the dialect's refusal if it cannot be written (fail closed).
    pub(crate) async fn audited(
        &self,
        mut reply: FrontReply,
        headers: &HeaderMap,
        arrived: Arrival,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let Some(audit) = self.audit.get() else {
            return reply.into_response(); // disabled, or not open yet while sealed
        };
        let (dialect, outcome) = match &mut reply {
            FrontReply::Tencent(r) => (Dialect::Tencent, std::mem::take(&mut r.audit)),
            FrontReply::Alibaba(r) => (Dialect::Alibaba, std::mem::take(&mut r.audit)),
        };
        let entry = Entry {
            time: arrived.at,
            dialect,
            source: Some(peer),
            latency_us: u64::try_from(arrived.clock.elapsed().as_micros()).unwrap_or(u64::MAX),
            outcome,
        };
        match audit.log.record(&entry).await {
            Ok(()) => reply.into_response(),
            Err(e) if audit.fail_closed => {
                tracing::error!(error = %e, request_id = %entry.outcome.request_id, "request refused: no audit record");
                self.audit_refusal(dialect == Dialect::Alibaba, headers).into_response()
            }
            Err(e) => {
                tracing::warn!(error = %e, request_id = %entry.outcome.request_id, "answered without an audit record");
                reply.into_response()
            }
        }
    }
}
