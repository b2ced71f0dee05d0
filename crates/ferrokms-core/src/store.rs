//! The storage seam: what the service needs from a database, and nothing about SQL.
//!
//! Backends (SQLite now, PostgreSQL next) implement [`Store`] and normalise their native errors
//! into [`StoreError`]. Updates are optimistic: every record carries a `revision`, and an update
//! only applies if the stored revision is still the one read, so concurrent state changes never
//! silently overwrite each other.

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::{
    AccessKeyRecord, AccountId, AccountRecord, AliasRecord, DataKeyRecord, KeyRecord, KeySpec, KeyState, KeyUsage,
    Origin, Region, VersionRecord,
};

/// Storage failures, normalised across backends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// A read ran past its time limit (or its caller went away) and was stopped.
    #[error("statement stopped: {0}")]
    Interrupted(String),
    /// The backend failed; the text is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Which uniqueness rule or optimistic check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The alias is taken in this account and region.
    Alias,
    /// The data key name is taken in this account and region.
    DataKeyName,
    /// The record changed since it was read.
    Stale,
    /// A record with this id exists.
    Duplicate,
}

/// Sort order of listings by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first.
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
}

/// A tag filter: the tag key and the accepted values (any value if empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// Tag key.
    pub key: String,
    /// Accepted values.
    pub values: Vec<String>,
}

/// Filters and paging of key listings.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Only these states (all if empty).
    pub states: Vec<KeyState>,
    /// Only this origin.
    pub origin: Option<Origin>,
    /// Only these usages (all if empty).
    pub usages: Vec<KeyUsage>,
    /// Only these specs (all if empty).
    pub specs: Vec<KeySpec>,
    /// Substring of the id or alias.
    pub search: Option<String>,
    /// Every filter must match.
    pub tags: Vec<TagFilter>,
    /// Sort order.
    pub order: Order,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// Filters and paging of hosted data key listings.
#[derive(Debug, Clone, Default)]
pub struct DataKeyFilter {
    /// Only these states (all if empty).
    pub states: Vec<KeyState>,
    /// Only this origin.
    pub origin: Option<Origin>,
    /// Substring of the id or name.
    pub search: Option<String>,
    /// Only data keys under this CMK.
    pub key_id: Option<Uuid>,
    /// Only data keys of this length.
    pub number_of_bytes: Option<u32>,
    /// Every filter must match.
    pub tags: Vec<TagFilter>,
    /// Sort order.
    pub order: Order,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// Where a value sealed under the root key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedPlace {
    /// The material of a key version.
    KeyVersion {
        /// The key.
        key_id: Uuid,
        /// The version.
        version: u32,
    },
    /// The secret of an access key.
    AccessKey {
        /// The access key id.
        id: String,
    },
}

/// A value sealed under the root key, with what its associated data is made of.
#[derive(Debug, Clone)]
pub struct SealedValue {
    /// Where it is kept.
    pub place: SealedPlace,
    /// The account it belongs to.
    pub account: AccountId,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

/// A change another node (or `ferrokms admin`) made, told by a store shared between processes,
/// so that caches drop what it names before their TTL ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key's row (state, versions, tags, alias) changed, or the key went.
    Key(Uuid),
    /// An access key was added, revoked, reactivated or re-sealed.
    AccessKey(String),
    /// Changes may have been missed (the listening connection was lost): forget everything.
    All,
}

/// Held while this process does the cluster's background pass; dropping it lets another do it.
pub type Lease = Box<dyn std::any::Any + Send>;

/// Persistence of accounts, access keys, keys, versions and hosted data keys.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account with the next free id.
    async fn create_account(&self, name: &str, now: u64) -> Result<AccountRecord, StoreError>;
    /// All accounts.
    async fn list_accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;
    /// Stores a new access key.
    async fn insert_access_key(&self, key: &AccessKeyRecord) -> Result<(), StoreError>;
    /// One access key.
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError>;
    /// All access keys.
    async fn list_access_keys(&self) -> Result<Vec<AccessKeyRecord>, StoreError>;
    /// Activates or deactivates an access key; false if it does not exist.
    async fn set_access_key_active(&self, id: &str, active: bool) -> Result<bool, StoreError>;

    /// Stores a new key with its first version, atomically.
    async fn insert_key(&self, key: &KeyRecord, first: Option<&VersionRecord>) -> Result<(), StoreError>;
    /// One key by id, whatever its account.
    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError>;
    /// Replaces a key's mutable fields and tags if its stored revision is `expected_revision`.
    async fn update_key(&self, key: &KeyRecord, expected_revision: u64) -> Result<(), StoreError>;
    /// Adds a version and updates the key (current version, rotation times) atomically.
    async fn add_version(
        &self,
        key: &KeyRecord,
        expected_revision: u64,
        version: &VersionRecord,
    ) -> Result<(), StoreError>;
    /// Updates a key (compare-and-swap on its revision) and deletes all its versions' material,
    /// atomically (DeleteImportedKeyMaterial, imported material expiring).
    async fn remove_versions(&self, key: &KeyRecord, expected_revision: u64) -> Result<(), StoreError>;
    /// One version of a key.
    async fn get_version(&self, key_id: Uuid, version: u32) -> Result<Option<VersionRecord>, StoreError>;
    /// Every version of a key, oldest first.
    async fn list_versions(&self, key_id: Uuid) -> Result<Vec<VersionRecord>, StoreError>;

    /// Stores a new alias (`Conflict::Alias` if the name is taken).
    async fn insert_alias(&self, alias: &AliasRecord) -> Result<(), StoreError>;
    /// Points an existing alias at another key; false if there is no such alias.
    async fn update_alias(
        &self,
        account: AccountId,
        region: &Region,
        name: &str,
        key_id: Uuid,
    ) -> Result<bool, StoreError>;
    /// Deletes an alias; false if there was none.
    async fn delete_alias(&self, account: AccountId, region: &Region, name: &str) -> Result<bool, StoreError>;
    /// One alias.
    async fn get_alias(
        &self,
        account: AccountId,
        region: &Region,
        name: &str,
    ) -> Result<Option<AliasRecord>, StoreError>;
    /// Aliases of an account in a region (of one key if given), by name, paged, with the total.
    async fn list_aliases(
        &self,
        account: AccountId,
        region: &Region,
        key_id: Option<Uuid>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<AliasRecord>, u64), StoreError>;
    /// Keys of an account in a region, filtered and paged, with the total count before paging.
    async fn list_keys(
        &self,
        account: AccountId,
        region: &Region,
        filter: &KeyFilter,
    ) -> Result<(Vec<KeyRecord>, u64), StoreError>;
    /// Number of keys an account holds, all regions.
    async fn count_keys(&self, account: AccountId) -> Result<u64, StoreError>;
    /// Deletes a key, its versions, aliases, tags and bindings, if it is still PendingDelete with a
    /// deletion date at or before `due_by` (a cancellation that won the race keeps it);
    /// true if it was deleted.
    async fn delete_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError>;
    /// Keys in PendingDelete whose deletion date has passed.
    async fn keys_due_for_deletion(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError>;
    /// Enabled keys with automatic rotation on whose next rotation time has passed.
    async fn keys_due_for_rotation(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError>;
    /// Keys whose imported material expired at or before `now` and still hold it (up to 1000).
    async fn keys_with_expired_material(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError>;

    /// Records that a cloud resource uses a key (idempotent).
    async fn bind_resource(&self, key_id: Uuid, product: &str, resource: &str) -> Result<(), StoreError>;
    /// Removes a binding; false if there was none.
    async fn unbind_resource(&self, key_id: Uuid, product: &str, resource: &str) -> Result<bool, StoreError>;

    /// Stores a new hosted data key; durable when this returns.
    async fn insert_data_key(&self, key: &DataKeyRecord) -> Result<(), StoreError>;
    /// One hosted data key by id, whatever its account.
    async fn get_data_key(&self, id: Uuid) -> Result<Option<DataKeyRecord>, StoreError>;
    /// Replaces a data key's mutable fields if its stored revision is `expected_revision`.
    async fn update_data_key(&self, key: &DataKeyRecord, expected_revision: u64) -> Result<(), StoreError>;
    /// Hosted data keys of an account in a region, filtered and paged, with the total count.
    async fn list_data_keys(
        &self,
        account: AccountId,
        region: &Region,
        filter: &DataKeyFilter,
    ) -> Result<(Vec<DataKeyRecord>, u64), StoreError>;
    /// Number of hosted data keys an account holds, all regions.
    async fn count_data_keys(&self, account: AccountId) -> Result<u64, StoreError>;
    /// Deletes a hosted data key and its tags under the same condition as [`Store::delete_key`].
    async fn delete_data_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError>;
    /// Hosted data keys in PendingDelete whose deletion date has passed.
    async fn data_keys_due_for_deletion(&self, now: u64) -> Result<Vec<DataKeyRecord>, StoreError>;

    /// Up to `limit` values sealed under the root key, after `after` in a fixed order (key
    /// versions by key and version, then access keys by id), for re-sealing them under a new root.
    async fn sealed_values(&self, after: Option<&SealedPlace>, limit: u32) -> Result<Vec<SealedValue>, StoreError>;
    /// Replaces the sealed value at `place` if it is still `expected`; false if it changed or went.
    async fn replace_sealed(&self, place: &SealedPlace, expected: &[u8], sealed: &[u8]) -> Result<bool, StoreError>;
    /// A named value of the store itself (such as the check value of the root key every node
    /// must hold); `None` if there is none.
    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `name` unless a value is there already; answers the value there
    /// afterwards (`value`, or the one that was first).
    async fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Replaces the value under `name` if it is still `expected`; false if it changed or went.
    async fn replace_meta(&self, name: &str, expected: &[u8], value: &[u8]) -> Result<bool, StoreError>;
    /// The first account, created as `name` if there is none; exactly one is created when several
    /// processes call this at once on an empty store. True if this call created it.
    async fn first_account(&self, name: &str, now: u64) -> Result<(AccountRecord, bool), StoreError> {
        if let Some(a) = self.list_accounts().await?.into_iter().next() {
            return Ok((a, false));
        }
        Ok((self.create_account(name, now).await?, true))
    }
    /// Changes made by other processes sharing this store, if the backend tells them (PostgreSQL
    /// through LISTEN/NOTIFY); `None` for a store one process owns (SQLite). Taken once.
    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        None
    }
    /// Records a request nonce of `account` seen by any process sharing this store until
    /// `expires_at`; false if it was recorded already (a replay to another node). Stores one
    /// process owns answer true: the process's memory already refused local replays.
    async fn claim_nonce(&self, account: AccountId, nonce: &[u8], expires_at: u64) -> Result<bool, StoreError> {
        let _ = (account, nonce, expires_at);
        Ok(true)
    }
    /// Drops nonces that expired before `now`.
    async fn purge_nonces(&self, now: u64) -> Result<(), StoreError> {
        let _ = now;
        Ok(())
    }
    /// The right to run the background pass now, if no other process sharing the store holds it
    /// (`None`: another does the pass). Kept until the lease is dropped.
    async fn background_lease(&self) -> Result<Option<Lease>, StoreError> {
        Ok(Some(Box::new(())))
    }
    /// Tells the store this node is alive (`node`, until `now + ttl`); answers how many nodes
    /// are alive, this one included (1 for a store one process owns).
    async fn heartbeat(&self, node: Uuid, now: u64, ttl: u64) -> Result<u64, StoreError> {
        let _ = (node, now, ttl);
        Ok(1)
    }
    /// Succeeds if the backend answers a trivial query (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Commits what the backend still holds (a pending group commit), then closes its
    /// connections; calls after it fail.
    async fn close(&self) {}
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::Alias) => Self::AliasExists,
            StoreError::Conflict(Conflict::DataKeyName) => Self::DataKeyNameExists,
            StoreError::Interrupted(why) => Self::Busy(why),
            StoreError::Unavailable(why) => Self::StoreUnavailable(why),
            other => Self::internal(other),
        }
    }
}
