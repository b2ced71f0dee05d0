//! Symmetric cryptography with a CMK: Encrypt, Decrypt, ReEncrypt, GenerateRandom.

use ferrokms_crypto::aead::SymmetricAlgorithm;
use ferrokms_crypto::blob::{Blob, BlobFormat, BlobHeader, PayloadKind};
use ferrokms_crypto::random;
use uuid::Uuid;
use zeroize::Zeroizing;

use std::sync::Arc;

use super::cache::CachedKey;
use super::{Kms, require_decryptable, require_usable};
use crate::context::EncryptionContext;
use crate::model::{KeyRecord, KeyUsage, Scope};
use crate::{Error, Result};

/// The result of Encrypt.
#[derive(Debug, Clone)]
pub struct Encrypted {
    /// The ciphertext blob.
    pub blob: Vec<u8>,
    /// The key that sealed it.
    pub key: KeyRecord,
    /// The id of the key version that sealed it.
    pub version_id: Uuid,
}

/// A blob just sealed, and the key version that sealed it.
pub(super) struct Sealed {
    pub(super) blob: Vec<u8>,
    pub(super) version: u32,
    pub(super) version_id: Uuid,
}

/// The result of Decrypt.
pub struct Decrypted {
    /// The key that had sealed it.
    pub key: KeyRecord,
    /// The key version that had sealed it.
    pub version: u32,
    /// Its id.
    pub version_id: Uuid,
    /// What was sealed.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Whether it was sealed as bytes or text.
    pub payload: PayloadKind,
}

/// The result of ReEncrypt.
#[derive(Debug, Clone)]
pub struct ReEncrypted {
    /// The new blob (the input blob if nothing changed).
    pub blob: Vec<u8>,
    /// Key of the new blob.
    pub key: KeyRecord,
    /// The key version that sealed the new blob.
    pub version_id: Uuid,
    /// Key of the input blob.
    pub source_key_id: Uuid,
    /// Whether the blob was re-sealed.
    pub re_encrypted: bool,
}

impl Kms {
    /// Seals `plaintext` under the current version of key `id`.
    pub async fn encrypt(
        &self,
        scope: &Scope,
        id: Uuid,
        plaintext: &[u8],
        payload: PayloadKind,
        context: &EncryptionContext,
    ) -> Result<Encrypted> {
        let (key, sealed) = self.seal(scope, id, plaintext, payload, context).await?;
        Ok(Encrypted { blob: sealed.blob, key: key.record.clone(), version_id: sealed.version_id })
    }

    /// Seals `plaintext` under the current version of key `id`, leaving the key's record in
    /// the cache (a caller that needs no copy of it pays for none).
    pub(super) async fn seal(
        &self,
        scope: &Scope,
        id: Uuid,
        plaintext: &[u8],
        payload: PayloadKind,
        context: &EncryptionContext,
    ) -> Result<(Arc<CachedKey>, Sealed)> {
        let key = self.key(scope, id).await?;
        require_usable(&key.record)?;
        let algorithm = require_symmetric(&key.record)?;
        let version = key.record.current_version;
        let material = self.material(&key, version).await?;
        let symmetric = material.key.symmetric().ok_or_else(|| Error::internal("symmetric key without an AEAD"))?;
        let header = BlobHeader { algorithm, payload, key_id: id, key_version: version };
        let blob = header.seal(symmetric, scope.account.0, &context.canonical(), plaintext)?;
        let sealed = Sealed { blob, version, version_id: material.id };
        Ok((key, sealed))
    }

    /// Opens a blob (format 1 or 3); the key and version come from the blob itself.
    pub async fn decrypt(&self, scope: &Scope, blob: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        Ok(self.open_blob(scope, blob, context).await?.0)
    }

    /// Opens a blob, and says which format it was.
    async fn open_blob(
        &self,
        scope: &Scope,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Decrypted, BlobFormat)> {
        let parsed = Blob::parse(blob).map_err(|_| Error::InvalidCiphertext)?;
        let h = parsed.header;
        let key = match self.key(scope, h.key_id).await {
            Ok(k) => k,
            // A blob naming a key this caller cannot see says nothing about which keys exist.
            Err(Error::KeyNotFound) => return Err(Error::DecryptFailed),
            Err(e) => return Err(e),
        };
        require_decryptable(&key.record)?;
        if h.key_version == 0
            || h.key_version > key.record.current_version
            || Some(h.algorithm) != key.record.spec.symmetric()
            || key.record.usage != KeyUsage::EncryptDecrypt
        {
            return Err(Error::DecryptFailed);
        }
        let material = self.material(&key, h.key_version).await?;
        let symmetric = material.key.symmetric().ok_or(Error::DecryptFailed)?;
        let plaintext =
            parsed.open(symmetric, scope.account.0, &context.canonical()).map_err(|_| Error::DecryptFailed)?;
        let (version, version_id, payload) = (h.key_version, material.id, h.payload);
        Ok((Decrypted { key: key.record.clone(), version, version_id, plaintext, payload }, parsed.format))
    }

    /// Re-seals a blob under `destination` (default: the blob's own key). With the same key, no
    /// rotation since, the same context and the current blob format, the input blob is returned
    /// unchanged; a format-1 blob is always re-sealed, so ReEncrypt upgrades it to format 3.
    pub async fn re_encrypt(
        &self,
        scope: &Scope,
        blob: &[u8],
        source_context: &EncryptionContext,
        destination: Option<Uuid>,
        destination_context: &EncryptionContext,
    ) -> Result<ReEncrypted> {
        let (opened, format) = self.open_blob(scope, blob, source_context).await?;
        let source_key_id = opened.key.id;
        let target = destination.unwrap_or(source_key_id);
        if target == source_key_id
            && opened.version == opened.key.current_version
            && format == BlobFormat::CURRENT
            && source_context.canonical() == destination_context.canonical()
        {
            let key = self.key(scope, target).await?;
            require_usable(&key.record)?;
            let (blob, version_id) = (blob.to_vec(), opened.version_id);
            return Ok(ReEncrypted { blob, key: key.record.clone(), version_id, source_key_id, re_encrypted: false });
        }
        let sealed = self.encrypt(scope, target, &opened.plaintext, opened.payload, destination_context).await?;
        Ok(ReEncrypted {
            blob: sealed.blob,
            key: sealed.key,
            version_id: sealed.version_id,
            source_key_id,
            re_encrypted: true,
        })
    }

    /// Checks that key `id` is the caller's, usable for encryption (from the cache: no I/O
    /// when hot), so a front can report key errors before parameter errors.
    pub async fn require_usable_key(&self, scope: &Scope, id: Uuid) -> Result<()> {
        let key = self.key(scope, id).await?;
        require_usable(&key.record)?;
        require_symmetric(&key.record).map(drop)
    }

    /// The id of a version of a key the caller can see.
    pub async fn version_id(&self, scope: &Scope, id: Uuid, version: u32) -> Result<Uuid> {
        let key = self.key(scope, id).await?;
        if let Some(v) = key.version(version) {
            return Ok(v.id);
        }
        let v = self.store.get_version(id, version).await?.ok_or(Error::KeyVersionNotFound)?;
        Ok(v.version_id)
    }

    /// Random bytes from the CSPRNG.
    pub fn generate_random(&self, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        Ok(random::secret_bytes(len)?)
    }
}

/// The AEAD of a symmetric encryption key; any other key cannot Encrypt or make data keys.
fn require_symmetric(record: &KeyRecord) -> Result<SymmetricAlgorithm> {
    match (record.usage, record.spec.symmetric()) {
        (KeyUsage::EncryptDecrypt, Some(algorithm)) => Ok(algorithm),
        _ => Err(Error::InvalidKeyUsage(record.spec.tencent_usage(record.usage).to_owned())),
    }
}
