//! Accounts and access keys: creating them, and looking up the secret that verifies a request's
//! signature (cached, since every request needs it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrokms_crypto::random;
use parking_lot::RwLock;
use zeroize::Zeroizing;

use super::Kms;
use super::cache::{Epoch, Freshness};
use crate::model::{AccessKeyRecord, AccountId, AccountRecord, now};
use crate::store::StoreError;
use crate::{Error, Result};

/// A verified caller's key: who it belongs to and the secret that signs its requests.
pub struct Credential {
    /// The access key id.
    pub id: String,
    /// Owning account.
    pub account: AccountId,
    /// The secret, wiped on drop.
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("id", &self.id).field("account", &self.account).finish_non_exhaustive()
    }
}

/// A newly created access key, the only time its secret is shown.
pub struct NewAccessKey {
    /// The id.
    pub id: String,
    /// The account.
    pub account: AccountId,
    /// The secret.
    pub secret: Zeroizing<String>,
}

/// Binds a sealed secret to its access key id and its account: moved to another row or
/// account, it does not open.
pub(super) fn secret_aad(account: AccountId, id: &str) -> Vec<u8> {
    let mut aad = b"ferrokms/access-key/v1".to_vec();
    aad.extend_from_slice(&account.0.to_be_bytes());
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// The active credential (None: unknown or revoked), and when it was read.
struct CachedCredential {
    credential: Option<Arc<Credential>>,
    freshness: Freshness,
}

pub(crate) struct CredentialCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Arc<CachedCredential>>>,
    epoch: Epoch,
}

impl CredentialCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: RwLock::new(HashMap::new()), epoch: Epoch::default() }
    }

    /// Another process changed access key `id` (revoked it, say): re-read before next use.
    pub(crate) fn invalidate(&self, id: &str) {
        self.epoch.bump();
        if let Some(c) = self.entries.read().get(id) {
            c.freshness.invalidate();
        }
    }

    /// Changes may have been missed: every credential is re-read before its next use.
    pub(crate) fn invalidate_all(&self) {
        self.epoch.bump();
        for c in self.entries.read().values() {
            c.freshness.invalidate();
        }
    }

    /// Forgets every credential (the service is sealed); their secrets wipe themselves.
    pub(crate) fn clear(&self) {
        let old = std::mem::take(&mut *self.entries.write());
        drop(old);
    }
}

/// Access key ids: 1-128 characters of `[A-Za-z0-9_-]`.
fn is_access_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `len` random characters of A-Z a-z 0-9.
fn random_token(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let bytes = random::secret_bytes(len)?;
        out.extend(URL_SAFE_NO_PAD.encode(&*bytes).chars().filter(char::is_ascii_alphanumeric));
    }
    out.truncate(len);
    Ok(out)
}

impl Kms {
    /// Creates an account.
    pub async fn create_account(&self, name: &str) -> Result<AccountRecord> {
        Ok(self.store.create_account(name, now()).await?)
    }

    /// All accounts.
    pub async fn list_accounts(&self) -> Result<Vec<AccountRecord>> {
        Ok(self.store.list_accounts().await?)
    }

    /// Creates an access key for `account`; `given` supplies id and secret (tests, CI).
    pub async fn create_access_key(&self, account: AccountId, given: Option<(String, String)>) -> Result<NewAccessKey> {
        if !self.store.list_accounts().await?.iter().any(|a| a.id == account) {
            return Err(Error::invalid("account", format!("account {} does not exist", account.0)));
        }
        let (id, secret) = match given {
            Some((id, secret)) => (id, Zeroizing::new(secret)),
            None => (format!("AKID{}", random_token(32)?), Zeroizing::new(random_token(32)?)),
        };
        if !is_access_key_id(&id) {
            return Err(Error::invalid("access key id", "1-128 characters of A-Z a-z 0-9 _ -"));
        }
        if secret.len() < 16 {
            return Err(Error::invalid("access key secret", "at least 16 characters"));
        }
        let sealed_secret = self.seal_value(secret_aad(account, &id), secret.as_bytes()).await?;
        let record = AccessKeyRecord { id: id.clone(), account, sealed_secret, active: true, created_at: now() };
        match self.store.insert_access_key(&record).await {
            Ok(()) => Ok(NewAccessKey { id, account, secret }),
            Err(StoreError::Conflict(_)) => Err(Error::invalid("access key id", "already exists")),
            Err(e) => Err(e.into()),
        }
    }

    /// The first account, created as "default" if there is none (exactly one, even when several
    /// nodes start at once on an empty store); true if this call created it.
    pub async fn first_account(&self) -> Result<(AccountRecord, bool)> {
        Ok(self.store.first_account("default", now()).await?)
    }

    /// All access keys (without secrets).
    pub async fn list_access_keys(&self) -> Result<Vec<AccessKeyRecord>> {
        Ok(self.store.list_access_keys().await?)
    }

    /// Revokes (or reactivates) an access key; false if there is no such key.
    pub async fn set_access_key_active(&self, id: &str, active: bool) -> Result<bool> {
        let found = self.store.set_access_key_active(id, active).await?;
        self.credentials.entries.write().remove(id);
        Ok(found)
    }

    /// The active credential with this id, if any. Cached for the cache TTL, so a revocation
    /// made by another process takes effect within it.
    pub async fn credential(&self, id: &str) -> Result<Option<Arc<Credential>>> {
        // Not even looked up (nor cached) unless it could be an access key id.
        if !is_access_key_id(id) {
            return Ok(None);
        }
        let cached = self.credentials.entries.read().get(id).cloned();
        if let Some(c) = &cached
            && c.freshness.usable(self.credentials.ttl)
        {
            return Ok(c.credential.clone());
        }
        // Told to re-read it (see Freshness::usable); if that fails, the next caller tries again.
        let began = self.credentials.epoch.current();
        let loaded = self.load_credential(id).await.inspect_err(|_| {
            if let Some(c) = &cached {
                c.freshness.refresh_failed();
            }
        })?;
        let mut entries = self.credentials.entries.write();
        if entries.len() > 100_000 {
            // Unknown ids go first, so a flood of made-up ids cannot push out real credentials.
            entries.retain(|_, c| c.credential.is_some());
            if entries.len() > 100_000 {
                entries.clear();
            }
        }
        entries.insert(
            id.to_owned(),
            Arc::new(CachedCredential {
                credential: loaded.clone(),
                freshness: Freshness::read_at(&self.credentials.epoch, began),
            }),
        );
        Ok(loaded)
    }

    /// The active credential with this id, read from the store and unsealed.
    async fn load_credential(&self, id: &str) -> Result<Option<Arc<Credential>>> {
        let Some(r) = self.store.get_access_key(id).await?.filter(|r| r.active) else {
            return Ok(None);
        };
        let secret = self
            .open_value(secret_aad(r.account, &r.id), r.sealed_secret)
            .await?
            .map_err(|_| Error::internal(format!("access key {id} does not unseal")))?;
        let secret = Zeroizing::new(
            String::from_utf8(secret.to_vec()).map_err(|_| Error::internal("access key secret is not UTF-8"))?,
        );
        Ok(Some(Arc::new(Credential { id: r.id, account: r.account, secret })))
    }
}
