//! Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial and
//! the expiry of imported material.
//!
//! The import token is self-contained: the wrapping key pair's private half, the wrapping
//! algorithm and the expiry, sealed by the root key and bound to the account and key. Any node
//! can redeem it and nothing is stored; a token is valid until it expires (24 hours).
//!
//! Re-importing must bring the same material (both clouds' rule). The key keeps a fingerprint
//! of its material, SHA-256 over a domain, the key id and the material, so the comparison still
//! works after the material itself has been deleted.

use ferrokms_crypto::digest::{constant_time_eq, fingerprint};
use ferrokms_crypto::key::{KeyKind, PreparedKey};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Kms, material_aad};
use crate::error::StateNeed;
use crate::keyspec::{EncryptionAlgorithm, KeySpec};
use crate::model::{KeyRecord, KeyState, Origin, Scope, VersionRecord, now};
use crate::store::{Conflict, StoreError};
use crate::{Error, Result};

/// How long an import token and its wrapping key are valid.
pub const IMPORT_TOKEN_VALIDITY: u64 = 24 * 3600;

/// Latest expiry imported material may have (Tencent's limit, 2038-01-19 minus a margin).
pub const MAX_MATERIAL_EXPIRY: u64 = 2_147_443_200;

/// The wrapping key and algorithm the caller wraps material with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportWrapping {
    /// `Rsa2048` or `EcSm2`.
    pub spec: KeySpec,
    /// An encryption algorithm of that spec.
    pub algorithm: EncryptionAlgorithm,
}

/// What GetParametersForImport returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    /// The key.
    pub key_id: Uuid,
    /// The import token (binary; the fronts base64 it).
    pub token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    pub public_key: Vec<u8>,
    /// Unix seconds after which token and wrapping key are refused.
    pub expires_at: u64,
}

const TOKEN_DOMAIN: &[u8] = b"ferrokms/import-token/v1";
const FINGERPRINT_DOMAIN: &[u8] = b"ferrokms/imported-material/v1";

fn token_aad(key: &KeyRecord) -> Vec<u8> {
    let mut aad = TOKEN_DOMAIN.to_vec();
    aad.extend_from_slice(&key.account.0.to_be_bytes());
    aad.extend_from_slice(key.id.as_bytes());
    aad
}

fn algorithm_code(a: EncryptionAlgorithm) -> u8 {
    match a {
        EncryptionAlgorithm::RsaPkcs1V15 => 1,
        EncryptionAlgorithm::RsaOaepSha1 => 2,
        EncryptionAlgorithm::RsaOaepSha256 => 3,
        EncryptionAlgorithm::Sm2Raw => 4,
        EncryptionAlgorithm::Sm2Der => 5,
    }
}

fn algorithm_of(code: u8) -> Option<EncryptionAlgorithm> {
    use EncryptionAlgorithm as E;
    [E::RsaPkcs1V15, E::RsaOaepSha1, E::RsaOaepSha256, E::Sm2Raw, E::Sm2Der]
        .into_iter()
        .find(|a| algorithm_code(*a) == code)
}

impl Kms {
    async fn external_key(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        let key = self.key_for_update(scope, id).await?;
        if key.origin != Origin::External {
            return Err(Error::NotExternalKey);
        }
        Ok(key)
    }

    /// A wrapping key pair and import token for key `id`.
    pub async fn get_parameters_for_import(
        &self,
        scope: &Scope,
        id: Uuid,
        wrapping: ImportWrapping,
    ) -> Result<ImportParameters> {
        if !matches!(wrapping.spec, KeySpec::Rsa2048 | KeySpec::EcSm2)
            || !wrapping.spec.info().encryption.contains(&wrapping.algorithm)
        {
            return Err(Error::invalid("WrappingAlgorithm", "not an algorithm of the wrapping key spec"));
        }
        // Allowed in every state (Alibaba's state table); importing is what checks the state.
        let key = self.external_key(scope, id).await?;
        let kind: KeyKind = wrapping.spec.kind();
        let private = self.generate_material(scope.account, kind).await?;
        let public_key = super::prepare(kind, Zeroizing::new(private.to_vec())).await?.public_key_der()?;
        let expires_at = now() + IMPORT_TOKEN_VALIDITY;
        let mut payload = Zeroizing::new(Vec::with_capacity(10 + private.len()));
        payload.push(wrapping.spec.code());
        payload.push(algorithm_code(wrapping.algorithm));
        payload.extend_from_slice(&expires_at.to_be_bytes());
        payload.extend_from_slice(&private);
        let token = self.seal_value(token_aad(&key), &payload).await?;
        Ok(ImportParameters { key_id: id, token, public_key, expires_at })
    }

    /// Imports wrapped material into EXTERNAL key `id` (the same material as before, if any);
    /// `expires_at` 0 means never. Durable when it returns.
    pub async fn import_key_material(
        &self,
        scope: &Scope,
        id: Uuid,
        token: &[u8],
        wrapped: &[u8],
        expires_at: u64,
    ) -> Result<KeyRecord> {
        let at = now();
        if expires_at != 0 && (expires_at <= at || expires_at > MAX_MATERIAL_EXPIRY) {
            return Err(Error::invalid(
                "ValidTo",
                format!("must be 0 or a time after now and before {MAX_MATERIAL_EXPIRY}"),
            ));
        }
        let key = self.external_key(scope, id).await?;
        let payload = self.open_value(token_aad(&key), token.to_vec()).await?.map_err(|_| Error::InvalidImportToken)?;
        if payload.len() < 10 {
            return Err(Error::InvalidImportToken);
        }
        let spec = KeySpec::from_code(payload[0]).ok_or(Error::InvalidImportToken)?;
        let algorithm = algorithm_of(payload[1]).ok_or(Error::InvalidImportToken)?;
        let token_expiry = u64::from_be_bytes(payload[2..10].try_into().map_err(|_| Error::InvalidImportToken)?);
        if at > token_expiry {
            return Err(Error::ImportTokenExpired);
        }
        if !matches!(key.state, KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport) {
            return Err(Error::KeyState { state: key.state, need: StateNeed::NotPendingDelete });
        }
        let wrapping = super::prepare(spec.kind(), Zeroizing::new(payload[10..].to_vec())).await?;
        let expected_len = key.spec.symmetric().map(|a| a.key_len()).ok_or(Error::NotExternalKey)?;
        // One answer for "does not unwrap" and "unwraps to the wrong length": telling them apart
        // would make RSAES-PKCS1-v1_5 unwrapping a padding oracle (Bleichenbacher).
        let material = unwrap(&wrapping, algorithm, wrapped).ok().filter(|m| m.len() == expected_len).ok_or_else(|| {
            Error::InvalidImportKeyMaterial(format!(
                "the material does not unwrap, with this import token's key, to the {expected_len} bytes {} keys take",
                key.spec.alibaba_name()
            ))
        })?;
        let print = fingerprint(FINGERPRINT_DOMAIN, &[key.id.as_bytes(), &material]);
        if !key.material_fingerprint.is_empty() && !constant_time_eq(&key.material_fingerprint, &print) {
            return Err(Error::MaterialMismatch);
        }
        self.store_material(key, &material, print, expires_at, at).await
    }

    /// Writes imported material as version 1 (or, if the key already holds it, only the new
    /// expiry), retrying if the key changed meanwhile.
    async fn store_material(
        &self,
        mut key: KeyRecord,
        material: &[u8],
        print: [u8; 32],
        expires_at: u64,
        at: u64,
    ) -> Result<KeyRecord> {
        for _ in 0..8 {
            let expected = key.revision;
            let holds_material = key.current_version > 0 && key.state != KeyState::PendingImport;
            key.material_expires_at = expires_at;
            key.material_fingerprint = print.to_vec();
            key.revision = expected + 1;
            let written = if holds_material {
                self.store.update_key(&key, expected).await
            } else {
                key.state = KeyState::Enabled;
                key.current_version = 1;
                let sealed_material = self.seal_value(material_aad(key.account, key.id, 1), material).await?;
                let v = VersionRecord {
                    key_id: key.id,
                    version: 1,
                    version_id: Uuid::new_v4(),
                    sealed_material,
                    created_at: at,
                };
                self.store.add_version(&key, expected, &v).await
            };
            match written {
                Ok(()) => {
                    self.keys.insert(key.clone());
                    return Ok(key);
                }
                Err(StoreError::Conflict(Conflict::Stale | Conflict::Duplicate)) => {
                    key = self.store.get_key(key.id).await?.ok_or(Error::KeyNotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal("key kept changing during the import"))
    }

    /// Deletes the imported material of key `id`: it goes to PendingImport until the same
    /// material is imported again. The unsealed material leaves this node's memory now.
    pub async fn delete_imported_key_material(&self, scope: &Scope, id: Uuid) -> Result<KeyRecord> {
        // Allowed in every state (Alibaba's state table); a key pending deletion stays so.
        let key = self.external_key(scope, id).await?;
        self.drop_material(key, None).await
    }

    /// Deletes a key's material; with `expired_at`, only while the material is still expired by
    /// then (a concurrent re-import with a new expiry wins).
    pub(super) async fn drop_material(&self, mut key: KeyRecord, expired_at: Option<u64>) -> Result<KeyRecord> {
        for _ in 0..8 {
            if let Some(at) = expired_at
                && (key.material_expires_at == 0
                    || key.material_expires_at > at
                    || key.state == KeyState::PendingImport)
            {
                return Ok(key);
            }
            let expected = key.revision;
            if key.state != KeyState::PendingDelete {
                key.state = KeyState::PendingImport;
            }
            // No version is left: the next import makes version 1 again (blobs name versions by
            // number, so the same material opens them).
            key.current_version = 0;
            key.material_expires_at = 0;
            key.revision = expected + 1;
            match self.store.remove_versions(&key, expected).await {
                Ok(()) => {
                    self.keys.remove(key.id);
                    return Ok(key);
                }
                Err(StoreError::Conflict(Conflict::Stale)) => {
                    key = self.store.get_key(key.id).await?.ok_or(Error::KeyNotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal("key kept changing while its material was deleted"))
    }
}

/// Unwraps material: SM2 in the DER form OpenSSL writes, or raw C1C3C2.
fn unwrap(
    wrapping: &PreparedKey,
    algorithm: EncryptionAlgorithm,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ferrokms_crypto::CryptoError> {
    if wrapped.is_empty() || wrapped.len() > super::MAX_ASYMMETRIC_CIPHERTEXT {
        return Err(ferrokms_crypto::CryptoError::Malformed("wrapped material length"));
    }
    match algorithm {
        EncryptionAlgorithm::Sm2Der | EncryptionAlgorithm::Sm2Raw => wrapping
            .decrypt(EncryptionAlgorithm::Sm2Der.wrap(), wrapped)
            .or_else(|_| wrapping.decrypt(EncryptionAlgorithm::Sm2Raw.wrap(), wrapped)),
        a => wrapping.decrypt(a.wrap(), wrapped),
    }
}
