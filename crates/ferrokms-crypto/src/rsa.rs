//! RSA keys (aws-lc-rs): decryption in RSAES-PKCS1-v1_5 and RSAES-OAEP (SHA-1/MGF1-SHA-1,
//! SHA-256/MGF1-SHA-256), signatures in RSASSA-PSS (SHA-256, MGF1-SHA-256, salt = 32 bytes) and
//! RSASSA-PKCS1-v1_5 with SHA-256.
//!
//! Material is the PKCS#8 `PrivateKeyInfo` DER. It is parsed once, when the key is prepared, into
//! everything an operation needs: the signing key pair, the OAEP and PKCS#1 decrypting keys, the
//! public key as a [`WrappingKey`] for encryption and as two parsed verification keys. The
//! private parts are `EVP_PKEY`s inside AWS-LC, which cleanses them when they are freed.
//!
//! Every decryption failure is [`CryptoError::AuthenticationFailed`], whatever the padding found:
//! callers must not tell them apart either (RSAES-PKCS1-v1_5 is Bleichenbacher-prone whenever
//! success and failure can be told apart from outside).

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaKeyPair};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::key::{Message, SignatureAlgorithm};
use crate::wrap::{WrapAlgorithm, WrappingKey};

/// A prepared RSA private key.
pub(crate) struct RsaKey {
    signing: RsaKeyPair,
    oaep: OaepPrivateDecryptingKey,
    pkcs1: Pkcs1PrivateDecryptingKey,
    public: WrappingKey,
    verify_pss: ParsedPublicKey,
    verify_pkcs1: ParsedPublicKey,
    spki: Vec<u8>,
}

/// Generates a PKCS#8 RSA key with a `bits`-bit modulus (2048 or 3072).
pub(crate) fn generate(bits: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        _ => return Err(CryptoError::InvalidKey("unsupported RSA size")),
    };
    let key = PrivateDecryptingKey::generate(size).map_err(|_| CryptoError::Failure)?;
    let der = key.as_der().map_err(|_| CryptoError::Failure)?;
    Ok(Zeroizing::new(der.as_ref().to_vec()))
}

impl RsaKey {
    /// Prepares PKCS#8 `material`, which must hold an RSA key with a `bits`-bit modulus.
    pub(crate) fn new(bits: usize, material: &[u8]) -> Result<Self, CryptoError> {
        crate::der::exact_pkcs8(material, crate::der::RSA_ENCRYPTION)?;
        let private =
            PrivateDecryptingKey::from_pkcs8(material).map_err(|_| CryptoError::InvalidKey("not an RSA PKCS#8 key"))?;
        if private.key_size_bits() != bits {
            return Err(CryptoError::InvalidKey("RSA modulus of the wrong size"));
        }
        let signing =
            RsaKeyPair::from_pkcs8(material).map_err(|_| CryptoError::InvalidKey("RSA key rejected for signing"))?;
        let public = private.public_key();
        let spki = public.as_der().map_err(|_| CryptoError::Failure)?.as_ref().to_vec();
        let parsed = |alg| ParsedPublicKey::new(alg, &spki).map_err(|_| CryptoError::Failure);
        let verify_pss = parsed(&signature::RSA_PSS_2048_8192_SHA256)?;
        let verify_pkcs1 = parsed(&signature::RSA_PKCS1_2048_8192_SHA256)?;
        Ok(Self {
            oaep: OaepPrivateDecryptingKey::new(private.clone()).map_err(|_| CryptoError::Failure)?,
            pkcs1: Pkcs1PrivateDecryptingKey::new(private).map_err(|_| CryptoError::Failure)?,
            signing,
            public: WrappingKey::Rsa(public),
            verify_pss,
            verify_pkcs1,
            spki,
        })
    }

    /// The SubjectPublicKeyInfo DER (rsaEncryption, as OpenSSL writes it).
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The public half, for encryption.
    pub(crate) fn public(&self) -> &WrappingKey {
        &self.public
    }

    fn modulus_len(&self) -> usize {
        self.signing.public_modulus_len()
    }

    /// Decrypts `ciphertext`, which must be exactly as long as the modulus.
    pub(crate) fn decrypt(
        &self,
        algorithm: WrapAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let oaep = match algorithm {
            WrapAlgorithm::RsaOaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            WrapAlgorithm::RsaOaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            WrapAlgorithm::RsaPkcs1V15 => None,
            WrapAlgorithm::Sm2C1C3C2 | WrapAlgorithm::Sm2C1C3C2Der => return Err(CryptoError::KeyAlgorithmMismatch),
        };
        if ciphertext.len() != self.modulus_len() {
            return Err(CryptoError::Malformed("RSA ciphertext is not as long as the modulus"));
        }
        let mut out = Zeroizing::new(vec![0u8; self.modulus_len()]);
        let len = match oaep {
            Some(alg) => self.oaep.decrypt(alg, ciphertext, &mut out, None).map(|p| p.len()),
            None => self.pkcs1.decrypt(ciphertext, &mut out).map(|p| p.len()),
        }
        .map_err(|_| CryptoError::AuthenticationFailed)?;
        out.truncate(len);
        Ok(out)
    }

    /// Signs with RSASSA-PSS or RSASSA-PKCS1-v1_5 over SHA-256.
    pub(crate) fn sign(&self, algorithm: SignatureAlgorithm, message: Message<'_>) -> Result<Vec<u8>, CryptoError> {
        let encoding: &'static signature::RsaSignatureEncoding = match algorithm {
            SignatureAlgorithm::RsaPssSha256 => &signature::RSA_PSS_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
            _ => return Err(CryptoError::KeyAlgorithmMismatch),
        };
        let mut out = vec![0u8; self.modulus_len()];
        match message {
            Message::Raw(m) => self.signing.sign(encoding, &SystemRandom::new(), m, &mut out),
            Message::Digest(d) => self.signing.sign_digest(encoding, &sha256_digest(d)?, &mut out),
        }
        .map_err(|_| CryptoError::Failure)?;
        Ok(out)
    }

    /// Checks a signature; `Ok(false)` for any signature that does not verify.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        let key = match algorithm {
            SignatureAlgorithm::RsaPssSha256 => &self.verify_pss,
            SignatureAlgorithm::RsaPkcs1Sha256 => &self.verify_pkcs1,
            _ => return Err(CryptoError::KeyAlgorithmMismatch),
        };
        Ok(match message {
            Message::Raw(m) => key.verify_sig(m, signature),
            Message::Digest(d) => key.verify_digest_sig(&sha256_digest(d)?, signature),
        }
        .is_ok())
    }
}

/// A caller-supplied SHA-256 digest; [`CryptoError::Malformed`] unless it is 32 bytes.
pub(crate) fn sha256_digest(d: &[u8]) -> Result<Digest, CryptoError> {
    Digest::import_less_safe(d, &digest::SHA256).map_err(|_| CryptoError::Malformed("a SHA-256 digest is 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::{openssl, unhex};

    fn kat_key() -> RsaKey {
        RsaKey::new(2048, &unhex(&openssl()["rsa2048"]["pkcs8"])).unwrap()
    }

    /// OpenSSL-made ciphertexts (tests/vectors/openssl-3.0.json) decrypt in every padding.
    #[test]
    fn decrypts_what_openssl_encrypted() {
        let v = openssl();
        let key = kat_key();
        let pt = v["pt"].as_str().unwrap().as_bytes();
        for (alg, field) in [
            (WrapAlgorithm::RsaOaepSha256, "ct_oaep_sha256"),
            (WrapAlgorithm::RsaOaepSha1, "ct_oaep_sha1"),
            (WrapAlgorithm::RsaPkcs1V15, "ct_pkcs1"),
        ] {
            let ct = unhex(&v["rsa2048"][field]);
            assert_eq!(&key.decrypt(alg, &ct).unwrap()[..], pt, "{alg:?}");
            // The other OAEP digest (or padding) does not open it, and says nothing more.
            let other = if alg == WrapAlgorithm::RsaOaepSha1 {
                WrapAlgorithm::RsaOaepSha256
            } else {
                WrapAlgorithm::RsaOaepSha1
            };
            assert_eq!(key.decrypt(other, &ct).unwrap_err(), CryptoError::AuthenticationFailed);
            let mut bad = ct.clone();
            bad[100] ^= 0x40;
            assert_eq!(key.decrypt(alg, &bad).unwrap_err(), CryptoError::AuthenticationFailed);
        }
    }

    /// OpenSSL's PSS (salt = digest length) and PKCS#1 signatures verify, raw and as a digest.
    #[test]
    fn verifies_what_openssl_signed() {
        let v = openssl();
        let key = kat_key();
        let msg = v["msg"].as_str().unwrap().as_bytes();
        let digest = digest::digest(&digest::SHA256, msg);
        for (alg, field) in
            [(SignatureAlgorithm::RsaPssSha256, "sig_pss"), (SignatureAlgorithm::RsaPkcs1Sha256, "sig_pkcs1")]
        {
            let sig = unhex(&v["rsa2048"][field]);
            assert!(key.verify(alg, Message::Raw(msg), &sig).unwrap(), "{alg:?}");
            assert!(key.verify(alg, Message::Digest(digest.as_ref()), &sig).unwrap());
            let mut bad = sig.clone();
            bad[7] ^= 1;
            assert!(!key.verify(alg, Message::Raw(msg), &bad).unwrap());
            assert!(!key.verify(alg, Message::Raw(b"another message"), &sig).unwrap());
            assert!(!key.verify(alg, Message::Raw(msg), &sig[..255]).unwrap());
        }
        assert_eq!(key.public_key_der(), unhex(&v["rsa2048"]["spki"]));
    }

    #[test]
    fn sizes_and_lengths_are_checked() {
        let key = kat_key();
        assert_eq!(
            RsaKey::new(3072, &unhex(&openssl()["rsa2048"]["pkcs8"])).err(),
            Some(CryptoError::InvalidKey("RSA modulus of the wrong size"))
        );
        assert!(RsaKey::new(2048, b"not a key").is_err());
        assert_eq!(
            key.decrypt(WrapAlgorithm::RsaOaepSha256, &[0u8; 255]).unwrap_err(),
            CryptoError::Malformed("RSA ciphertext is not as long as the modulus")
        );
        assert_eq!(key.decrypt(WrapAlgorithm::Sm2C1C3C2, &[0u8; 256]).unwrap_err(), CryptoError::KeyAlgorithmMismatch);
        assert_eq!(
            key.sign(SignatureAlgorithm::RsaPssSha256, Message::Digest(&[0u8; 31])).unwrap_err(),
            CryptoError::Malformed("a SHA-256 digest is 32 bytes")
        );
        assert_eq!(
            key.verify(SignatureAlgorithm::EcdsaSha256, Message::Raw(b"x"), &[0u8; 256]).unwrap_err(),
            CryptoError::KeyAlgorithmMismatch
        );
    }
}
