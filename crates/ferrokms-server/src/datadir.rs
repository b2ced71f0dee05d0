//! The data directory: the root key (or the parameters to derive it), the database, and the
//! first account with its access key.
//!
//! ```text
//! <data-dir>/ferrokms.json    how the root key is obtained, and a sealed check value
//! <data-dir>/root.key         32 random bytes, mode 0600 (file source only)
//! <data-dir>/ferrokms.db      SQLite database (plus -wal and -shm files)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_crypto::random;
use ferrokms_crypto::root::{LocalRootKey, PassphraseParams, RootKey};
use ferrokms_store::SqliteStore;
use ferrokms_store::sqlite::SqliteOptions;
use serde::{Deserialize, Serialize};

use crate::config::RootKeySource;

const META: &str = "ferrokms.json";
const ROOT_KEY: &str = "root.key";
const DATABASE: &str = "ferrokms.db";
const CHECK_AAD: &[u8] = b"ferrokms/root-key-check/v1";
const CHECK_VALUE: &[u8] = b"ferrokms root key check";
/// Environment variable holding the root passphrase.
pub const PASSPHRASE_ENV: &str = "FERROKMS_ROOT_PASSPHRASE";

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    root_key: RootMeta,
    /// The check value sealed under the root key: a wrong key or passphrase is caught at start.
    check: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase")]
enum RootMeta {
    File,
    Passphrase { salt: String, memory_kib: u32, iterations: u32, parallelism: u32 },
}

/// An opened data directory.
pub struct DataDir {
    /// The root key.
    pub root: Arc<dyn RootKey>,
    /// The store.
    pub store: Arc<SqliteStore>,
    /// Whether it was created just now.
    pub created: bool,
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

fn passphrase() -> Result<zeroize::Zeroizing<String>, String> {
    std::env::var(PASSPHRASE_ENV)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| format!("the root key is derived from a passphrase: set {PASSPHRASE_ENV}"))
}

fn create_root(dir: &Path, source: &RootKeySource) -> Result<(LocalRootKey, RootMeta), String> {
    match source {
        RootKeySource::File => {
            let bytes = LocalRootKey::generate_bytes().map_err(|e| e.to_string())?;
            write_private(&dir.join(ROOT_KEY), &bytes).map_err(|e| format!("cannot write the root key: {e}"))?;
            Ok((LocalRootKey::from_bytes(&bytes).map_err(|e| e.to_string())?, RootMeta::File))
        }
        RootKeySource::Passphrase => {
            let pass = passphrase()?;
            if pass.len() < 12 {
                return Err("the root passphrase must have at least 12 characters".into());
            }
            let salt = random::array::<16>().map_err(|e| e.to_string())?;
            let p = PassphraseParams::default();
            let root = LocalRootKey::from_passphrase(pass.as_bytes(), &salt, p).map_err(|e| e.to_string())?;
            let meta = RootMeta::Passphrase {
                salt: STANDARD.encode(salt),
                memory_kib: p.memory_kib,
                iterations: p.iterations,
                parallelism: p.parallelism,
            };
            Ok((root, meta))
        }
    }
}

fn load_root(dir: &Path, meta: &RootMeta) -> Result<LocalRootKey, String> {
    match meta {
        RootMeta::File => {
            let path = dir.join(ROOT_KEY);
            let bytes = zeroize::Zeroizing::new(
                std::fs::read(&path).map_err(|e| format!("cannot read the root key {}: {e}", path.display()))?,
            );
            LocalRootKey::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        RootMeta::Passphrase { salt, memory_kib, iterations, parallelism } => {
            let salt = STANDARD.decode(salt).map_err(|_| "corrupt salt in ferrokms.json".to_string())?;
            let p = PassphraseParams { memory_kib: *memory_kib, iterations: *iterations, parallelism: *parallelism };
            LocalRootKey::from_passphrase(passphrase()?.as_bytes(), &salt, p).map_err(|e| e.to_string())
        }
    }
}

/// Whether `dir` holds a ferrokms data directory.
pub fn exists(dir: &Path) -> bool {
    dir.join(META).exists()
}

/// Opens `dir`, creating it (root key per `source`, empty database) if it does not exist yet.
pub async fn open(dir: &Path, source: &RootKeySource) -> Result<DataDir, String> {
    open_with(dir, source, &SqliteOptions::default()).await
}

/// [`open`] with the store's tunables.
pub async fn open_with(dir: &Path, source: &RootKeySource, store: &SqliteOptions) -> Result<DataDir, String> {
    let meta_path = dir.join(META);
    let created = !meta_path.exists();
    if created {
        // Never initialise over what could be someone's keys: a new root key would make them
        // unreadable.
        for leftover in [ROOT_KEY, DATABASE] {
            if dir.join(leftover).exists() {
                return Err(format!(
                    "{} holds {leftover} but no {META}: refusing to create a new root key over existing data \
                     (restore {META} from the same backup)",
                    dir.display()
                ));
            }
        }
    }
    let root = if created {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let (root, root_meta) = create_root(dir, source)?;
        let check = STANDARD.encode(root.seal(CHECK_AAD, CHECK_VALUE).map_err(|e| e.to_string())?);
        let meta = Meta { format: 1, root_key: root_meta, check };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| e.to_string())?;
        write_private(&meta_path, &json).map_err(|e| format!("cannot write {}: {e}", meta_path.display()))?;
        root
    } else {
        let text = std::fs::read(&meta_path).map_err(|e| format!("cannot read {}: {e}", meta_path.display()))?;
        let meta: Meta = serde_json::from_slice(&text).map_err(|e| format!("corrupt {}: {e}", meta_path.display()))?;
        let root = load_root(dir, &meta.root_key)?;
        let check = STANDARD.decode(&meta.check).map_err(|_| "corrupt check value in ferrokms.json".to_string())?;
        if root.open(CHECK_AAD, &check).is_err() {
            return Err("the root key does not match this data directory (wrong key file or passphrase)".into());
        }
        root
    };
    let store = SqliteStore::open_with(&database_path(dir), store).await.map_err(|e| e.to_string())?;
    Ok(DataDir { root: Arc::new(root), store: Arc::new(store), created })
}

/// The database file of a data directory.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join(DATABASE)
}
