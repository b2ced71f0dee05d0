//! Asymmetric keys: the public half, decryption of what was encrypted to it, and (Alibaba's
//! AsymmetricEncrypt) encryption with it. Usage and algorithm are checked here, once, for
//! every dialect.

use ferrokms_crypto::CryptoError;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::cache::{CachedKey, VersionKey};
use super::{Kms, require_usable};
use crate::keyspec::{EncryptionAlgorithm, KeySpec};
use crate::model::{KeyRecord, KeyUsage, Scope};
use crate::{Error, Result};

use std::sync::Arc;

/// Which version of a key an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    /// The current (primary) version: Tencent, which has no asymmetric versions, and HMAC.
    Current,
    /// A version by its id (Alibaba's KeyVersionId).
    Id(Uuid),
}

/// The key and version an operation used.
#[derive(Debug, Clone)]
pub struct KeyUsed {
    /// The key.
    pub key: KeyRecord,
    /// The version number.
    pub version: u32,
    /// The version's id.
    pub version_id: Uuid,
}

/// A public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Whose.
    pub used: KeyUsed,
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
}

impl PublicKey {
    /// The key as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn pem(&self) -> String {
        ferrokms_crypto::pem::encode(&self.der, "PUBLIC KEY")
    }
}

/// Longest plaintext SM2 encryption takes (Alibaba's documented SM2PKE limit).
pub const MAX_SM2_PLAINTEXT: usize = 6047;

/// Largest asymmetric ciphertext accepted: SM2 of [`MAX_SM2_PLAINTEXT`] bytes in the DER form
/// (the raw form is 6144, Alibaba's documented limit; RSA ones are the modulus).
pub const MAX_ASYMMETRIC_CIPHERTEXT: usize = 6160;

impl Kms {
    /// The usable key `id` with `usage`, and the prepared material of the version `which` names.
    pub(super) async fn key_version(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        usage: KeyUsage,
    ) -> Result<(Arc<CachedKey>, KeyUsed, Arc<VersionKey>)> {
        let key = self.key(scope, id).await?;
        require_usable(&key.record)?;
        require_usage(&key.record, usage)?;
        let version = match which {
            VersionRef::Current => key.record.current_version,
            VersionRef::Id(v) => match key.version_number(v) {
                Some(n) => n,
                None => self
                    .store
                    .list_versions(id)
                    .await?
                    .into_iter()
                    .find(|r| r.version_id == v)
                    .map(|r| r.version)
                    .ok_or(Error::KeyVersionNotFound)?,
            },
        };
        let material = self.material(&key, version).await?;
        let used = KeyUsed { key: key.record.clone(), version, version_id: material.id };
        Ok((key, used, material))
    }

    /// The public half of an asymmetric key.
    pub async fn public_key(&self, scope: &Scope, id: Uuid, which: VersionRef) -> Result<PublicKey> {
        let key = self.key(scope, id).await?;
        require_usable(&key.record)?;
        if !key.record.spec.is_asymmetric() {
            return Err(Error::InvalidKeyUsage(format!("{} keys have no public key", key.record.spec.alibaba_name())));
        }
        let usage = key.record.usage;
        let (_, used, material) = self.key_version(scope, id, which, usage).await?;
        Ok(PublicKey { used, der: material.key.public_key_der()? })
    }

    /// Decrypts what a caller encrypted to the key's public half with `algorithm`.
    pub async fn asymmetric_decrypt(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<(KeyUsed, Zeroizing<Vec<u8>>)> {
        let (_, used, material) = self.key_version(scope, id, which, KeyUsage::EncryptDecrypt).await?;
        require_algorithm(used.key.spec, algorithm)?;
        if ciphertext.is_empty() || ciphertext.len() > MAX_ASYMMETRIC_CIPHERTEXT {
            return Err(Error::invalid("Ciphertext", format!("must be 1 to {MAX_ASYMMETRIC_CIPHERTEXT} bytes")));
        }
        let plaintext = material.key.decrypt(algorithm.wrap(), ciphertext).map_err(|e| match e {
            CryptoError::Malformed(why) => Error::invalid("Ciphertext", why),
            _ => Error::DecryptFailed,
        })?;
        Ok((used, plaintext))
    }

    /// Encrypts `plaintext` to the key's own public half (what a client would do locally).
    pub async fn asymmetric_encrypt(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<(KeyUsed, Vec<u8>)> {
        let (_, used, material) = self.key_version(scope, id, which, KeyUsage::EncryptDecrypt).await?;
        require_algorithm(used.key.spec, algorithm)?;
        if plaintext.is_empty() {
            return Err(Error::InvalidPlaintext("empty".into()));
        }
        if used.key.spec == KeySpec::EcSm2 && plaintext.len() > MAX_SM2_PLAINTEXT {
            return Err(Error::InvalidPlaintext(format!("at most {MAX_SM2_PLAINTEXT} bytes for SM2")));
        }
        let ciphertext = material.key.encrypt(algorithm.wrap(), plaintext).map_err(|e| match e {
            CryptoError::MessageTooLong { max, .. } => {
                Error::InvalidPlaintext(format!("at most {max} bytes for this key and algorithm"))
            }
            e => Error::internal(e),
        })?;
        Ok((used, ciphertext))
    }
}

impl Kms {
    /// Decrypts what was encrypted to an asymmetric key (an ExportedDataKey made to a KMS key's
    /// public half) and seals it under symmetric key `destination` as a normal blob.
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt_from_asymmetric(
        &self,
        scope: &Scope,
        source: Uuid,
        which: VersionRef,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
        destination: Uuid,
        context: &crate::context::EncryptionContext,
    ) -> Result<super::Encrypted> {
        self.require_usable_key(scope, destination).await?;
        let (_, plaintext) = self.asymmetric_decrypt(scope, source, which, algorithm, ciphertext).await?;
        self.encrypt(scope, destination, &plaintext, ferrokms_crypto::blob::PayloadKind::Bytes, context).await
    }
}

/// Checks that a key is for `usage` (else the dialect's wrong-usage code).
pub(super) fn require_usage(record: &KeyRecord, usage: KeyUsage) -> Result<()> {
    let fits = record.usage == usage
        && match usage {
            KeyUsage::EncryptDecrypt => record.spec.is_asymmetric(),
            KeyUsage::SignVerify => true,
            KeyUsage::GenerateVerifyMac => record.spec.mac_algorithm().is_some(),
        };
    if fits { Ok(()) } else { Err(Error::InvalidKeyUsage(record.spec.tencent_usage(record.usage).to_owned())) }
}

fn require_algorithm(spec: KeySpec, algorithm: EncryptionAlgorithm) -> Result<()> {
    if spec.info().encryption.contains(&algorithm) {
        Ok(())
    } else {
        Err(Error::invalid("Algorithm", format!("{algorithm:?} is not an algorithm of {} keys", spec.alibaba_name())))
    }
}
