//! `ferrokms.json`: how each root key of the data directory is obtained, which one is active,
//! and a check value per root (so a wrong key file, passphrase or HSM key is caught at start).
//!
//! Format 2 holds a keyring:
//!
//! ```json
//! { "format": 2, "active": 2,
//!   "roots": [
//!     { "id": 1, "source": "passphrase", "salt": "...", "memory_kib": 65536, "iterations": 3,
//!       "parallelism": 4, "check": "...", "wrapped": "...", "created_at": 1764000000,
//!       "deactivated_at": 1764600000 },
//!     { "id": 2, "source": "file", "file": "root-2.key", "check": "...", "created_at": 1764600000 } ] }
//! ```
//!
//! A retiring root that lives in this process (file or passphrase) is kept `wrapped`: sealed under
//! the active root, so unlocking the active root unlocks the whole ring. Format 1 (one root, no
//! ids) is read as a ring of root 1.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_private;

/// The file name.
pub(super) const META: &str = "ferrokms.json";
/// The key file of format 1 (and of root 1).
pub(super) const LEGACY_ROOT_FILE: &str = "root.key";

/// Where one root key lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum RootSource {
    /// 32 random bytes in a file of the data directory.
    File {
        /// File name within the data directory.
        #[serde(default = "legacy_root_file")]
        file: String,
    },
    /// Derived from a passphrase with Argon2id.
    Passphrase {
        /// Base64 of the salt.
        salt: String,
        /// Argon2 memory, KiB.
        memory_kib: u32,
        /// Argon2 passes.
        iterations: u32,
        /// Argon2 lanes.
        parallelism: u32,
    },
    /// An AES-256 key in a PKCS#11 token.
    Pkcs11 {
        /// Path of the PKCS#11 library.
        module: String,
        /// Token label.
        token_label: String,
        /// Key label.
        key_label: String,
    },
}

fn legacy_root_file() -> String {
    LEGACY_ROOT_FILE.into()
}

/// One root of the ring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootEntry {
    /// Its id (1, 2, ...).
    pub id: u32,
    /// Where it lives.
    #[serde(flatten)]
    pub source: RootSource,
    /// Base64 of the check value sealed under this root.
    pub check: String,
    /// Base64 of this root's key sealed under the active root (retiring file and passphrase roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<String>,
    /// When it was added (Unix seconds; 0 if unknown).
    #[serde(default)]
    pub created_at: u64,
    /// When another root replaced it as the active one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<u64>,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// 2.
    pub format: u32,
    /// Id of the active root.
    pub active: u32,
    /// Every root still referenced.
    pub roots: Vec<RootEntry>,
}

#[derive(Deserialize)]
struct MetaV1 {
    root_key: RootSource,
    check: String,
}

impl Meta {
    /// The active root's entry.
    pub fn active_entry(&self) -> Option<&RootEntry> {
        self.roots.iter().find(|r| r.id == self.active)
    }

    /// Reads `<dir>/ferrokms.json`, either format.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join(META);
        let text = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let corrupt = |e: serde_json::Error| format!("corrupt {}: {e}", path.display());
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(corrupt)?;
        let meta = match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(1) => {
                let v1: MetaV1 = serde_json::from_value(value).map_err(corrupt)?;
                let source = match v1.root_key {
                    RootSource::File { .. } => RootSource::File { file: legacy_root_file() },
                    other => other,
                };
                let root =
                    RootEntry { id: 1, source, check: v1.check, wrapped: None, created_at: 0, deactivated_at: None };
                Self { format: 2, active: 1, roots: vec![root] }
            }
            Some(2) => serde_json::from_value(value).map_err(corrupt)?,
            other => return Err(format!("{}: unknown format {other:?} (a newer ferrokms?)", path.display())),
        };
        if meta.active_entry().is_none() {
            return Err(format!("corrupt {}: the active root {} is not listed", path.display(), meta.active));
        }
        Ok(meta)
    }

    /// Writes the file atomically (temporary file, fsync, rename, fsync of the directory).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(META);
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_private(&path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_1_reads_as_a_ring_of_root_1() {
        let dir = std::env::temp_dir().join(format!("ferrokms-meta-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(META), br#"{"format":1,"root_key":{"source":"file"},"check":"abc"}"#).unwrap();
        let meta = Meta::read(&dir).unwrap();
        assert_eq!(meta.active, 1);
        assert_eq!(meta.roots[0].source, RootSource::File { file: "root.key".into() });
        assert_eq!(meta.roots[0].check, "abc");
        meta.write(&dir).unwrap();
        let again = Meta::read(&dir).unwrap();
        assert_eq!(again.format, 2);
        assert_eq!(again.roots[0].source, meta.roots[0].source);
        std::fs::write(dir.join(META), br#"{"format":9}"#).unwrap();
        assert!(Meta::read(&dir).unwrap_err().contains("unknown format"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
