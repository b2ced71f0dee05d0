//! The ferrokms server: wires the store, the root key, the core service and the API fronts
//! behind one hyper listener.
//!
//! # Layout
//! - [`config`]: the configuration file.
//! - [`datadir`]: the data directory (root keys) and the store it names (SQLite or PostgreSQL).
//! - [`admin_socket`]: unseal, seal and root rotation of a running server, over a local socket.
//! - [`app`]: the application: `/healthz`, and every other request handed to the dialect it is for.
//! - [`audit`]: the audit record of every request, durable before its answer.
//! - [`background`]: due deletions and rotations.
//! - [`listener`] (and its `conn` module): the accept loop, connection limits and timeouts, graceful shutdown.

pub mod admin_socket;
pub mod app;
pub mod audit;
pub mod background;
pub mod cluster;
pub mod config;
mod conn;
pub mod datadir;
pub mod listener;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferrokms_alibaba::AlibabaApi;
use ferrokms_core::keyspec::KeySpec;
use ferrokms_core::model::{AccountId, Region};
use ferrokms_core::quota::RateLimiter;
use ferrokms_core::service::{Kms, KmsConfig, RootSlot};
use ferrokms_tencent::TencentApi;

use config::FileConfig;

/// Everything `ferrokms serve` needs, resolved from flags and the file.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Configuration file contents.
    pub file: FileConfig,
    /// `--no-rate-limit`.
    pub no_rate_limit: bool,
}

/// Environment variables that name the first access key (tests, CI).
pub const ACCESS_KEY_ID_ENV: &str = "FERROKMS_ACCESS_KEY_ID";
/// See [`ACCESS_KEY_ID_ENV`].
pub const ACCESS_KEY_SECRET_ENV: &str = "FERROKMS_ACCESS_KEY_SECRET";
/// A file holding the secret of [`ACCESS_KEY_ID_ENV`], read once at start: unlike a variable's
/// value, it does not stay readable in `/proc/PID/environ` for the life of the process.
pub const ACCESS_KEY_SECRET_FILE_ENV: &str = "FERROKMS_ACCESS_KEY_SECRET_FILE";

/// The access key the environment names, if any: the id from [`ACCESS_KEY_ID_ENV`], the secret
/// from [`ACCESS_KEY_SECRET_FILE_ENV`] or [`ACCESS_KEY_SECRET_ENV`] (not both).
fn given_access_key() -> Result<Option<(String, zeroize::Zeroizing<String>)>, String> {
    let id = std::env::var(ACCESS_KEY_ID_ENV).ok().filter(|v| !v.is_empty());
    let inline = std::env::var(ACCESS_KEY_SECRET_ENV).ok().filter(|v| !v.is_empty()).map(zeroize::Zeroizing::new);
    let file = std::env::var_os(ACCESS_KEY_SECRET_FILE_ENV).filter(|v| !v.is_empty());
    let secret = match (inline, file) {
        (Some(_), Some(_)) => {
            return Err(format!("set {ACCESS_KEY_SECRET_ENV} or {ACCESS_KEY_SECRET_FILE_ENV}, not both"));
        }
        (Some(s), None) => Some(s),
        (None, Some(path)) => Some(
            datadir::read_secret_file(std::path::Path::new(&path))
                .map_err(|e| format!("{ACCESS_KEY_SECRET_FILE_ENV}: {e}"))?,
        ),
        (None, None) => None,
    };
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("{ACCESS_KEY_ID_ENV} is set without a secret")),
        (None, Some(_)) => Err(format!("a secret is set without {ACCESS_KEY_ID_ENV}")),
    }
}

/// The core service configuration the file asks for; checked before anything is created.
pub fn kms_config(file: &FileConfig) -> Result<KmsConfig, String> {
    let default_spec = match file.keys.symmetric_algorithm.as_str() {
        "AES_256" => KeySpec::Aes256,
        "SM4" => KeySpec::Sm4,
        other => return Err(format!("keys.symmetric_algorithm must be AES_256 or SM4, not {other}")),
    };
    Ok(KmsConfig {
        default_spec,
        cache_ttl: Duration::from_millis(file.keys.cache_ttl_ms),
        cache_capacity: file.keys.cache_capacity.max(1),
        min_manual_rotation_interval: file.rotation.min_manual_interval_secs,
        max_keys_per_account: file.keys.max_keys_per_account,
        max_data_keys_per_account: file.keys.max_data_keys_per_account,
        max_concurrent_listings_per_account: file.keys.max_concurrent_listings_per_account,
    })
}

/// Builds the core service over an opened data directory (sealed if it opened sealed).
pub fn kms(dir: &datadir::DataDir, file: &FileConfig) -> Result<Arc<Kms>, String> {
    let root = match &dir.unlocked {
        Some(u) => RootSlot::unsealed(u.keyring()),
        None => RootSlot::sealed(),
    };
    Ok(Arc::new(Kms::new(dir.store.clone(), root, kms_config(file)?)))
}

/// Makes sure an account exists and, when the environment names one, that access key too.
/// Returns what to tell the operator.
pub async fn bootstrap(kms: &Kms, created: bool) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    // One account however many nodes start at once on an empty store (see Store::first_account).
    let (first, made) = kms.first_account().await.map_err(|e| e.to_string())?;
    if made {
        notes.push(format!("created account {}", first.id.0));
    }
    let account = first.id;
    let given = given_access_key()?;
    let existing = kms.list_access_keys().await.map_err(|e| e.to_string())?;
    match given {
        Some((id, secret)) if !existing.iter().any(|k| k.id == id) => {
            match kms.create_access_key(account, Some((id.clone(), secret.to_string()))).await {
                Ok(_) => {
                    notes.push(format!("access key {id} (from {ACCESS_KEY_ID_ENV}) created for account {}", account.0));
                }
                // Another node starting at the same moment inserted it first.
                Err(_) if kms.list_access_keys().await.is_ok_and(|ks| ks.iter().any(|k| k.id == id)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Some(_) => {}
        None if created || existing.is_empty() => {
            let k = kms.create_access_key(account, None).await.map_err(|e| e.to_string())?;
            print_credentials(account, &k.id, &k.secret);
        }
        None => {}
    }
    Ok(notes)
}

fn print_credentials(account: AccountId, id: &str, secret: &str) {
    // Shown once, on the terminal only: the secret is never logged and is stored sealed.
    println!("==================== ferrokms dev credentials (shown once) ====================");
    println!("account:    {}", account.0);
    println!("SecretId / AccessKeyId:        {id}");
    println!("SecretKey / AccessKeySecret:   {secret}");
    println!("Keep them: they are stored sealed and cannot be shown again.");
    println!("================================================================================");
}

/// The rate limiter the options ask for.
pub fn rate_limiter(opts: &ServeOptions) -> Arc<RateLimiter> {
    let r = &opts.file.rate_limits;
    if opts.no_rate_limit || !r.enabled {
        return Arc::new(RateLimiter::disabled());
    }
    let mut limits = r.actions.clone();
    limits.entry("GenerateDataKey".into()).or_insert(150);
    Arc::new(RateLimiter::new(true, r.default, limits))
}

/// Runs the server until SIGTERM or Ctrl-C, then drains connections (up to
/// `http.shutdown_timeout_secs`), stops the background task and closes the store (pending
/// commits written, database closed).
pub async fn serve(opts: ServeOptions) -> Result<(), String> {
    kms_config(&opts.file)?;
    if Region::from_alibaba(&opts.file.alibaba.default_region).is_none() {
        return Err(format!("alibaba.default_region: unknown region {}", opts.file.alibaba.default_region));
    }
    let limits = listener::limits(&opts.file.http)?;
    let store_cfg = config::StoreConfig { wait_for_store: true, ..opts.file.store.clone() };
    let dir = datadir::open_with(&opts.data_dir, &opts.file.root_key, &store_cfg).await?;
    tracing::info!(store = %dir.store_location, "store opened");
    let kms = kms(&dir, &opts.file)?;
    let skew = opts.file.max_clock_skew_secs.unwrap_or(300);
    let default_region = Region::from_alibaba(&opts.file.alibaba.default_region)
        .ok_or_else(|| format!("alibaba.default_region: unknown region {}", opts.file.alibaba.default_region))?;
    let rate_limits = rate_limiter(&opts);
    let cluster = cluster::spawn(kms.clone(), rate_limits.clone());
    let allow_unsigned = opts.file.allow_unsigned_payload;
    let app = app::App::new(
        kms.clone(),
        TencentApi::new(
            kms.clone(),
            rate_limits.clone(),
            ferrokms_tencent::TencentOptions {
                max_skew: skew,
                allow_unsigned_payload: allow_unsigned,
                signature_capacity: opts.file.tencent.signature_capacity,
                signature_share: opts.file.tencent.signature_share_per_account,
            },
        ),
        AlibabaApi::new(
            kms.clone(),
            rate_limits,
            default_region,
            opts.file.alibaba.nonce_capacity,
            opts.file.alibaba.nonce_share_per_account,
        ),
    )
    .with_body_timeout(limits.body_read)
    .expecting_audit(opts.file.audit.enabled);
    let app = Arc::new(app);
    let audit_dir = opts.file.audit.enabled.then(|| audit::dir(&dir.path, &opts.file.audit));
    let admin = admin_socket::Admin::new(
        &dir.path,
        kms.clone(),
        (dir.meta.clone(), dir.unlocked.clone()),
        datadir::secrets(&opts.file.root_key)?,
        opts.file.admin.retire_grace_secs,
        audit_dir,
    );
    if kms.is_sealed() {
        tracing::warn!(
            "sealed: {} is not set; every request is refused until `ferrokms admin unseal --data-dir {}`",
            datadir::PASSPHRASE_ENV,
            dir.path.display()
        );
        // The audit log opens once its signing key can be unsealed; until then the refusals
        // of a sealed server are not audited (docs/security.md).
        let (app, data_dir, cfg) = (app.clone(), dir.path.clone(), opts.file.audit.clone());
        admin.on_first_unseal(move |kms| {
            match kms.keyring().map_err(|e| e.to_string()).and_then(|ring| audit::Audit::open(&data_dir, &cfg, &*ring))
            {
                Ok(log) => app.set_audit(log),
                Err(e) => tracing::error!(error = %e, "the audit log cannot be opened: requests are refused"),
            }
            tokio::spawn(async move {
                match bootstrap(&kms, false).await {
                    Ok(notes) => notes.iter().for_each(|n| tracing::info!("{n}")),
                    Err(e) => tracing::error!(error = %e, "bootstrap after unseal failed"),
                }
            });
        });
    } else {
        let ring = kms.keyring().map_err(|e| e.to_string())?;
        app.set_audit(audit::Audit::open(&dir.path, &opts.file.audit, &*ring)?);
        for note in bootstrap(&kms, dir.created).await? {
            tracing::info!("{note}");
        }
    }
    let socket = admin_socket::serve(admin.clone(), &opts.file.admin.socket_path(&dir.path))?;
    admin.resume_resealing().await;
    let sweeper = app.clone();
    let every = Duration::from_secs(opts.file.background.interval_secs.max(1));
    let background = background::spawn(kms, every, move || {
        sweeper.sweep_replay_memory();
        sweeper.tick_audit();
    });
    let app_audit = app.audit_handle();
    let served = app::run(app, opts.listen, opts.file.tls.as_ref(), limits).await;
    background.stop(Duration::from_secs(5)).await;
    cluster.stop();
    socket.abort();
    let _ = std::fs::remove_file(opts.file.admin.socket_path(&dir.path));
    if let Some(audit) = app_audit.get() {
        audit.log.close().await;
    }
    dir.store.close().await;
    if served.is_ok() {
        tracing::info!("shutdown complete: connections closed, store flushed");
    }
    served
}
