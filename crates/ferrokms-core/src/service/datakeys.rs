//! Data keys: GenerateDataKey (optionally wrapped to a caller's public key, optionally hosted)
//! and the lifecycle of hosted data keys.

use std::sync::Arc;

use ferrokms_crypto::CryptoError;
use ferrokms_crypto::blob::PayloadKind;
use ferrokms_crypto::random;
use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};

use crate::keyspec::EncryptionAlgorithm;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::Kms;
use crate::context::EncryptionContext;
use crate::error::StateNeed;
use crate::model::{DataKeyRecord, KeyState, Origin, Scope, Tag, now};
use crate::store::{Conflict, DataKeyFilter, StoreError};
use crate::{Error, Result, validate};

/// Most bytes of a hosted data key's description.
pub const MAX_DATA_KEY_DESCRIPTION: usize = 100;

/// A caller's public key and the algorithm to encrypt the data key to it.
#[derive(Debug)]
pub struct PublicKeyWrap {
    key: WrappingKey,
    algorithm: WrapAlgorithm,
}

/// What kind of public key a caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKey {
    /// RSA, with this many modulus bits (2048-4096).
    Rsa(usize),
    /// SM2.
    Sm2,
}

impl PublicKeyWrap {
    /// A caller's RSA (2048-4096 bits) or SM2 public key, as PEM or bare base64 of the DER
    /// SubjectPublicKeyInfo (`der` when already decoded), to encrypt to with `algorithm`; `None`
    /// if it is not such a key or the algorithm does not fit it.
    pub fn parse(pem_or_base64: Option<&str>, der: Option<&[u8]>, algorithm: EncryptionAlgorithm) -> Option<Self> {
        let key = match (pem_or_base64, der) {
            (_, Some(der)) => WrappingKey::from_spki_der(der).ok()?,
            (Some(text), None) => WrappingKey::from_pem(text).ok()?,
            (None, None) => return None,
        };
        let algorithm = algorithm.wrap();
        key.capacity(algorithm).ok()?;
        Some(Self { key, algorithm })
    }

    /// What kind of key it is.
    pub fn kind(&self) -> CallerKey {
        match self.key.rsa_bits() {
            Some(bits) => CallerKey::Rsa(bits),
            None => CallerKey::Sm2,
        }
    }

    /// Checks up front that a data key of `len` bytes can be encrypted to this key.
    pub fn check_capacity(&self, field: &str, len: usize) -> Result<()> {
        match self.key.capacity(self.algorithm) {
            Ok(max) if len <= max => Ok(()),
            Ok(max) => Err(Error::invalid(field, format!("the public key can hold at most {max} bytes"))),
            Err(_) => Err(Error::invalid(field, "the public key does not match the encryption algorithm")),
        }
    }

    /// Encrypts `plaintext` (a data key) to the public key.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.key.encrypt(self.algorithm, plaintext).map_err(|e| match e {
            CryptoError::MessageTooLong { .. } | CryptoError::KeyAlgorithmMismatch => {
                Error::invalid("EncryptionPublicKey", e.to_string())
            }
            other => Error::EncryptFailed(other.to_string()),
        })
    }
}

/// What makes a data key hosted.
#[derive(Debug, Clone)]
pub struct HostedSpec {
    /// Unique name.
    pub name: String,
    /// Free text, at most 100 bytes.
    pub description: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A GenerateDataKey request, validated by the front.
#[derive(Debug)]
pub struct GenerateDataKey {
    /// The CMK.
    pub key_id: Uuid,
    /// Length in bytes, 1-1024.
    pub len: usize,
    /// Bound to the ciphertext blob.
    pub context: EncryptionContext,
    /// Encrypt the returned plaintext to this public key.
    pub wrap: Option<PublicKeyWrap>,
    /// Host the data key.
    pub hosted: Option<HostedSpec>,
}

/// The result of GenerateDataKey.
pub struct DataKeyOutput {
    /// The CMK.
    pub key_id: Uuid,
    /// Key version that sealed the blob.
    pub key_version: u32,
    /// Its id (Alibaba's KeyVersionId).
    pub key_version_id: Uuid,
    /// The data key, or its encryption to the caller's public key.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The data key sealed under the CMK.
    pub blob: Vec<u8>,
    /// The hosted data key's id.
    pub data_key_id: Option<Uuid>,
}

/// An ImportDataKey request.
pub enum ImportDataKey {
    /// A blob GenerateDataKey made (with no encryption context); `key_id` must match if given.
    Ciphertext {
        /// The blob.
        blob: Vec<u8>,
        /// Expected CMK.
        key_id: Option<Uuid>,
    },
    /// Plaintext key bytes, sealed under `key_id`.
    Plaintext {
        /// The data key.
        material: Zeroizing<Vec<u8>>,
        /// The CMK.
        key_id: Uuid,
    },
}

impl std::fmt::Debug for ImportDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ciphertext { key_id, .. } => {
                f.debug_struct("Ciphertext").field("key_id", key_id).finish_non_exhaustive()
            }
            Self::Plaintext { key_id, .. } => {
                f.debug_struct("Plaintext").field("key_id", key_id).finish_non_exhaustive()
            }
        }
    }
}

impl Kms {
    /// Generates a data key; if hosted, it is durable before this returns.
    pub async fn generate_data_key(&self, scope: &Scope, req: GenerateDataKey) -> Result<DataKeyOutput> {
        validate::data_key_len("NumberOfBytes", req.len)?;
        if let Some(h) = &req.hosted {
            check_hosted_spec(h)?;
        }
        if let Some(w) = &req.wrap {
            w.check_capacity("EncryptionPublicKey", req.len)?;
        }
        let data_key = random::secret_bytes(req.len)?;
        let (_, sealed) = self.seal(scope, req.key_id, &data_key, PayloadKind::Bytes, &req.context).await?;
        let (key_version, key_version_id) = (sealed.version, sealed.version_id);
        let plaintext = match &req.wrap {
            Some(w) => Zeroizing::new(w.encrypt(&data_key)?),
            None => data_key,
        };
        let data_key_id = match req.hosted {
            Some(h) => {
                Some(self.host(scope, req.key_id, &sealed.blob, &req.context, req.len, Origin::Generated, h).await?)
            }
            None => None,
        };
        Ok(DataKeyOutput { key_id: req.key_id, key_version, key_version_id, plaintext, blob: sealed.blob, data_key_id })
    }

    #[allow(clippy::too_many_arguments)]
    async fn host(
        &self,
        scope: &Scope,
        key_id: Uuid,
        blob: &[u8],
        context: &EncryptionContext,
        len: usize,
        origin: Origin,
        spec: HostedSpec,
    ) -> Result<Uuid> {
        let limit = self.config.max_data_keys_per_account;
        // Under concurrent inserts the quota can be passed by the requests in flight.
        let (store, account) = (Arc::clone(&self.store), scope.account);
        let count = self
            .data_key_counts
            .get_or_count(account, move || async move { store.count_data_keys(account).await })
            .await?;
        if count >= limit {
            return Err(Error::DataKeyLimitExceeded(limit));
        }
        let record = DataKeyRecord {
            // Time-ordered: each insert lands at the right edge of the id index, so a batch
            // dirties a few pages instead of one per row. Without a context (no counter within a
            // millisecond) all 74 bits after the time stay random.
            id: Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)),
            account: scope.account,
            region: scope.region.clone(),
            key_id,
            name: spec.name,
            description: spec.description,
            number_of_bytes: u32::try_from(len).map_err(Error::internal)?,
            origin,
            state: KeyState::Enabled,
            created_at: now(),
            deletion_date: 0,
            ciphertext: blob.to_vec(),
            context: context.canonical(),
            revision: 1,
            tags: spec.tags,
        };
        match self.store.insert_data_key(&record).await {
            Ok(()) => {
                self.data_key_counts.created(scope.account);
                Ok(record.id)
            }
            Err(StoreError::Conflict(Conflict::DataKeyName)) => Err(Error::DataKeyNameExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Hosts a data key the caller already has.
    pub async fn import_data_key(&self, scope: &Scope, req: ImportDataKey, spec: HostedSpec) -> Result<(Uuid, Uuid)> {
        check_hosted_spec(&spec)?;
        let none = EncryptionContext::default();
        let (key_id, blob, len, origin) = match req {
            ImportDataKey::Ciphertext { blob, key_id } => {
                let opened = match self.decrypt(scope, &blob, &none).await {
                    Ok(o) => o,
                    Err(Error::InvalidCiphertext | Error::DecryptFailed) => {
                        return Err(Error::InvalidImportKeyMaterial(
                            "not a data key ciphertext of this account made without EncryptionContext".into(),
                        ));
                    }
                    Err(e) => return Err(e),
                };
                if key_id.is_some_and(|k| k != opened.key.id) {
                    return Err(Error::InvalidImportKeyMaterial("the ciphertext was made under another KeyId".into()));
                }
                if validate::data_key_len("ImportType", opened.plaintext.len()).is_err() {
                    return Err(Error::InvalidImportKeyMaterial("data keys have 1-1024 bytes".into()));
                }
                (opened.key.id, blob, opened.plaintext.len(), Origin::Generated)
            }
            ImportDataKey::Plaintext { material, key_id } => {
                if validate::data_key_len("DataKey", material.len()).is_err() {
                    return Err(Error::InvalidImportKeyMaterial("data keys have 1-1024 bytes".into()));
                }
                let sealed = self.encrypt(scope, key_id, &material, PayloadKind::Bytes, &none).await?;
                (key_id, sealed.blob, material.len(), Origin::External)
            }
        };
        let id = self.host(scope, key_id, &blob, &none, len, origin, spec).await?;
        Ok((id, key_id))
    }

    async fn data_key_in_scope(&self, scope: &Scope, id: Uuid) -> Result<DataKeyRecord> {
        let r = self.store.get_data_key(id).await?.ok_or(Error::DataKeyNotFound)?;
        if r.account != scope.account || r.region != scope.region {
            return Err(Error::DataKeyNotFound);
        }
        Ok(r)
    }

    /// One hosted data key.
    pub async fn describe_data_key(&self, scope: &Scope, id: Uuid) -> Result<DataKeyRecord> {
        self.data_key_in_scope(scope, id).await
    }

    /// The caller's data keys among `ids` (unknown ones are left out).
    pub async fn describe_data_keys(&self, scope: &Scope, ids: &[Uuid]) -> Result<Vec<DataKeyRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.data_key_in_scope(scope, *id).await {
                Ok(r) => out.push(r),
                Err(Error::DataKeyNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The caller's hosted data keys, filtered and paged, with the total before paging.
    pub async fn list_data_keys(&self, scope: &Scope, filter: &DataKeyFilter) -> Result<(Vec<DataKeyRecord>, u64)> {
        validate::tag_filters(&filter.tags)?;
        validate::text("SearchDataKeyName", filter.search.as_deref().unwrap_or_default())?;
        let _turn = self.listings.enter(scope.account)?;
        Ok(self.store.list_data_keys(scope.account, &scope.region, filter).await?)
    }

    /// The plaintext of a hosted data key (Enabled only), optionally encrypted to a public key.
    pub async fn data_key_plaintext(
        &self,
        scope: &Scope,
        id: Uuid,
        wrap: Option<&PublicKeyWrap>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let r = self.data_key_in_scope(scope, id).await?;
        if r.state != KeyState::Enabled {
            return Err(Error::DataKeyState { state: r.state, need: StateNeed::Usable });
        }
        if let Some(w) = wrap {
            w.check_capacity("EncryptionPublicKey", r.number_of_bytes as usize)?;
        }
        let opened = match self.decrypt(scope, &r.ciphertext, &EncryptionContext::from_canonical(&r.context)).await {
            Ok(o) => o,
            Err(Error::DecryptFailed) => return Err(Error::KeyNotFound),
            Err(e) => return Err(e),
        };
        match wrap {
            Some(w) => Ok(Zeroizing::new(w.encrypt(&opened.plaintext)?)),
            None => Ok(opened.plaintext),
        }
    }

    /// The ciphertext blob of a hosted data key and the encryption context it is bound to.
    pub async fn data_key_ciphertext(&self, scope: &Scope, id: Uuid) -> Result<DataKeyRecord> {
        let r = self.data_key_in_scope(scope, id).await?;
        if r.state != KeyState::Enabled {
            return Err(Error::DataKeyState { state: r.state, need: StateNeed::Usable });
        }
        Ok(r)
    }

    async fn modify_data_key(
        &self,
        scope: &Scope,
        id: Uuid,
        change: impl Fn(&mut DataKeyRecord) -> Result<()>,
    ) -> Result<DataKeyRecord> {
        for _ in 0..8 {
            let mut r = self.data_key_in_scope(scope, id).await?;
            let expected = r.revision;
            change(&mut r)?;
            r.revision = expected + 1;
            match self.store.update_data_key(&r, expected).await {
                Ok(()) => return Ok(r),
                Err(StoreError::Conflict(Conflict::Stale)) => continue,
                Err(StoreError::Conflict(Conflict::DataKeyName)) => return Err(Error::DataKeyNameExists),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal("data key kept changing under concurrent updates"))
    }

    /// Enables or disables hosted data keys; all are checked first, so one bad id changes nothing.
    pub async fn set_data_keys_enabled(&self, scope: &Scope, ids: &[Uuid], enabled: bool) -> Result<()> {
        for id in ids {
            let r = self.data_key_in_scope(scope, *id).await?;
            if r.state == KeyState::PendingDelete {
                return Err(Error::DataKeyState { state: r.state, need: StateNeed::NotPendingDelete });
            }
        }
        for id in ids {
            self.modify_data_key(scope, *id, |r| {
                if r.state == KeyState::PendingDelete {
                    return Err(Error::DataKeyState { state: r.state, need: StateNeed::NotPendingDelete });
                }
                r.state = if enabled { KeyState::Enabled } else { KeyState::Disabled };
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Schedules deletion of a hosted data key in `days`.
    pub async fn schedule_data_key_deletion(&self, scope: &Scope, id: Uuid, days: u64) -> Result<DataKeyRecord> {
        let due = now() + days * 86_400;
        self.modify_data_key(scope, id, |r| match r.state {
            KeyState::Enabled | KeyState::Disabled => {
                r.state = KeyState::PendingDelete;
                r.deletion_date = due;
                Ok(())
            }
            state => Err(Error::DataKeyState { state, need: StateNeed::NotPendingDelete }),
        })
        .await
    }

    /// Cancels a scheduled deletion; the data key returns to Disabled.
    pub async fn cancel_data_key_deletion(&self, scope: &Scope, id: Uuid) -> Result<DataKeyRecord> {
        self.modify_data_key(scope, id, |r| match r.state {
            KeyState::PendingDelete => {
                r.state = KeyState::Disabled;
                r.deletion_date = 0;
                Ok(())
            }
            state => Err(Error::DataKeyState { state, need: StateNeed::PendingDelete }),
        })
        .await
    }

    /// Renames a hosted data key.
    pub async fn update_data_key_name(&self, scope: &Scope, id: Uuid, name: &str) -> Result<DataKeyRecord> {
        validate::data_key_name(name)?;
        self.modify_data_key(scope, id, |r| {
            if r.state == KeyState::PendingDelete {
                return Err(Error::DataKeyState { state: r.state, need: StateNeed::NotPendingDelete });
            }
            r.name = name.to_owned();
            Ok(())
        })
        .await
    }

    /// Changes a hosted data key's description.
    pub async fn update_data_key_description(&self, scope: &Scope, id: Uuid, text: &str) -> Result<DataKeyRecord> {
        validate::description("Description", text, MAX_DATA_KEY_DESCRIPTION)?;
        self.modify_data_key(scope, id, |r| {
            if r.state == KeyState::PendingDelete {
                return Err(Error::DataKeyState { state: r.state, need: StateNeed::NotPendingDelete });
            }
            r.description = text.to_owned();
            Ok(())
        })
        .await
    }
}

fn check_hosted_spec(h: &HostedSpec) -> Result<()> {
    validate::data_key_name(&h.name)?;
    validate::description("Description", &h.description, MAX_DATA_KEY_DESCRIPTION)?;
    validate::tags(&h.tags)
}
