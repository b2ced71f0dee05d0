//! The data directory: the root keys (or how to obtain them), the database, and the first
//! account with its access key.
//!
//! ```text
//! <data-dir>/ferrokms.json    the keyring: how each root key is obtained, which is active, check values
//! <data-dir>/root.key         32 random bytes, mode 0600 (a file root; later file roots are root-<id>.key)
//! <data-dir>/ferrokms.db      SQLite database (plus -wal and -shm files)
//! <data-dir>/admin.sock       the administration socket of a running server (unseal, seal, rotate-root)
//! ```

pub mod meta;
pub mod roots;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrokms_store::SqliteStore;
use ferrokms_store::sqlite::SqliteOptions;

use crate::config::{RootKeyConfig, RootKeySource};
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
    pub store: Arc<SqliteStore>,
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

/// Opens `dir`, creating it (root key per `source`, empty database) if it does not exist yet.
/// The root must unlock: a passphrase directory needs [`PASSPHRASE_ENV`] (the admin tool).
pub async fn open(dir: &Path, source: &RootKeyConfig) -> Result<DataDir, String> {
    let opened = open_with(dir, source, &SqliteOptions::default()).await?;
    if opened.unlocked.is_none() {
        return Err(format!("the root key is derived from a passphrase: set {PASSPHRASE_ENV}"));
    }
    Ok(opened)
}

/// [`open`] with the store's tunables; a passphrase directory without [`PASSPHRASE_ENV`] opens
/// sealed (`unlocked` is `None`), a wrong passphrase or key file is an error.
pub async fn open_with(dir: &Path, source: &RootKeyConfig, store: &SqliteOptions) -> Result<DataDir, String> {
    let created = !exists(dir);
    let (meta, unlocked) = if created {
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
        (meta, Some(unlocked))
    } else {
        let meta = Meta::read(dir)?;
        let secrets = secrets(source)?;
        match roots::unlock(dir, &meta, &secrets) {
            Ok(u) => (meta, Some(u)),
            Err(UnlockError::NeedPassphrase) => (meta, None),
            Err(UnlockError::WrongPassphrase) => {
                return Err("the root key does not match this data directory (wrong key file or passphrase)".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let store = SqliteStore::open_with(&database_path(dir), store).await.map_err(|e| e.to_string())?;
    Ok(DataDir { path: dir.to_path_buf(), meta, unlocked, store: Arc::new(store), created })
}

/// The database file of a data directory.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join(DATABASE)
}
