//! The administration socket: a Unix socket in the data directory (never the API port) over which
//! `ferrokms admin` unseals, seals, rotates the root key and retires old roots while the server
//! serves. One JSON line in, one JSON line out; only the data directory's owner (or root) may
//! connect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrokms_core::service::{Kms, ResealReport};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

use crate::datadir::meta::Meta;
use crate::datadir::roots::{self, NewRoot, Secrets, UnlockError, Unlocked};

/// The socket's file name in the data directory.
pub const SOCKET: &str = "admin.sock";
/// Longest request line: a passphrase and a few fields.
const MAX_REQUEST: usize = 64 * 1024;

/// A request.
#[derive(Debug, Deserialize, Serialize, Default)]
pub struct AdminRequest {
    /// `status`, `seal`, `unseal`, `rotate-root`, `reseal` (finish an interrupted re-seal pass)
    /// or `retire-roots`.
    pub op: String,
    /// The passphrase (`unseal`; `rotate-root` to a passphrase root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// `rotate-root`: `file`, `passphrase` or `pkcs11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `rotate-root --to pkcs11`: the library, token and new key's labels (the server's PIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// See `module`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_label: Option<String>,
    /// See `module`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_label: Option<String>,
}

/// The answer.
#[derive(Debug, Deserialize, Serialize, Default)]
pub struct AdminResponse {
    /// Whether the operation succeeded.
    pub ok: bool,
    /// What happened, for the operator.
    pub message: String,
    /// Whether the service is sealed now.
    pub sealed: bool,
    /// The active root.
    pub active_root: u32,
    /// Every root in the ring.
    pub roots: Vec<u32>,
    /// Whether a re-seal pass is running.
    pub resealing: bool,
    /// Values per root after the last re-seal pass (when one ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_values: Option<BTreeMap<u32, u64>>,
}

/// The root state the socket changes.
struct Roots {
    meta: Meta,
    unlocked: Option<Unlocked>,
}

/// Shared by the socket's connections and the start-up code.
pub struct Admin {
    dir: PathBuf,
    retire_grace: u64,
    /// The audit directory, whose signing key is sealed under the root too.
    audit_dir: Option<PathBuf>,
    /// The PKCS#11 PIN the server started with (for PKCS#11 roots).
    secrets: Secrets,
    kms: Arc<Kms>,
    roots: tokio::sync::Mutex<Roots>,
    reseal: parking_lot::Mutex<ResealStatus>,
    /// Run once the service is first unsealed (the bootstrap deferred by a sealed start).
    on_first_unseal: parking_lot::Mutex<Option<AfterUnseal>>,
}

/// What a sealed start deferred to the first unseal.
type AfterUnseal = Box<dyn FnOnce(Arc<Kms>) + Send>;

#[derive(Default)]
struct ResealStatus {
    running: bool,
    last: Option<ResealReport>,
}

impl Admin {
    /// The administration of `kms` over the data directory `dir` as it was opened; the audit
    /// log's signing key in `audit_dir` (if audited) moves with the root too.
    pub fn new(
        dir: &Path,
        kms: Arc<Kms>,
        (meta, unlocked): (Meta, Option<Unlocked>),
        secrets: Secrets,
        retire_grace: u64,
        audit_dir: Option<PathBuf>,
    ) -> Arc<Self> {
        Arc::new(Self {
            dir: dir.to_path_buf(),
            retire_grace,
            audit_dir,
            secrets,
            kms,
            roots: tokio::sync::Mutex::new(Roots { meta, unlocked }),
            reseal: parking_lot::Mutex::new(ResealStatus::default()),
            on_first_unseal: parking_lot::Mutex::new(None),
        })
    }

    /// Re-seals the audit signing key under the active root (part of every re-seal pass).
    fn reseal_audit_key(&self) -> Result<(), String> {
        let Some(dir) = &self.audit_dir else { return Ok(()) };
        let ring = self.kms.keyring().map_err(|e| e.to_string())?;
        ferrokms_audit::signer::reseal(dir, &*ring)
    }

    /// The root the audit signing key is sealed under, if there is one.
    fn audit_key_root(&self) -> Result<Option<u32>, String> {
        let Some(dir) = &self.audit_dir else { return Ok(None) };
        let ring = self.kms.keyring().map_err(|e| e.to_string())?;
        Ok(ferrokms_audit::signer::sealed_key(dir)?.and_then(|k| ring.sealed_by(&k)).map(|id| id.0))
    }

    /// Runs `f` when the service is unsealed through the socket (it started sealed).
    pub fn on_first_unseal(&self, f: impl FnOnce(Arc<Kms>) + Send + 'static) {
        *self.on_first_unseal.lock() = Some(Box::new(f));
    }

    /// Starts a re-seal pass if the ring holds more than the active root (after a rotation, or
    /// at start when one was interrupted).
    pub async fn resume_resealing(self: &Arc<Self>) {
        let many = self.roots.lock().await.meta.roots.len() > 1;
        if many && !self.kms.is_sealed() {
            self.spawn_reseal();
        }
    }

    fn spawn_reseal(self: &Arc<Self>) {
        {
            let mut status = self.reseal.lock();
            if status.running {
                return;
            }
            status.running = true;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let audit_key = {
                let this = this.clone();
                tokio::task::spawn_blocking(move || this.reseal_audit_key()).await.unwrap_or(Ok(()))
            };
            if let Err(e) = audit_key {
                tracing::error!(error = %e, "cannot re-seal the audit signing key");
            }
            let result = this.kms.reseal_pass().await;
            let mut status = this.reseal.lock();
            status.running = false;
            match result {
                Ok(report) => {
                    tracing::info!(
                        resealed = report.resealed,
                        remaining = ?report.remaining,
                        unknown = report.unknown,
                        "re-seal pass done"
                    );
                    status.last = Some(report);
                }
                Err(e) => tracing::error!(error = %e, "re-seal pass failed; run `ferrokms admin reseal`"),
            }
        });
    }

    async fn handle(self: &Arc<Self>, req: AdminRequest) -> AdminResponse {
        let passphrase = req.passphrase.map(Zeroizing::new);
        let mut roots = self.roots.lock().await;
        let outcome = match req.op.as_str() {
            "status" => Ok("ok".to_owned()),
            "seal" => {
                self.kms.seal_service();
                roots.unlocked = None;
                tracing::warn!("sealed by the administrator: key material dropped from memory");
                Ok("sealed: every request is refused until `ferrokms admin unseal`".to_owned())
            }
            "unseal" => self.unseal(&mut roots, passphrase).await,
            "rotate-root" => {
                let how = match req.to.as_deref() {
                    Some("file") => Ok(NewRoot::File),
                    Some("passphrase") => {
                        passphrase.ok_or("give the new passphrase".to_owned()).map(NewRoot::Passphrase)
                    }
                    Some("pkcs11") => match (req.module, req.token_label, req.key_label) {
                        (Some(module), Some(token_label), Some(key_label)) => {
                            Ok(NewRoot::Pkcs11 { module, token_label, key_label })
                        }
                        _ => Err("--to pkcs11 needs --module, --token-label and --key-label".to_owned()),
                    },
                    Some(other) => Err(format!("cannot rotate to a {other:?} root (file, passphrase or pkcs11)")),
                    None => Err("say what the new root is: --to file, passphrase or pkcs11".to_owned()),
                };
                match how {
                    Ok(how) => self.rotate(&mut roots, how).await,
                    Err(e) => Err(e),
                }
            }
            "reseal" if self.kms.is_sealed() => Err("the service is sealed: unseal it first".to_owned()),
            "reseal" => {
                self.spawn_reseal();
                Ok("re-seal pass started".to_owned())
            }
            "retire-roots" => self.retire(&mut roots).await,
            other => Err(format!("unknown operation {other:?}")),
        };
        let status = self.reseal.lock();
        let (ok, message) = match outcome {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        AdminResponse {
            ok,
            message,
            sealed: self.kms.is_sealed(),
            active_root: roots.meta.active,
            roots: roots.meta.roots.iter().map(|r| r.id).collect(),
            resealing: status.running,
            sealed_values: status.last.as_ref().map(|r| r.remaining.clone()),
        }
    }

    async fn unseal(
        self: &Arc<Self>,
        roots: &mut Roots,
        passphrase: Option<Zeroizing<String>>,
    ) -> Result<String, String> {
        if roots.unlocked.is_some() && !self.kms.is_sealed() {
            return Ok("already unsealed".to_owned());
        }
        let secrets = Secrets { passphrase, pkcs11_pin: self.secrets.pkcs11_pin.clone() };
        // Argon2 (64 MiB, 3 passes) and reading key files: off the async workers.
        let (dir, meta) = (self.dir.clone(), roots.meta.clone());
        let unlocked = tokio::task::spawn_blocking(move || roots::unlock(&dir, &meta, &secrets))
            .await
            .map_err(|_| "unsealing was cancelled".to_owned())?;
        let unlocked = match unlocked {
            Ok(u) => u,
            Err(UnlockError::NeedPassphrase) => {
                return Err("give the passphrase (on stdin or --passphrase-file)".into());
            }
            Err(e) => {
                tracing::warn!(error = %e, "unseal refused");
                return Err(e.to_string());
            }
        };
        // The ring unlocks this data directory; it must also be the store's (another node's
        // store, set up under another root, is refused before anything is served).
        match self.kms.store_accepts(Arc::new(unlocked.keyring())).await {
            Ok(true) => {}
            Ok(false) => {
                let e = crate::datadir::root_mismatch("this server uses", &self.dir);
                tracing::error!("unseal refused: {e}");
                return Err(e);
            }
            Err(e) => return Err(format!("cannot check the root key against the store: {e}")),
        }
        self.kms.install_keyring(unlocked.keyring());
        roots.unlocked = Some(unlocked);
        tracing::info!("unsealed by the administrator");
        if let Some(f) = self.on_first_unseal.lock().take() {
            f(self.kms.clone());
        }
        if roots.meta.roots.len() > 1 {
            self.spawn_reseal();
        }
        Ok("unsealed".to_owned())
    }

    async fn rotate(self: &Arc<Self>, roots: &mut Roots, how: NewRoot) -> Result<String, String> {
        let Some(current) = roots.unlocked.clone().filter(|_| !self.kms.is_sealed()) else {
            return Err("the service is sealed: unseal it first".into());
        };
        let now = ferrokms_core::model::now();
        let (dir, old, secrets) = (self.dir.clone(), roots.meta.clone(), self.secrets.clone());
        let (meta, unlocked) =
            tokio::task::spawn_blocking(move || roots::rotate(&dir, &old, &current, how, &secrets, now))
                .await
                .map_err(|_| "rotation was cancelled".to_owned())??;
        self.kms.install_keyring(unlocked.keyring());
        let active = meta.active;
        roots.meta = meta;
        roots.unlocked = Some(unlocked);
        tracing::info!(active_root = active, "root key rotated; re-sealing stored values");
        self.spawn_reseal();
        Ok(format!(
            "root {active} is active; stored values are being re-sealed under it (`ferrokms admin status` shows progress)"
        ))
    }

    async fn retire(self: &Arc<Self>, roots: &mut Roots) -> Result<String, String> {
        let Some(current) = roots.unlocked.clone().filter(|_| !self.kms.is_sealed()) else {
            return Err("the service is sealed: unseal it first".into());
        };
        if self.reseal.lock().running {
            return Err("a re-seal pass is running: retire when it is done".into());
        }
        let mut counts = self.kms.sealed_counts().await.map_err(|e| e.to_string())?;
        if let Some(root) = self.audit_key_root()? {
            *counts.remaining.entry(root).or_default() += 1; // the audit signing key
        }
        if counts.unknown > 0 {
            return Err(format!("{} stored values name no root of the ring; nothing retired", counts.unknown));
        }
        let now = ferrokms_core::model::now();
        let (meta, unlocked, report) =
            roots::retire(&self.dir, &roots.meta, &current, &counts.remaining, now, self.retire_grace)?;
        if !report.retired.is_empty() {
            self.kms.install_keyring(unlocked.keyring());
        }
        roots.meta = meta;
        roots.unlocked = Some(unlocked);
        let mut parts: Vec<String> = report.retired.iter().map(|id| format!("root {id} retired")).collect();
        parts.extend(report.kept.iter().map(|(id, why)| format!("root {id} kept: {why}")));
        if parts.is_empty() {
            parts.push("only the active root is in the ring".into());
        }
        Ok(parts.join("; "))
    }
}

/// Binds the socket at `path` (refusing if a live server already answers there) and serves it
/// until the task is dropped.
pub fn serve(admin: Arc<Admin>, path: &Path) -> Result<tokio::task::JoinHandle<()>, String> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("{} answers: another ferrokms serves this data directory", path.display()));
        }
        let _ = std::fs::remove_file(path); // left by a server that was killed
    }
    let listener = UnixListener::bind(path).map_err(|e| {
        format!("cannot listen on the admin socket {}: {e} (set [admin] socket to a shorter path)", path.display())
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    let owner = owner_uid(path);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let allowed = stream.peer_cred().is_ok_and(|c| c.uid() == 0 || Some(c.uid()) == owner);
            if !allowed {
                tracing::warn!("admin socket: connection from another user refused");
                continue;
            }
            let admin = admin.clone();
            tokio::spawn(async move { connection(admin, stream).await });
        }
    }))
}

fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

async fn connection(admin: Arc<Admin>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut line = Zeroizing::new(Vec::new());
    let mut reader = BufReader::new(read).take(MAX_REQUEST as u64);
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), reader.read_until(b'\n', &mut line)).await;
    let response = match read {
        Ok(Ok(_)) => match serde_json::from_slice::<AdminRequest>(&line) {
            Ok(req) => admin.handle(req).await,
            Err(e) => AdminResponse { message: format!("bad request: {e}"), ..AdminResponse::default() },
        },
        _ => return,
    };
    let mut out = serde_json::to_vec(&response).unwrap_or_default();
    out.push(b'\n');
    let _ = write.write_all(&out).await;
}

/// Sends one request to the socket at `path` (the `ferrokms admin` side).
pub async fn request(path: &Path, req: &AdminRequest) -> Result<AdminResponse, String> {
    let stream = UnixStream::connect(path).await.map_err(|e| {
        format!("cannot reach the server's admin socket {}: {e} (is `ferrokms serve` running?)", path.display())
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = Zeroizing::new(serde_json::to_vec(req).map_err(|e| e.to_string())?);
    line.push(b'\n');
    write.write_all(&line).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    BufReader::new(read).read_until(b'\n', &mut answer).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&answer).map_err(|e| format!("unreadable answer from the server: {e}"))
}
