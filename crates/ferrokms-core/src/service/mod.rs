//! The KMS operations, shared by every API dialect.
//!
//! [`Kms`] holds the store, the root key and in-memory caches. Hot keys stay unsealed in memory
//! (see [`cache`]), so encrypting and generating data keys touch no database; everything that
//! changes state goes to the store before it is acknowledged.

mod access;
mod aliases;
mod asymmetric;
mod background;
mod cache;
mod crypto;
mod datakeys;
mod import;
mod keygen;
mod keys;
mod listing;
mod pq;
mod quota_counts;
mod rotation;
mod sealing;
mod signing;

use std::sync::Arc;
use std::time::Duration;

use ferrokms_crypto::key::{KeyKind, PreparedKey};
use uuid::Uuid;
use zeroize::Zeroizing;

pub use access::{Credential, NewAccessKey};
pub use aliases::check_alias_name;
pub use asymmetric::{KeyUsed, MAX_ASYMMETRIC_CIPHERTEXT, PublicKey, VersionRef};
pub use background::BackgroundReport;
pub use crypto::{Decrypted, Encrypted, ReEncrypted};
pub use datakeys::{
    CallerKey, DataKeyOutput, GenerateDataKey, HostedSpec, ImportDataKey, MAX_DATA_KEY_DESCRIPTION, PublicKeyWrap,
};
pub use import::{IMPORT_TOKEN_VALIDITY, ImportParameters, ImportWrapping, MAX_MATERIAL_EXPIRY};
pub use keys::{CreateKey, DeletionRules, ServiceStats, default_policy};
pub use sealing::{ResealReport, RootSlot, STORE_ROOT_CHECK, store_accepts};
pub use signing::{MAX_SIGNED_MESSAGE, SignInput};

use crate::error::StateNeed;
use crate::keyspec::KeySpec;
use crate::model::{AccountId, KeyRecord, KeyState, Scope};
use crate::store::{Change, Conflict, Store, StoreError};
use crate::{Error, Result};
use cache::{CachedKey, KeyCache, VersionKey};

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// Spec of symmetric keys created without an explicit one (Tencent's ENCRYPT_DECRYPT).
    pub default_spec: KeySpec,
    /// How long cached key metadata and credentials are trusted before a re-read (other
    /// processes, such as `ferrokms admin` or other nodes, may change them).
    pub cache_ttl: Duration,
    /// Most keys kept unsealed in memory.
    pub cache_capacity: usize,
    /// Smallest interval between two RotateKey calls on one key, seconds.
    pub min_manual_rotation_interval: u64,
    /// Most keys per account (all regions).
    pub max_keys_per_account: u64,
    /// Most hosted data keys per account (all regions).
    pub max_data_keys_per_account: u64,
    /// Most listings one account may run at once; more answer [`Error::Busy`], so one tenant's
    /// expensive listings cannot occupy the store's read connections for everybody.
    pub max_concurrent_listings_per_account: usize,
}

impl Default for KmsConfig {
    fn default() -> Self {
        Self {
            default_spec: KeySpec::Aes256,
            cache_ttl: Duration::from_secs(1),
            cache_capacity: 100_000,
            min_manual_rotation_interval: 86_400,
            max_keys_per_account: 100_000,
            max_data_keys_per_account: 10_000_000,
            max_concurrent_listings_per_account: 2,
        }
    }
}

/// The KMS service.
pub struct Kms {
    store: Arc<dyn Store>,
    root: RootSlot,
    config: KmsConfig,
    keys: KeyCache,
    credentials: access::CredentialCache,
    /// The hosted data key quota's counts.
    data_key_counts: Arc<quota_counts::QuotaCounts>,
    /// The key quota's counts.
    key_counts: Arc<quota_counts::QuotaCounts>,
    listings: listing::ListingGate,
    keygen: keygen::KeyGenGate,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Domain of the associated data that binds sealed key material to its key and version.
fn material_aad(account: AccountId, key_id: Uuid, version: u32) -> Vec<u8> {
    let mut aad = b"ferrokms/key-material/v1".to_vec();
    aad.extend_from_slice(&account.0.to_be_bytes());
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

impl Kms {
    /// A service over `store`, sealing with `root` (or sealed, until a keyring is installed).
    pub fn new(store: Arc<dyn Store>, root: RootSlot, config: KmsConfig) -> Self {
        let keys = KeyCache::new(config.cache_ttl, config.cache_capacity);
        let credentials = access::CredentialCache::new(config.cache_ttl);
        let data_key_counts = Arc::new(quota_counts::QuotaCounts::new(quota_counts::DATA_KEYS_FRESH_FOR));
        let listings = listing::ListingGate::new(config.max_concurrent_listings_per_account);
        let keygen = keygen::KeyGenGate::new();
        let key_counts = Arc::new(quota_counts::QuotaCounts::new(quota_counts::KEYS_FRESH_FOR));
        Self { store, root, config, keys, credentials, data_key_counts, key_counts, listings, keygen }
    }

    /// The service configuration.
    pub fn config(&self) -> &KmsConfig {
        &self.config
    }

    /// Changes other processes make to the shared store, if it tells them (see
    /// [`Store::changes`]); feed each to [`apply_change`](Self::apply_change).
    pub fn store_changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        self.store.changes()
    }

    /// Drops what `change` names from the caches: the next use re-reads it from the store.
    pub fn apply_change(&self, change: &Change) {
        match change {
            Change::Key(id) => self.keys.invalidate(*id),
            Change::AccessKey(id) => self.credentials.invalidate(id),
            Change::All => {
                self.keys.invalidate_all();
                self.credentials.invalidate_all();
            }
        }
    }

    /// Claims an Alibaba signature nonce in the store shared with other nodes (after the
    /// process's own memory found it fresh); false if another node saw it first.
    pub async fn claim_nonce(&self, account: AccountId, nonce: &[u8], expires_at: u64) -> Result<bool> {
        Ok(self.store.claim_nonce(account, nonce, expires_at).await?)
    }

    /// Tells the store this node (`node`) is alive for `ttl` seconds; answers how many are.
    pub async fn heartbeat(&self, node: Uuid, ttl: u64) -> Result<u64> {
        Ok(self.store.heartbeat(node, crate::model::now(), ttl).await?)
    }

    /// The key `id` if it belongs to the caller's account and region (else KeyNotFound).
    async fn key(&self, scope: &Scope, id: Uuid) -> Result<Arc<CachedKey>> {
        let cached = match self.keys.get_fresh(id) {
            Some(c) => c,
            None => match (self.keys.epoch(), self.store.get_key(id).await) {
                (began, Ok(Some(record))) => self.keys.insert_read(record, began),
                (_, Ok(None)) => {
                    self.keys.remove(id);
                    return Err(Error::KeyNotFound);
                }
                (_, Err(e)) => {
                    self.keys.refresh_failed(id);
                    return Err(e.into());
                }
            },
        };
        let r = &cached.record;
        if r.account != scope.account || r.region != scope.region {
            return Err(Error::KeyNotFound);
        }
        Ok(cached)
    }

    /// The key, read from the store (not the cache), for read-modify-write operations.
    async fn key_for_update(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        let record = self.store.get_key(id).await?.ok_or(Error::KeyNotFound)?;
        if record.account != scope.account || record.region != scope.region {
            return Err(Error::KeyNotFound);
        }
        Ok(record)
    }

    /// Applies `change` to key `id` and stores it, retrying if a concurrent update won the race.
    async fn modify_key(
        &self,
        scope: &Scope,
        id: Uuid,
        change: impl Fn(&mut KeyRecord) -> Result<()>,
    ) -> Result<KeyRecord> {
        for _ in 0..8 {
            let mut record = self.key_for_update(scope, id).await?;
            let expected = record.revision;
            change(&mut record)?;
            record.revision = expected + 1;
            match self.store.update_key(&record, expected).await {
                Ok(()) => {
                    self.keys.insert(record.clone());
                    return Ok(record);
                }
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal("key kept changing under concurrent updates"))
    }

    /// Fresh material of `kind` for `account`, fairly shared (see [`keygen`]).
    async fn generate_material(&self, account: AccountId, kind: KeyKind) -> Result<Zeroizing<Vec<u8>>> {
        self.keygen.generate(account, kind).await
    }

    /// The prepared material of a key version, unsealed once and then kept in memory.
    async fn material(&self, key: &CachedKey, version: u32) -> Result<Arc<VersionKey>> {
        if let Some(m) = key.version(version) {
            return Ok(m);
        }
        let record = &key.record;
        let stored = self
            .store
            .get_version(record.id, version)
            .await?
            .ok_or_else(|| Error::internal(format!("key {} has no version {version}", record.id)))?;
        let clear = self
            .open_value(material_aad(record.account, record.id, version), stored.sealed_material)
            .await?
            .map_err(|_| Error::internal(format!("key {} version {version} does not unseal", record.id)))?;
        let prepared = Arc::new(VersionKey { key: prepare(record.spec.kind(), clear).await?, id: stored.version_id });
        key.put_version(version, prepared.clone());
        Ok(prepared)
    }
}

/// Material prepared for use. Parsing an asymmetric private key (RSA's checks above all) is
/// slow enough to keep off the request workers too.
async fn prepare(kind: KeyKind, clear: Zeroizing<Vec<u8>>) -> Result<PreparedKey> {
    if !kind.is_asymmetric() {
        return Ok(PreparedKey::new(kind, &clear)?);
    }
    tokio::task::spawn_blocking(move || PreparedKey::new(kind, &clear))
        .await
        .map_err(|_| Error::internal("key preparation was cancelled"))?
        .map_err(Error::from)
}

/// Checks that a key can be used for encryption.
fn require_usable(record: &KeyRecord) -> Result<()> {
    match record.state {
        KeyState::Enabled => Ok(()),
        state => Err(Error::KeyState { state, need: StateNeed::Usable }),
    }
}

/// Checks that a key can be used for decryption (archived keys still decrypt).
fn require_decryptable(record: &KeyRecord) -> Result<()> {
    match record.state {
        KeyState::Enabled | KeyState::Archived => Ok(()),
        state => Err(Error::KeyState { state, need: StateNeed::Decryptable }),
    }
}
