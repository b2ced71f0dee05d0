//! Post-quantum encryption (Tencent's PostQuantumCrypto*): ML-KEM-768 keys seal with the
//! ML-KEM + AES-256-GCM hybrid into a blob that names its key and version, so decryption needs
//! no key id. Signing with ML-DSA keys is [`Kms::sign`] with a key that must be ML-DSA.
//!
//! These actions take no algorithm, so a key of another type is refused the same way in every
//! direction: [`Error::InvalidKeyUsage`] (encrypting to an ML-DSA or RSA key, signing with an
//! ML-KEM or ECDSA key alike).

use ferrokms_crypto::blob::{HybridHeader, PayloadKind, associated_data};
use uuid::Uuid;

use super::asymmetric::{KeyUsed, VersionRef};
use super::crypto::{Decrypted, Encrypted};
use super::{Kms, SignInput, require_decryptable};
use crate::context::EncryptionContext;
use crate::keyspec::{KeySpec, SigningAlgorithm};
use crate::model::{KeyUsage, Scope};
use crate::{Error, Result};

/// Longest plaintext PostQuantumCryptoEncrypt takes (4 KiB).
pub const MAX_PQ_PLAINTEXT: usize = 4096;

impl Kms {
    /// Seals `plaintext` to the current version of ML-KEM key `id`.
    pub async fn pq_encrypt(
        &self,
        scope: &Scope,
        id: Uuid,
        plaintext: &[u8],
        payload: PayloadKind,
        context: &EncryptionContext,
    ) -> Result<Encrypted> {
        if plaintext.is_empty() || plaintext.len() > MAX_PQ_PLAINTEXT {
            return Err(Error::InvalidPlaintext(format!("must be 1 to {MAX_PQ_PLAINTEXT} bytes")));
        }
        let (_, used, material) = self.key_version(scope, id, VersionRef::Current, KeyUsage::EncryptDecrypt).await?;
        if used.key.spec != KeySpec::MlKem768 {
            return Err(Error::InvalidKeyUsage(used.key.spec.tencent_usage(used.key.usage).to_owned()));
        }
        let header = HybridHeader { payload, key_id: id, key_version: used.version }.encode();
        let body =
            material.key.hybrid_seal(&associated_data(&header, scope.account.0, &context.canonical()), plaintext)?;
        let mut blob = Vec::with_capacity(header.len() + body.len());
        blob.extend_from_slice(&header);
        blob.extend_from_slice(&body);
        Ok(Encrypted { blob, key: used.key, version_id: used.version_id })
    }

    /// Opens a blob of [`Kms::pq_encrypt`]; the key and version come from the blob.
    pub async fn pq_decrypt(&self, scope: &Scope, blob: &[u8], context: &EncryptionContext) -> Result<Decrypted> {
        let (h, body) = HybridHeader::parse(blob).map_err(|_| Error::InvalidCiphertext)?;
        let key = match self.key(scope, h.key_id).await {
            Ok(k) => k,
            Err(Error::KeyNotFound) => return Err(Error::DecryptFailed),
            Err(e) => return Err(e),
        };
        require_decryptable(&key.record)?;
        if key.record.spec != KeySpec::MlKem768 || h.key_version == 0 || h.key_version > key.record.current_version {
            return Err(Error::DecryptFailed);
        }
        let material = self.material(&key, h.key_version).await?;
        let header = &blob[..blob.len() - body.len()];
        let plaintext = material
            .key
            .hybrid_open(&associated_data(header, scope.account.0, &context.canonical()), body)
            .map_err(|_| Error::DecryptFailed)?;
        let (version, version_id, payload) = (h.key_version, material.id, h.payload);
        Ok(Decrypted { key: key.record.clone(), version, version_id, plaintext, payload })
    }

    /// Signs `message` (at most 4096 bytes) with the current version of ML-DSA key `id`.
    pub async fn pq_sign(&self, scope: &Scope, id: Uuid, message: &[u8]) -> Result<(KeyUsed, Vec<u8>)> {
        let input = SignInput::Raw(message);
        self.sign_with(scope, id, VersionRef::Current, SigningAlgorithm::MlDsa65, input, Some(KeySpec::MlDsa65)).await
    }

    /// Whether `signature` is ML-DSA key `id`'s signature of `message`.
    pub async fn pq_verify(
        &self,
        scope: &Scope,
        id: Uuid,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(KeyUsed, bool)> {
        let (input, only) = (SignInput::Raw(message), Some(KeySpec::MlDsa65));
        self.verify_with(scope, id, VersionRef::Current, SigningAlgorithm::MlDsa65, input, signature, only).await
    }
}
