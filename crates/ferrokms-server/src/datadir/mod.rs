//! The data directory: the root keys (or how to obtain them), the store, and the first
//! account with its access key.
//!
//! ```text
//! <data-dir>/ferrokms.json    the keyring: how each root key is obtained, which is active, check values
//! <data-dir>/root.key         32 random bytes, mode 0600 (a file root; later file roots are root-<id>.key)
//! <data-dir>/ferrokms.db      SQLite database (plus -wal and -shm files), unless [store] url says otherwise
//! <data-dir>/admin.sock       the administration socket of a running server (unseal, seal, rotate-root)
//! ```
//!
//! The store is chosen by `[store] url` (`--store`): the SQLite file above by default, another
//! SQLite file, or a PostgreSQL database shared by several nodes. Each node keeps its own data
//! directory, all holding the same root keys (copies of the first node's `ferrokms.json` and key
//! file, or the same PKCS#11 key): the store keeps a check value sealed under the root, and a node
//! whose root does not open it refuses to start.

pub mod meta;
pub mod roots;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferrokms_core::store::Store;
use ferrokms_store::{PgStore, SqliteStore};

use crate::config::{RootKeyConfig, RootKeySource, StoreConfig};
use meta::{LEGACY_ROOT_FILE, META, Meta};
use roots::{NewRoot, Secrets, UnlockError, Unlocked};

const DATABASE: &str = "ferrokms.db";
/// Environment variable holding the root passphrase.
pub const PASSPHRASE_ENV: &str = "FERROKMS_ROOT_PASSPHRASE";

/// An opened data directory.
pub struct DataDir {
    /// Its path.
    pub path: PathBuf,
    /// The keyring description as last written.
    pub meta: Meta,
    /// The unlocked roots; `None` when the directory opened sealed (no passphrase given).
    pub unlocked: Option<Unlocked>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Where the store is, for messages (never a password).
    pub store_location: String,
    /// Whether it was created just now.
    pub created: bool,
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    let _ = std::fs::remove_file(&tmp); // a leftover of an interrupted first start
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The passphrase from the environment, if set.
pub fn passphrase_from_env() -> Option<zeroize::Zeroizing<String>> {
    std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new)
}

/// A secret kept in a file (an access key secret, a PIN): its text without a trailing newline;
/// an empty one is an error.
pub fn read_secret_file(path: &Path) -> Result<zeroize::Zeroizing<String>, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(zeroize::Zeroizing::new(secret.to_owned()))
}

/// The secrets the environment and `[root_key]` give: the passphrase, the PKCS#11 PIN.
pub fn secrets(cfg: &RootKeyConfig) -> Result<Secrets, String> {
    let pkcs11_pin = match &cfg.pin_file {
        Some(path) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the PIN file {}: {e}", path.display()))?,
            );
            Some(zeroize::Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned()))
        }
        None => std::env::var(roots::PKCS11_PIN_ENV).ok().filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new),
    };
    Ok(Secrets { passphrase: passphrase_from_env(), pkcs11_pin })
}

/// Whether `dir` holds a ferrokms data directory.
pub fn exists(dir: &Path) -> bool {
    dir.join(META).exists()
}

/// Where a data directory's store is.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (its URL).
    Postgres(String),
}

impl StoreLocation {
    /// The store `url` names (`sqlite://PATH`, `postgres://...`), by default the SQLite file of
    /// the data directory `dir`.
    pub fn of(dir: &Path, url: Option<&str>) -> Result<Self, String> {
        let Some(url) = url.filter(|u| !u.is_empty()) else { return Ok(Self::Sqlite(database_path(dir))) };
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(p) if !p.is_empty() && !p.starts_with(':') && !p.contains('?') => Ok(Self::Sqlite(PathBuf::from(p))),
            _ => Err(format!(
                "store url {:?}: expected sqlite://PATH or postgres://USER@HOST/DATABASE (see docs/configuration.md)",
                without_password(url)
            )),
        }
    }
}

/// `url` with whatever sits between `://` and the last `@` (user and password) replaced, for a
/// message about a URL that could not be read as a store's.
fn without_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_owned(),
        },
        None => url.rsplit_once('@').map_or_else(|| url.to_owned(), |(_, host)| format!("…@{host}")),
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreLocation {
    /// For messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite://{}", p.display()),
            Self::Postgres(url) => ferrokms_store::postgres::redact(url),
        }
    }

    async fn open(&self, cfg: &StoreConfig) -> Result<Arc<dyn Store>, String> {
        let fail = |e: ferrokms_core::store::StoreError| format!("cannot open the store {}: {e}", self.describe());
        Ok(match self {
            Self::Sqlite(path) => Arc::new(SqliteStore::open_with(path, &cfg.sqlite()).await.map_err(fail)?),
            Self::Postgres(url) => {
                let mut delay = Duration::from_millis(500);
                loop {
                    match PgStore::open(url, &cfg.postgres()).await {
                        Ok(s) => break Arc::new(s),
                        // A node that starts before its database (or while it restarts) waits
                        // for it, saying so; an invalid URL or a refused schema is not waited for.
                        Err(e @ ferrokms_core::store::StoreError::Unavailable(_))
                            if cfg.wait_for_store && !e.to_string().contains("invalid PostgreSQL URL") =>
                        {
                            tracing::warn!(
                                store = %self.describe(),
                                error = %e,
                                retry_in_ms = delay.as_millis() as u64,
                                "PostgreSQL store unreachable at start; retrying (not serving until it answers)"
                            );
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(5));
                        }
                        Err(e) => return Err(fail(e)),
                    }
                }
            }
        })
    }
}

/// Opens `dir` with the default store, creating it (root key per `source`, empty database) if
/// it does not exist yet. The root must unlock: a passphrase directory needs [`PASSPHRASE_ENV`].
pub async fn open(dir: &Path, source: &RootKeyConfig) -> Result<DataDir, String> {
    open_unlocked(dir, source, &StoreConfig::default()).await
}

/// [`open`] with the store `store` configures (the admin tool).
pub async fn open_unlocked(dir: &Path, source: &RootKeyConfig, store: &StoreConfig) -> Result<DataDir, String> {
    let opened = open_with(dir, source, store).await?;
    if opened.unlocked.is_none() {
        return Err(format!("the root key is derived from a passphrase: set {PASSPHRASE_ENV}"));
    }
    Ok(opened)
}

/// The refusal of a node whose root keys are not the store's.
pub fn root_mismatch(store: &str, dir: &Path) -> String {
    format!(
        "the root key of {} does not match the store {store}: the store was set up under another root key,          and what this node sealed the other nodes could not read. Every node must hold the same root keys:          copy ferrokms.json and its key file (root.key or root-<id>.key) from a node of this store into {}          (or use the same PKCS#11 key), then start again",
        dir.display(),
        dir.display()
    )
}

/// Checks that `ring` holds the root keys of `store` (setting the store's check value if it has
/// none yet).
pub async fn check_store_root(dir: &DataDir, ring: ferrokms_crypto::keyring::Keyring) -> Result<(), String> {
    match ferrokms_core::service::store_accepts(&*dir.store, Arc::new(ring)).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(root_mismatch(&dir.store_location, &dir.path)),
        Err(e) => Err(format!("cannot check the root key against the store {}: {e}", dir.store_location)),
    }
}

/// [`open`] with the store's configuration; a passphrase directory without [`PASSPHRASE_ENV`]
/// opens sealed (`unlocked` is `None`; the root is checked against the store at unseal), a wrong
/// passphrase or key file is an error, and so is a root that is not the store's.
pub async fn open_with(dir: &Path, source: &RootKeyConfig, store: &StoreConfig) -> Result<DataDir, String> {
    let location = StoreLocation::of(dir, store.url.as_deref())?;
    let created = !exists(dir);
    if created {
        // Never initialise over what could be someone's keys: a new root key would make them
        // unreadable.
        for leftover in [LEGACY_ROOT_FILE, DATABASE] {
            if dir.join(leftover).exists() {
                return Err(format!(
                    "{} holds {leftover} but no {META}: refusing to create a new root key over existing data \
                     (restore {META} from the same backup)",
                    dir.display()
                ));
            }
        }
    }
    // An existing data directory whose SQLite database is missing was most likely used with
    // another store (PostgreSQL, a file elsewhere): opening would silently start an empty one.
    if let StoreLocation::Sqlite(path) = &location
        && !created
        && !path.exists()
    {
        return Err(format!(
            "{} is a data directory, but its store {} does not exist: if this node's store is PostgreSQL or \
             another file, name it (--store, [store] url or FERROKMS_STORE_URL); if the database was lost, \
             restore it from a backup (a data directory whose first start was interrupted can be removed and \
             made again)",
            dir.display(),
            location.describe()
        ));
    }
    // A new data directory on a store that exists already (PostgreSQL, an SQLite file given by
    // path): if other nodes use it, a new root key could not read it. Checked before a root is made.
    let mut early = None;
    if created && !matches!(&location, StoreLocation::Sqlite(p) if !p.exists()) {
        let opened = location.open(store).await?;
        let in_use = opened.get_meta(ferrokms_core::service::STORE_ROOT_CHECK).await;
        if !matches!(in_use, Ok(None)) {
            opened.close().await;
            return Err(match in_use {
                Err(e) => format!("cannot read the store {}: {e}", location.describe()),
                _ => format!(
                    "the store {} is already in use under a root key, and {} is a new data directory: a new \
                     root key could not read what the store holds. Copy ferrokms.json and its key file (root.key \
                     or root-<id>.key) from a node of this store into {}, then start again",
                    location.describe(),
                    dir.display(),
                    dir.display()
                ),
            });
        }
        early = Some(opened);
    }
    let (meta, unlocked) = match unlock_dir(dir, source, created) {
        Ok(v) => v,
        Err(e) => {
            if let Some(s) = early {
                s.close().await;
            }
            return Err(e);
        }
    };
    let opened_store = match early {
        Some(s) => s,
        None => location.open(store).await?,
    };
    let opened = DataDir {
        path: dir.to_path_buf(),
        meta,
        unlocked,
        store: opened_store,
        store_location: location.describe(),
        created,
    };
    if let Some(u) = &opened.unlocked
        && let Err(e) = check_store_root(&opened, u.keyring()).await
    {
        opened.store.close().await;
        return Err(e);
    }
    Ok(opened)
}

/// Creates the keyring of a new directory, or unlocks the existing one.
fn unlock_dir(dir: &Path, source: &RootKeyConfig, created: bool) -> Result<(Meta, Option<Unlocked>), String> {
    if created {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let secrets = secrets(source)?;
        let how = match source.source {
            RootKeySource::File => NewRoot::File,
            RootKeySource::Passphrase => NewRoot::Passphrase(passphrase_from_env().ok_or_else(|| {
                format!(
                    "the root key is to be derived from a passphrase: set {PASSPHRASE_ENV} to create the data directory"
                )
            })?),
            RootKeySource::Pkcs11 => {
                let (module, token_label, key_label) = match (&source.module, &source.token_label, &source.key_label) {
                    (Some(m), Some(t), Some(k)) => (m.display().to_string(), t.clone(), k.clone()),
                    _ => return Err("[root_key] source = \"pkcs11\" needs module, token_label and key_label".into()),
                };
                NewRoot::Pkcs11 { module, token_label, key_label }
            }
        };
        let (meta, unlocked) = roots::create_first(dir, how, &secrets, ferrokms_core::model::now())?;
        meta.write(dir)?;
        Ok((meta, Some(unlocked)))
    } else {
        let meta = Meta::read(dir)?;
        let secrets = secrets(source)?;
        match roots::unlock(dir, &meta, &secrets) {
            Ok(u) => Ok((meta, Some(u))),
            Err(UnlockError::NeedPassphrase) => Ok((meta, None)),
            Err(UnlockError::WrongPassphrase) => {
                Err("the root key does not match this data directory (wrong key file or passphrase)".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The database file of a data directory.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join(DATABASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        let dir = Path::new("/var/lib/ferrokms");
        assert_eq!(StoreLocation::of(dir, None).unwrap(), StoreLocation::Sqlite(dir.join("ferrokms.db")));
        assert_eq!(StoreLocation::of(dir, Some("")).unwrap(), StoreLocation::Sqlite(dir.join("ferrokms.db")));
        assert_eq!(
            StoreLocation::of(dir, Some("sqlite:///srv/kms.db")).unwrap(),
            StoreLocation::Sqlite("/srv/kms.db".into())
        );
        assert_eq!(StoreLocation::of(dir, Some("sqlite://kms.db")).unwrap(), StoreLocation::Sqlite("kms.db".into()));
        assert_eq!(StoreLocation::of(dir, Some("sqlite:kms.db")).unwrap(), StoreLocation::Sqlite("kms.db".into()));
        let pg = "postgres://ferrokms:pw@db:5432/ferrokms?sslmode=verify-full";
        assert_eq!(StoreLocation::of(dir, Some(pg)).unwrap(), StoreLocation::Postgres(pg.into()));
        let described = StoreLocation::of(dir, Some(pg)).unwrap().describe();
        assert!(!described.contains("pw"), "{described}");
        assert!(described.contains("db:5432/ferrokms"), "{described}");
        assert!(StoreLocation::of(dir, Some("postgresql://db/x")).is_ok());
        for bad in ["mysql://db/x", "sqlite::memory:", "sqlite://", "/plain/path.db", "sqlite://x.db?mode=ro"] {
            assert!(StoreLocation::of(dir, Some(bad)).is_err(), "{bad}");
        }
    }
}
