//! Hot keys, unsealed in memory.
//!
//! An entry holds a key's metadata (trusted for `ttl`, then re-read, since other processes may
//! change it) and the prepared material of the versions used so far (immutable, so kept until the
//! entry is evicted). Dropping an entry drops its key schedules, which wipe themselves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokms_crypto::aead::SymmetricKey;
use parking_lot::RwLock;
use uuid::Uuid;

use crate::model::KeyRecord;

/// A cached key.
pub(crate) struct CachedKey {
    pub(crate) record: KeyRecord,
    loaded_at: Instant,
    versions: Arc<RwLock<HashMap<u32, Arc<SymmetricKey>>>>,
}

impl CachedKey {
    pub(crate) fn version(&self, v: u32) -> Option<Arc<SymmetricKey>> {
        self.versions.read().get(&v).cloned()
    }

    pub(crate) fn put_version(&self, v: u32, key: Arc<SymmetricKey>) {
        self.versions.write().insert(v, key);
    }
}

pub(crate) struct KeyCache {
    ttl: Duration,
    capacity: usize,
    entries: RwLock<HashMap<Uuid, Arc<CachedKey>>>,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The entry, if present and its metadata is younger than the TTL.
    pub(crate) fn get_fresh(&self, id: Uuid) -> Option<Arc<CachedKey>> {
        let entry = self.entries.read().get(&id).cloned()?;
        (entry.loaded_at.elapsed() < self.ttl).then_some(entry)
    }

    /// Caches fresh metadata, keeping the already unsealed versions of the key.
    pub(crate) fn insert(&self, record: KeyRecord) -> Arc<CachedKey> {
        let mut entries = self.entries.write();
        let versions = entries.get(&record.id).map(|e| e.versions.clone()).unwrap_or_default();
        if entries.len() >= self.capacity && !entries.contains_key(&record.id) {
            // Evict an arbitrary half: simple, and a re-read costs one query and one unseal.
            let victims: Vec<Uuid> = entries.keys().take(entries.len() / 2 + 1).copied().collect();
            for v in victims {
                entries.remove(&v);
            }
        }
        let entry = Arc::new(CachedKey {
            loaded_at: Instant::now(),
            versions,
            record,
        });
        entries.insert(entry.record.id, entry.clone());
        entry
    }

    /// Forgets a key (deleted).
    pub(crate) fn remove(&self, id: Uuid) {
        self.entries.write().remove(&id);
    }
}
