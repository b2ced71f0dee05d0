//! ECDSA keys (aws-lc-rs): NIST P-256 and secp256k1 with SHA-256, NIST P-384 with SHA-384. DER
//! signatures (`SEQUENCE { r, s }`), as OpenSSL and both clouds' SDKs use.
//!
//! Material is the PKCS#8 `PrivateKeyInfo` DER (id-ecPublicKey with the named curve), parsed once
//! into the signing key pair and a parsed verification key. The private key is an `EVP_PKEY`
//! inside AWS-LC, cleansed when freed.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, ParsedPublicKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::key::{Message, SignatureAlgorithm};

/// The curves, each with its one hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    Secp256k1,
}

impl Curve {
    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            Self::Secp256k1 => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1,
            Self::Secp256k1 => &signature::ECDSA_P256K1_SHA256_ASN1,
        }
    }

    /// The one signature algorithm of keys on this curve.
    pub(crate) fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::P256 | Self::Secp256k1 => SignatureAlgorithm::EcdsaSha256,
            Self::P384 => SignatureAlgorithm::EcdsaSha384,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::P256 | Self::Secp256k1 => &digest::SHA256,
            Self::P384 => &digest::SHA384,
        }
    }
}

/// Generates a PKCS#8 key on `curve`.
pub(crate) fn generate(curve: Curve) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = EcdsaKeyPair::generate(curve.signing()).map_err(|_| CryptoError::Failure)?;
    let der = key.to_pkcs8v1().map_err(|_| CryptoError::Failure)?;
    Ok(Zeroizing::new(der.as_ref().to_vec()))
}

/// A prepared ECDSA private key.
pub(crate) struct EcKey {
    curve: Curve,
    signing: EcdsaKeyPair,
    verifying: ParsedPublicKey,
    spki: Vec<u8>,
}

impl EcKey {
    /// Prepares PKCS#8 `material`, which must hold a key on `curve`.
    pub(crate) fn new(curve: Curve, material: &[u8]) -> Result<Self, CryptoError> {
        crate::der::exact_pkcs8(material, crate::der::EC_PUBLIC_KEY)?;
        let signing = EcdsaKeyPair::from_pkcs8(curve.signing(), material)
            .map_err(|_| CryptoError::InvalidKey("not a PKCS#8 key on this curve"))?;
        let spki = signing.public_key().as_der().map_err(|_| CryptoError::Failure)?.as_ref().to_vec();
        let verifying = ParsedPublicKey::new(curve.verification(), &spki).map_err(|_| CryptoError::Failure)?;
        Ok(Self { curve, signing, verifying, spki })
    }

    /// The SubjectPublicKeyInfo DER: id-ecPublicKey, the named curve, the uncompressed point.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn check(&self, algorithm: SignatureAlgorithm) -> Result<(), CryptoError> {
        if algorithm == self.curve.algorithm() { Ok(()) } else { Err(CryptoError::KeyAlgorithmMismatch) }
    }

    fn digest(&self, d: &[u8]) -> Result<Digest, CryptoError> {
        Digest::import_less_safe(d, self.curve.digest())
            .map_err(|_| CryptoError::Malformed("the digest is not as long as the scheme's hash"))
    }

    /// Signs; the signature is DER.
    pub(crate) fn sign(&self, algorithm: SignatureAlgorithm, message: Message<'_>) -> Result<Vec<u8>, CryptoError> {
        self.check(algorithm)?;
        let sig = match message {
            Message::Raw(m) => self.signing.sign(&SystemRandom::new(), m),
            Message::Digest(d) => self.signing.sign_digest(&self.digest(d)?),
        }
        .map_err(|_| CryptoError::Failure)?;
        Ok(sig.as_ref().to_vec())
    }

    /// Checks a DER signature; `Ok(false)` for any that does not verify or does not parse.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        self.check(algorithm)?;
        Ok(match message {
            Message::Raw(m) => self.verifying.verify_sig(m, signature),
            Message::Digest(d) => self.verifying.verify_digest_sig(&self.digest(d)?, signature),
        }
        .is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::{openssl, unhex};

    const CURVES: [(Curve, &str); 3] = [(Curve::P256, "p256"), (Curve::P384, "p384"), (Curve::Secp256k1, "secp256k1")];

    /// OpenSSL's keys import, give OpenSSL's SPKI, and OpenSSL's signatures verify (raw and as
    /// digests); a flipped bit or another message does not.
    #[test]
    fn verifies_what_openssl_signed() {
        let v = openssl();
        let msg = v["msg"].as_str().unwrap().as_bytes();
        for (curve, name) in CURVES {
            let key = EcKey::new(curve, &unhex(&v[name]["pkcs8"])).unwrap();
            assert_eq!(key.public_key_der(), unhex(&v[name]["spki"]), "{name}");
            let alg = curve.algorithm();
            let sig = unhex(&v[name]["sig"]);
            let digest = digest::digest(curve.digest(), msg);
            assert!(key.verify(alg, Message::Raw(msg), &sig).unwrap(), "{name}");
            assert!(key.verify(alg, Message::Digest(digest.as_ref()), &sig).unwrap(), "{name}");
            let mut bad = sig.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(!key.verify(alg, Message::Raw(msg), &bad).unwrap());
            assert!(!key.verify(alg, Message::Raw(b"other"), &sig).unwrap());
            assert!(!key.verify(alg, Message::Raw(msg), b"\x30\x00").unwrap());
            assert!(!key.verify(alg, Message::Raw(msg), &[]).unwrap());
        }
    }

    /// RFC 6979 A.2.5: P-256, SHA-256, message "sample" (the deterministic signature verifies).
    #[test]
    fn rfc6979_p256_known_answer() {
        let v = &openssl()["rfc6979_p256"];
        let key = EcKey::new(Curve::P256, &unhex(&v["pkcs8"])).unwrap();
        assert_eq!(key.public_key_der(), unhex(&v["spki"]));
        let sig = unhex(&v["sig"]);
        assert!(key.verify(SignatureAlgorithm::EcdsaSha256, Message::Raw(b"sample"), &sig).unwrap());
        assert!(!key.verify(SignatureAlgorithm::EcdsaSha256, Message::Raw(b"test"), &sig).unwrap());
    }

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        for (curve, name) in CURVES {
            let material = generate(curve).unwrap();
            let key = EcKey::new(curve, &material).unwrap();
            let alg = curve.algorithm();
            let sig = key.sign(alg, Message::Raw(b"hello")).unwrap();
            assert_eq!(sig[0], 0x30, "DER");
            assert!(key.verify(alg, Message::Raw(b"hello"), &sig).unwrap());
            let d = digest::digest(curve.digest(), b"hello");
            let sig = key.sign(alg, Message::Digest(d.as_ref())).unwrap();
            assert!(key.verify(alg, Message::Raw(b"hello"), &sig).unwrap(), "{name}");
            // Digests of the wrong length are refused, not signed.
            let wrong = if curve == Curve::P384 { 32 } else { 48 };
            assert!(matches!(key.sign(alg, Message::Digest(&vec![0; wrong])), Err(CryptoError::Malformed(_))));
            assert!(matches!(key.verify(alg, Message::Digest(&vec![0; wrong]), &sig), Err(CryptoError::Malformed(_))));
            let other = if alg == SignatureAlgorithm::EcdsaSha256 {
                SignatureAlgorithm::EcdsaSha384
            } else {
                SignatureAlgorithm::EcdsaSha256
            };
            assert_eq!(key.sign(other, Message::Raw(b"x")).unwrap_err(), CryptoError::KeyAlgorithmMismatch);
            assert_eq!(
                key.sign(SignatureAlgorithm::RsaPssSha256, Message::Raw(b"x")).unwrap_err(),
                CryptoError::KeyAlgorithmMismatch
            );
            // A key on one curve is not material for another.
            for (other_curve, _) in CURVES.iter().filter(|(c, _)| *c != curve) {
                assert!(EcKey::new(*other_curve, &material).is_err());
            }
        }
    }
}
