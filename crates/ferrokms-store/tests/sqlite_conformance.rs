//! The store conformance suite against the SQLite backend, each case on a fresh database file.

use std::path::PathBuf;
use std::sync::Arc;

use ferrokms_core::store::Store;
use ferrokms_store::SqliteStore;

/// Removes the database files when the case ends.
struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

async fn open() -> (Arc<dyn Store>, TempDb) {
    let path = std::env::temp_dir().join(format!("ferrokms-conformance-{}.db", uuid::Uuid::new_v4()));
    let store = SqliteStore::open(&path).await.expect("open a fresh SQLite store");
    (Arc::new(store), TempDb(path))
}

ferrokms_store::conformance_tests!(open);
