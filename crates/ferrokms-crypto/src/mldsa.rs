//! ML-DSA-65 keys (FIPS 204, aws-lc-rs): pure ML-DSA with an empty context, hedged signing.
//!
//! Material is the 32-byte FIPS 204 seed ξ (ML-DSA.KeyGen_internal's input), expanded once by
//! `PqdsaKeyPair::from_seed` when the key is prepared. The private key is an `EVP_PKEY` inside
//! AWS-LC, cleansed when freed.
//!
//! Only whole messages are signed: ML-DSA's digest-then-sign form signs μ, a key-dependent
//! SHAKE256 output, not a plain hash of the message, so [`Message::Digest`] is refused.
//!
//! The public key's SPKI is the IETF LAMPS encoding (draft-ietf-lamps-dilithium-certificates):
//! `SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.3.18 } , BIT STRING pk }`, 1974 bytes, as
//! aws-lc-rs writes it.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, KeyPair, ParsedPublicKey, PqdsaKeyPair};
use zeroize::Zeroizing;

use crate::key::{Message, SignatureAlgorithm};
use crate::{CryptoError, random};

/// Length of the seed ξ.
pub(crate) const SEED_LEN: usize = 32;

/// Generates a seed ξ: 32 random bytes.
pub(crate) fn generate() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random::secret_bytes(SEED_LEN)
}

/// A prepared ML-DSA-65 private key.
pub(crate) struct MlDsaKey {
    signing: PqdsaKeyPair,
    verifying: ParsedPublicKey,
    spki: Vec<u8>,
}

impl MlDsaKey {
    /// Prepares a 32-byte seed ξ.
    pub(crate) fn new(seed: &[u8]) -> Result<Self, CryptoError> {
        if seed.len() != SEED_LEN {
            return Err(CryptoError::InvalidKey("an ML-DSA-65 seed is 32 bytes"));
        }
        let signing = PqdsaKeyPair::from_seed(&signature::ML_DSA_65_SIGNING, seed)
            .map_err(|_| CryptoError::InvalidKey("ML-DSA-65 seed rejected"))?;
        let spki = signing.public_key().as_der().map_err(|_| CryptoError::Failure)?.as_ref().to_vec();
        let verifying = parse_public_key(signing.public_key().as_ref())?;
        Ok(Self { signing, verifying, spki })
    }

    /// The SubjectPublicKeyInfo DER (IETF LAMPS encoding).
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// Signs a whole message (3309-byte signature).
    pub(crate) fn sign(&self, algorithm: SignatureAlgorithm, message: Message<'_>) -> Result<Vec<u8>, CryptoError> {
        let message = whole(algorithm, message)?;
        let mut out = vec![0u8; signature::ML_DSA_65_SIGNING.signature_len()];
        let len = self.signing.sign(message, &mut out).map_err(|_| CryptoError::Failure)?;
        out.truncate(len);
        Ok(out)
    }

    /// Checks a signature; `Ok(false)` for any that does not verify.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        Ok(verify_with(&self.verifying, whole(algorithm, message)?, signature))
    }
}

fn whole(algorithm: SignatureAlgorithm, message: Message<'_>) -> Result<&[u8], CryptoError> {
    if algorithm != SignatureAlgorithm::MlDsa65 {
        return Err(CryptoError::KeyAlgorithmMismatch);
    }
    match message {
        Message::Raw(m) => Ok(m),
        Message::Digest(_) => Err(CryptoError::Malformed("ML-DSA signs whole messages, not digests")),
    }
}

/// A 1952-byte public key (or its SPKI), parsed for verification.
fn parse_public_key(public: &[u8]) -> Result<ParsedPublicKey, CryptoError> {
    ParsedPublicKey::new(&signature::ML_DSA_65, public).map_err(|_| CryptoError::InvalidKey("ML-DSA-65 public key"))
}

fn verify_with(key: &ParsedPublicKey, message: &[u8], signature: &[u8]) -> bool {
    key.verify_sig(message, signature).is_ok()
}

#[cfg(test)]
mod tests {
    use ml_dsa::signature::{Keypair, Signer, Verifier};
    use ml_dsa::{MlDsa65, SigningKey};

    use super::*;
    use crate::test_vectors::{ml_dsa, unhex};

    /// ACVP ML-DSA-keyGen-FIPS204, ML-DSA-65 tcId 26: the seed gives ACVP's public key.
    #[test]
    fn acvp_keygen() {
        let v = &ml_dsa()["keyGen"];
        let key = MlDsaKey::new(&unhex(&v["seed"])).unwrap();
        assert_eq!(key.signing.public_key().as_ref(), &unhex(&v["pk"])[..]);
    }

    /// The LAMPS drafts' example seed gives the drafts' SPKI.
    #[test]
    fn lamps_example_spki() {
        let v = &ml_dsa()["lampsExample"];
        let key = MlDsaKey::new(&unhex(&v["seed"])).unwrap();
        assert_eq!(key.public_key_der(), unhex(&v["spki"]));
        assert_eq!(key.public_key_der().len(), 1974);
        assert_eq!(&key.public_key_der()[4..17], &hex::decode("300b0609608648016503040312").unwrap()[..]);
    }

    /// Wycheproof mldsa_65_verify_test tcId 1 (valid, empty context), and the same signature
    /// with a flipped bit, another message, or cut short, which do not verify.
    #[test]
    fn wycheproof_verify() {
        let v = &ml_dsa()["verify"];
        let key = parse_public_key(&unhex(&v["pk"])).unwrap();
        let msg = unhex(&v["msg"]);
        let sig = unhex(&v["sig"]);
        assert!(verify_with(&key, &msg, &sig));
        let mut bad = sig.clone();
        bad[1000] ^= 4;
        assert!(!verify_with(&key, &msg, &bad));
        assert!(!verify_with(&key, b"Hello world!", &sig));
        assert!(!verify_with(&key, &msg, &sig[..3308]));
    }

    /// The same seed gives the same public key in RustCrypto `ml-dsa`, and signatures
    /// cross-verify in both directions.
    #[test]
    fn cross_checks_with_rustcrypto() {
        let seed = generate().unwrap();
        let ours = MlDsaKey::new(&seed).unwrap();
        let theirs = SigningKey::<MlDsa65>::from_seed(seed[..].try_into().unwrap());
        let their_vk = theirs.verifying_key();
        assert_eq!(their_vk.encode().as_slice(), ours.signing.public_key().as_ref());

        let sig = ours.sign(SignatureAlgorithm::MlDsa65, Message::Raw(b"cross-check")).unwrap();
        assert_eq!(sig.len(), 3309);
        let parsed = ml_dsa::Signature::<MlDsa65>::try_from(sig.as_slice()).unwrap();
        assert!(their_vk.verify(b"cross-check", &parsed).is_ok());
        assert!(their_vk.verify(b"cross-checK", &parsed).is_err());

        let their_sig: ml_dsa::Signature<MlDsa65> = theirs.sign(b"the other way");
        let bytes = their_sig.encode();
        assert!(ours.verify(SignatureAlgorithm::MlDsa65, Message::Raw(b"the other way"), bytes.as_slice()).unwrap());
        assert!(!ours.verify(SignatureAlgorithm::MlDsa65, Message::Raw(b"the other wax"), bytes.as_slice()).unwrap());
    }

    #[test]
    fn refuses_digests_other_algorithms_and_bad_seeds() {
        let key = MlDsaKey::new(&generate().unwrap()).unwrap();
        assert!(matches!(
            key.sign(SignatureAlgorithm::MlDsa65, Message::Digest(&[0; 32])),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            key.verify(SignatureAlgorithm::MlDsa65, Message::Digest(&[0; 64]), &[0; 3309]),
            Err(CryptoError::Malformed(_))
        ));
        assert_eq!(
            key.sign(SignatureAlgorithm::EcdsaSha256, Message::Raw(b"x")).unwrap_err(),
            CryptoError::KeyAlgorithmMismatch
        );
        assert!(!key.verify(SignatureAlgorithm::MlDsa65, Message::Raw(b"x"), &[]).unwrap());
        assert!(MlDsaKey::new(&[0u8; 31]).is_err());
        assert!(MlDsaKey::new(&[0u8; 64]).is_err());
    }
}
