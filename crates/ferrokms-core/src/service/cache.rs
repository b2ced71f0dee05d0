//! Hot keys, unsealed in memory.
//!
//! An entry holds a key's metadata (trusted for `ttl`, then re-read, since other processes may
//! change it) and the prepared material of the versions used so far (immutable, so kept until the
//! entry is evicted). Dropping an entry drops its key schedules, which wipe themselves.
//!
//! A stale entry is re-read by the first request that finds it so; the requests arriving during
//! that read go on with the stale entry instead of all reading the store at once (under load,
//! every TTL, each request in flight would otherwise queue for the database together). A re-read
//! that does not finish within a tenth of a TTL (cancelled with its request, or slow) is taken
//! over by the next request, and nobody uses an entry older than two TTLs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferrokms_crypto::key::PreparedKey;
use parking_lot::RwLock;
use uuid::Uuid;

use crate::model::KeyRecord;

/// When a cached entry was read, and whether a re-read of it is under way.
#[derive(Debug)]
pub(crate) struct Freshness {
    loaded_at: Instant,
    /// When the last re-read began, in nanoseconds after `loaded_at` (0: none).
    reread_at: AtomicU64,
    /// Another process told that the record changed: re-read before use.
    invalidated: AtomicBool,
}

impl Freshness {
    /// Read just now.
    pub(crate) fn now() -> Self {
        Self { loaded_at: Instant::now(), reread_at: AtomicU64::new(0), invalidated: AtomicBool::new(false) }
    }

    /// Read just now, unless `epoch` moved since the read began (a change was told meanwhile, so
    /// the read may predate it): then it serves its own request only.
    pub(crate) fn read_at(epoch: &Epoch, began: u64) -> Self {
        let f = Self::now();
        if epoch.current() != began {
            f.invalidate();
        }
        f
    }

    /// The record changed elsewhere: the next caller re-reads it.
    pub(crate) fn invalidate(&self) {
        self.invalidated.store(true, Ordering::Release);
    }

    /// Whether the entry may be used: younger than `ttl`, or stale while another caller re-reads
    /// it and younger than two TTLs. False tells the caller to re-read it; only one caller is
    /// told so per tenth of a TTL, so a re-read that was cancelled (its client went away) or is
    /// slow is taken over by the next caller after that.
    pub(crate) fn usable(&self, ttl: Duration) -> bool {
        if self.invalidated.load(Ordering::Acquire) {
            return false;
        }
        let age = self.loaded_at.elapsed();
        if age < ttl {
            return true;
        }
        if age >= ttl.saturating_mul(2) {
            return false;
        }
        let now = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX).max(1);
        let grace = u64::try_from((ttl / 10).as_nanos()).unwrap_or(u64::MAX);
        let began = self.reread_at.load(Ordering::Acquire);
        if began != 0 && now.saturating_sub(began) < grace {
            return true;
        }
        // Claim the re-read; losing the race means another caller just did.
        self.reread_at.compare_exchange(began, now, Ordering::AcqRel, Ordering::Acquire).is_err()
    }

    /// The re-read failed: the next caller tries again.
    pub(crate) fn refresh_failed(&self) {
        self.reread_at.store(0, Ordering::Release);
    }
}

/// Counts the changes told by other processes, so a read that began before one is not trusted
/// after it.
#[derive(Debug, Default)]
pub(crate) struct Epoch(AtomicU64);

impl Epoch {
    pub(crate) fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// The prepared material of one key version, and the version's id.
pub(crate) struct VersionKey {
    pub(crate) key: PreparedKey,
    pub(crate) id: Uuid,
}

/// A cached key.
pub(crate) struct CachedKey {
    pub(crate) record: KeyRecord,
    freshness: Freshness,
    versions: Arc<RwLock<HashMap<u32, Arc<VersionKey>>>>,
    /// The record's current version, once looked up: what every Encrypt and GenerateDataKey
    /// uses, reached without the map's lock.
    current: OnceLock<Arc<VersionKey>>,
}

impl CachedKey {
    pub(crate) fn version(&self, v: u32) -> Option<Arc<VersionKey>> {
        if v == self.record.current_version
            && let Some(k) = self.current.get()
        {
            return Some(k.clone());
        }
        let found = self.versions.read().get(&v).cloned();
        if v == self.record.current_version
            && let Some(k) = &found
        {
            let _ = self.current.set(k.clone());
        }
        found
    }

    /// The number of an already unsealed version, by its id.
    pub(crate) fn version_number(&self, id: Uuid) -> Option<u32> {
        self.versions.read().iter().find(|(_, k)| k.id == id).map(|(v, _)| *v)
    }

    pub(crate) fn put_version(&self, v: u32, key: Arc<VersionKey>) {
        self.versions.write().insert(v, key);
    }
}

pub(crate) struct KeyCache {
    ttl: Duration,
    capacity: usize,
    entries: RwLock<HashMap<Uuid, Arc<CachedKey>>>,
    epoch: Epoch,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity: capacity.max(1), entries: RwLock::new(HashMap::new()), epoch: Epoch::default() }
    }

    /// Where the told changes stand; pass it to [`insert_read`](Self::insert_read).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.current()
    }

    /// Another process changed key `id`: its entry is re-read by the next caller (its unsealed
    /// versions are kept: they never change).
    pub(crate) fn invalidate(&self, id: Uuid) {
        self.epoch.bump();
        if let Some(e) = self.entries.read().get(&id) {
            e.freshness.invalidate();
        }
    }

    /// Changes may have been missed: every entry is re-read by its next caller.
    pub(crate) fn invalidate_all(&self) {
        self.epoch.bump();
        for e in self.entries.read().values() {
            e.freshness.invalidate();
        }
    }

    /// The entry, if present and usable (see [`Freshness::usable`]); `None` tells the caller to
    /// read the key and [`insert`](Self::insert) it (or [`refresh_failed`](Self::refresh_failed)).
    pub(crate) fn get_fresh(&self, id: Uuid) -> Option<Arc<CachedKey>> {
        let entry = self.entries.read().get(&id).cloned()?;
        entry.freshness.usable(self.ttl).then_some(entry)
    }

    /// A re-read told by [`get_fresh`](Self::get_fresh) failed: the next caller tries again.
    pub(crate) fn refresh_failed(&self, id: Uuid) {
        if let Some(entry) = self.entries.read().get(&id) {
            entry.freshness.refresh_failed();
        }
    }

    /// Caches metadata read from the store since [`epoch`](Self::epoch) answered `began`.
    pub(crate) fn insert_read(&self, record: KeyRecord, began: u64) -> Arc<CachedKey> {
        self.insert_with(record, Freshness::read_at(&self.epoch, began))
    }

    /// Caches fresh metadata, keeping the already unsealed versions of the key.
    pub(crate) fn insert(&self, record: KeyRecord) -> Arc<CachedKey> {
        self.insert_with(record, Freshness::now())
    }

    fn insert_with(&self, record: KeyRecord, freshness: Freshness) -> Arc<CachedKey> {
        let mut entries = self.entries.write();
        // A read that raced with a write is older than the cached record: keep the newer one.
        if let Some(existing) = entries.get(&record.id)
            && existing.record.revision > record.revision
        {
            return existing.clone();
        }
        let versions = entries.get(&record.id).map(|e| e.versions.clone()).unwrap_or_default();
        if entries.len() >= self.capacity && !entries.contains_key(&record.id) {
            // Evict an arbitrary half: simple, and a re-read costs one query and one unseal.
            let victims: Vec<Uuid> = entries.keys().take(entries.len() / 2 + 1).copied().collect();
            for v in victims {
                entries.remove(&v);
            }
        }
        let entry = Arc::new(CachedKey { freshness, versions, record, current: OnceLock::new() });
        entries.insert(entry.record.id, entry.clone());
        entry
    }

    /// Forgets a key (deleted).
    pub(crate) fn remove(&self, id: Uuid) {
        self.entries.write().remove(&id);
    }

    /// Forgets every key (the service is sealed). Unsealed versions are wiped when the last
    /// request still holding them ends.
    pub(crate) fn clear(&self) {
        let old = std::mem::take(&mut *self.entries.write());
        drop(old); // outside the lock: dropping prepared keys does work
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountId, KeySpec, KeyState, KeyUsage, Origin, Region};

    fn aged(age: Duration) -> Freshness {
        Freshness { loaded_at: Instant::now() - age, reread_at: AtomicU64::new(0), invalidated: AtomicBool::new(false) }
    }

    #[test]
    fn one_caller_rereads_a_stale_entry_while_the_others_use_it() {
        let ttl = Duration::from_secs(10);
        let fresh = aged(Duration::ZERO);
        assert!(fresh.usable(ttl) && fresh.usable(ttl));
        let stale = aged(Duration::from_secs(12));
        assert!(!stale.usable(ttl), "the first caller to find it stale re-reads it");
        assert!(stale.usable(ttl) && stale.usable(ttl), "the others go on with it meanwhile");
        stale.refresh_failed();
        assert!(!stale.usable(ttl), "after a failed re-read, the next caller tries again");
        assert!(stale.usable(ttl));
        // A re-read begun more than a tenth of a TTL ago was cancelled or is slow: taken over.
        let abandoned = aged(Duration::from_secs(12));
        abandoned.reread_at.store(Duration::from_secs(10).as_nanos() as u64, Ordering::Relaxed);
        assert!(!abandoned.usable(ttl), "a cancelled re-read blocks the others for a tenth of a TTL at most");
        assert!(abandoned.usable(ttl));
        // Two TTLs old: nobody uses it any more.
        let old = aged(Duration::from_secs(21));
        assert!(!old.usable(ttl) && !old.usable(ttl));
    }

    fn record(revision: u64, state: KeyState) -> KeyRecord {
        KeyRecord {
            id: Uuid::nil(),
            account: AccountId(1),
            region: Region("ap-guangzhou".into()),
            alias: "a".into(),
            description: String::new(),
            usage: KeyUsage::EncryptDecrypt,
            spec: KeySpec::Aes256,
            origin: Origin::Generated,
            state,
            created_at: 0,
            deletion_date: 0,
            rotation_enabled: false,
            rotation_interval: 365 * 86_400,
            deletion_protection: false,
            deletion_protection_description: String::new(),
            policy: String::new(),
            last_rotated_at: 0,
            next_rotation_at: 0,
            current_version: 1,
            revision,
            material_expires_at: 0,
            material_fingerprint: vec![],
            tags: vec![],
        }
    }

    #[test]
    fn a_stale_read_does_not_replace_a_newer_write() {
        let cache = KeyCache::new(Duration::from_secs(60), 10);
        cache.insert(record(2, KeyState::Disabled)); // DisableKey wrote revision 2
        let got = cache.insert(record(1, KeyState::Enabled)); // a read of revision 1 that lost the race
        assert_eq!(got.record.state, KeyState::Disabled);
        assert_eq!(cache.get_fresh(Uuid::nil()).unwrap().record.revision, 2);
        cache.insert(record(3, KeyState::Enabled));
        assert_eq!(cache.get_fresh(Uuid::nil()).unwrap().record.state, KeyState::Enabled);
    }

    #[test]
    fn a_told_change_forces_a_reread_and_keeps_versions_trusted_only_after_it() {
        let cache = KeyCache::new(Duration::from_secs(60), 10);
        cache.insert(record(1, KeyState::Enabled));
        assert!(cache.get_fresh(Uuid::nil()).is_some());
        let began = cache.epoch();
        cache.invalidate(Uuid::nil());
        assert!(cache.get_fresh(Uuid::nil()).is_none(), "told: re-read");
        assert!(cache.get_fresh(Uuid::nil()).is_none(), "every caller re-reads until one has");
        // A read that began before the change was told serves its own request only.
        cache.insert_read(record(1, KeyState::Enabled), began);
        assert!(cache.get_fresh(Uuid::nil()).is_none());
        let began = cache.epoch();
        cache.insert_read(record(2, KeyState::Disabled), began);
        assert_eq!(cache.get_fresh(Uuid::nil()).unwrap().record.state, KeyState::Disabled);
        cache.invalidate_all();
        assert!(cache.get_fresh(Uuid::nil()).is_none());
    }

    #[test]
    fn entries_expire_and_capacity_is_bounded() {
        let cache = KeyCache::new(Duration::ZERO, 2);
        cache.insert(record(1, KeyState::Enabled));
        assert!(cache.get_fresh(Uuid::nil()).is_none(), "zero TTL: always re-read");
        let cache = KeyCache::new(Duration::from_secs(60), 2);
        for _ in 0..10 {
            cache.insert(KeyRecord { id: Uuid::new_v4(), ..record(1, KeyState::Enabled) });
        }
        assert!(cache.entries.read().len() <= 2);
    }
}
