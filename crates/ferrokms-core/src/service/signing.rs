//! Signatures with asymmetric keys and MACs with HMAC keys. A signature or MAC that does not
//! verify is an answer (`false`), not an error; a malformed request is an error.

use ferrokms_crypto::CryptoError;
use ferrokms_crypto::key::Message;
use uuid::Uuid;

use super::Kms;
use super::asymmetric::{KeyUsed, VersionRef};
use crate::keyspec::{KeySpec, MacAlgorithm, SigningAlgorithm};
use crate::model::{KeyRecord, KeyUsage, Scope};
use crate::{Error, Result};

/// Longest message signed, verified or MACed as is (both clouds: 4096 bytes).
pub const MAX_SIGNED_MESSAGE: usize = 4096;

/// What is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInput<'a> {
    /// The message, at most [`MAX_SIGNED_MESSAGE`] bytes.
    Raw(&'a [u8]),
    /// Its digest under the algorithm's hash (for SM2DSA: SM3(Z_A ‖ M)).
    Digest(&'a [u8]),
}

impl Kms {
    /// Signs with key `id`.
    pub async fn sign(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
    ) -> Result<(KeyUsed, Vec<u8>)> {
        self.sign_with(scope, id, which, algorithm, input, None).await
    }

    /// [`Kms::sign`], with a key that must be of spec `only` if given (else the wrong key usage:
    /// PostQuantumCryptoSign takes no algorithm, so another key type is the wrong key for it).
    pub(super) async fn sign_with(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
        only: Option<KeySpec>,
    ) -> Result<(KeyUsed, Vec<u8>)> {
        let (_, used, material) = self.key_version(scope, id, which, KeyUsage::SignVerify).await?;
        require_spec(&used.key, only)?;
        let message = checked_message(&used.key, algorithm, input)?;
        let signature = material.key.sign(algorithm.crypto(), message).map_err(request_error)?;
        Ok((used, signature))
    }

    /// Whether `signature` is key `id`'s signature of the input.
    pub async fn verify(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
        signature: &[u8],
    ) -> Result<(KeyUsed, bool)> {
        self.verify_with(scope, id, which, algorithm, input, signature, None).await
    }

    /// [`Kms::verify`], with a key that must be of spec `only` if given (see [`Kms::sign_with`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn verify_with(
        &self,
        scope: &Scope,
        id: Uuid,
        which: VersionRef,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
        signature: &[u8],
        only: Option<KeySpec>,
    ) -> Result<(KeyUsed, bool)> {
        let (_, used, material) = self.key_version(scope, id, which, KeyUsage::SignVerify).await?;
        require_spec(&used.key, only)?;
        let message = checked_message(&used.key, algorithm, input)?;
        let valid = material.key.verify(algorithm.crypto(), message, signature).map_err(request_error)?;
        Ok((used, valid))
    }

    /// The MAC of `message` under HMAC key `id`.
    pub async fn generate_mac(
        &self,
        scope: &Scope,
        id: Uuid,
        algorithm: MacAlgorithm,
        message: &[u8],
    ) -> Result<(KeyUsed, Vec<u8>)> {
        let (_, used, material) = self.key_version(scope, id, VersionRef::Current, KeyUsage::GenerateVerifyMac).await?;
        check_mac(&used.key, algorithm, message)?;
        let mac = material.key.mac(message).map_err(request_error)?;
        Ok((used, mac))
    }

    /// Whether `mac` is the MAC of `message` under HMAC key `id` (any version: a MAC made before
    /// a rotation still verifies).
    pub async fn verify_mac(
        &self,
        scope: &Scope,
        id: Uuid,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> Result<(KeyUsed, bool)> {
        let (key, used, material) =
            self.key_version(scope, id, VersionRef::Current, KeyUsage::GenerateVerifyMac).await?;
        check_mac(&used.key, algorithm, message)?;
        if material.key.verify_mac(message, mac).map_err(request_error)? {
            return Ok((used, true));
        }
        for version in (1..used.version).rev() {
            let older = self.material(&key, version).await?;
            if older.key.verify_mac(message, mac).map_err(request_error)? {
                return Ok((KeyUsed { version, version_id: older.id, ..used }, true));
            }
        }
        Ok((used, false))
    }
}

/// A key of another spec than the operation's only one is the wrong key usage (each dialect's
/// wrong-usage code), as for encryption with a key of the wrong type.
fn require_spec(key: &KeyRecord, only: Option<KeySpec>) -> Result<()> {
    match only {
        Some(spec) if key.spec != spec => Err(Error::InvalidKeyUsage(key.spec.tencent_usage(key.usage).to_owned())),
        _ => Ok(()),
    }
}

/// Whether keys of `spec` sign with `algorithm`: its scheme must be one the spec lists, and an
/// algorithm that names a curve ([`SigningAlgorithm::curve`]) needs a key on that curve. The one
/// place this is decided, for both dialects.
fn require_signing_algorithm(spec: KeySpec, algorithm: SigningAlgorithm) -> Result<()> {
    if !spec.info().signing.contains(&algorithm.scheme()) {
        let name = spec.alibaba_name();
        return Err(Error::invalid("Algorithm", format!("{algorithm:?} is not an algorithm of {name} keys")));
    }
    match algorithm.curve() {
        Some(expected) if expected != spec => Err(Error::CurveMismatch { expected, actual: spec }),
        _ => Ok(()),
    }
}

fn checked_message<'a>(key: &KeyRecord, algorithm: SigningAlgorithm, input: SignInput<'a>) -> Result<Message<'a>> {
    require_signing_algorithm(key.spec, algorithm)?;
    match input {
        SignInput::Raw(m) if m.is_empty() || m.len() > MAX_SIGNED_MESSAGE => {
            Err(Error::invalid("Message", format!("must be 1 to {MAX_SIGNED_MESSAGE} bytes")))
        }
        SignInput::Raw(m) => Ok(Message::Raw(m)),
        SignInput::Digest(d) => match algorithm.digest_len() {
            Some(n) if d.len() == n => Ok(Message::Digest(d)),
            Some(n) => Err(Error::invalid("Message", format!("a digest for {algorithm:?} is {n} bytes"))),
            None => Err(Error::invalid("MessageType", format!("{algorithm:?} signs messages, not digests"))),
        },
    }
}

fn check_mac(key: &KeyRecord, algorithm: MacAlgorithm, message: &[u8]) -> Result<()> {
    if key.spec.mac_algorithm() != Some(algorithm) {
        let spec = key.spec.alibaba_name();
        return Err(Error::invalid("Algorithm", format!("{algorithm:?} is not the algorithm of {spec} keys")));
    }
    if message.is_empty() || message.len() > MAX_SIGNED_MESSAGE {
        return Err(Error::invalid("Message", format!("must be 1 to {MAX_SIGNED_MESSAGE} bytes")));
    }
    Ok(())
}

/// A crypto error on a request the checks above let through: the request's fault if malformed.
fn request_error(e: CryptoError) -> Error {
    match e {
        CryptoError::Malformed(why) => Error::invalid("Message", why),
        CryptoError::KeyAlgorithmMismatch => Error::invalid("Algorithm", "not an algorithm of this key"),
        e => Error::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_specific_algorithms_only_fit_their_curve() {
        use SigningAlgorithm::{EcdsaP256Sha256, EcdsaSecp256k1Sha256, EcdsaSha256, EcdsaSha384, Sm2Dsa};
        assert!(require_signing_algorithm(KeySpec::EcP256, EcdsaP256Sha256).is_ok());
        assert!(require_signing_algorithm(KeySpec::EcP256K, EcdsaSecp256k1Sha256).is_ok());
        assert!(matches!(
            require_signing_algorithm(KeySpec::EcP256K, EcdsaP256Sha256),
            Err(Error::CurveMismatch { expected: KeySpec::EcP256, actual: KeySpec::EcP256K })
        ));
        assert!(matches!(
            require_signing_algorithm(KeySpec::EcP256, EcdsaSecp256k1Sha256),
            Err(Error::CurveMismatch { expected: KeySpec::EcP256K, actual: KeySpec::EcP256 })
        ));
        // the curve-neutral name (Alibaba's ECDSA_SHA_256) fits both curves
        assert!(require_signing_algorithm(KeySpec::EcP256, EcdsaSha256).is_ok());
        assert!(require_signing_algorithm(KeySpec::EcP256K, EcdsaSha256).is_ok());
        // a scheme the spec does not have at all stays the plain wrong-algorithm error
        for (spec, alg) in [
            (KeySpec::EcP384, EcdsaP256Sha256),
            (KeySpec::Rsa2048, EcdsaSecp256k1Sha256),
            (KeySpec::EcSm2, EcdsaP256Sha256),
            (KeySpec::EcP256, EcdsaSha384),
            (KeySpec::EcP256, Sm2Dsa),
        ] {
            assert!(
                matches!(require_signing_algorithm(spec, alg), Err(Error::InvalidValue { .. })),
                "{spec:?} {alg:?}"
            );
        }
    }
}
