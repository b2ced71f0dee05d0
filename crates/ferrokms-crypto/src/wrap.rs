//! Encryption of a data key to a caller's public key (Tencent's `EncryptionPublicKey`,
//! Alibaba's `PublicKeyBlob`): RSA PKCS#1 v1.5 and OAEP (aws-lc-rs), SM2 in the raw GM/T 0003
//! layout `04 ‖ x ‖ y ‖ C3 ‖ C2` and the GM/T 0009 DER layout (RustCrypto sm2).

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey,
    PublicEncryptingKey,
};
use sm2::pkcs8::DecodePublicKey;
use sm2::pke::{EncryptingKey, Mode};

use crate::{CryptoError, pem};

/// How the data key is encrypted to the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapAlgorithm {
    /// SM2 encryption, raw `04 ‖ C1 ‖ C3 ‖ C2`.
    Sm2C1C3C2,
    /// SM2 encryption, GM/T 0009 `SEQUENCE { x, y, C3, C2 }`.
    Sm2C1C3C2Der,
    /// RSAES-PKCS1-v1_5.
    RsaPkcs1V15,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
    RsaOaepSha1,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaepSha256,
}

/// A caller's public key.
pub enum WrappingKey {
    /// An RSA key, 2048 to 4096 bits.
    Rsa(PublicEncryptingKey),
    /// An SM2 key (id-ecPublicKey on the sm2p256v1 curve).
    Sm2(Box<sm2::PublicKey>),
}

impl std::fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa(k) => write!(f, "WrappingKey::Rsa({} bits)", k.key_size_bits()),
            Self::Sm2(_) => f.write_str("WrappingKey::Sm2"),
        }
    }
}

impl WrappingKey {
    /// Parses a DER SubjectPublicKeyInfo holding an RSA or SM2 key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        if let Ok(k) = sm2::PublicKey::from_public_key_der(der) {
            return Ok(Self::Sm2(Box::new(k)));
        }
        let rsa =
            PublicEncryptingKey::from_der(der).map_err(|_| CryptoError::InvalidKey("not an RSA or SM2 public key"))?;
        if !(2048..=4096).contains(&rsa.key_size_bits()) {
            return Err(CryptoError::InvalidKey("RSA keys must have 2048 to 4096 bits"));
        }
        Ok(Self::Rsa(rsa))
    }

    /// Parses a PEM public key (or bare base64 of its DER).
    pub fn from_pem(text: &str) -> Result<Self, CryptoError> {
        Self::from_spki_der(&pem::decode(text, "PUBLIC KEY")?)
    }

    /// RSA modulus size in bits; `None` for SM2.
    pub fn rsa_bits(&self) -> Option<usize> {
        match self {
            Self::Rsa(k) => Some(k.key_size_bits()),
            Self::Sm2(_) => None,
        }
    }

    /// Whether this is an SM2 key.
    pub fn is_sm2(&self) -> bool {
        matches!(self, Self::Sm2(_))
    }

    /// Largest message `algorithm` can encrypt to this key, or an error if they do not fit.
    pub fn capacity(&self, algorithm: WrapAlgorithm) -> Result<usize, CryptoError> {
        match (self, algorithm) {
            (Self::Rsa(k), WrapAlgorithm::RsaPkcs1V15) => Ok(k.key_size_bytes() - 11),
            (Self::Rsa(k), WrapAlgorithm::RsaOaepSha1) => Ok(k.key_size_bytes() - 2 * 20 - 2),
            (Self::Rsa(k), WrapAlgorithm::RsaOaepSha256) => Ok(k.key_size_bytes() - 2 * 32 - 2),
            (Self::Sm2(_), WrapAlgorithm::Sm2C1C3C2 | WrapAlgorithm::Sm2C1C3C2Der) => Ok(usize::MAX),
            _ => Err(CryptoError::KeyAlgorithmMismatch),
        }
    }

    /// Encrypts `message` to this key.
    pub fn encrypt(&self, algorithm: WrapAlgorithm, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let max = self.capacity(algorithm)?;
        if message.len() > max {
            return Err(CryptoError::MessageTooLong { len: message.len(), max });
        }
        match self {
            Self::Rsa(k) => rsa_encrypt(k, algorithm, message),
            Self::Sm2(k) => {
                let enc = EncryptingKey::new_with_mode(**k, Mode::C1C3C2);
                let mut rng = getrandom::SysRng;
                let out = if algorithm == WrapAlgorithm::Sm2C1C3C2Der {
                    enc.encrypt_der(&mut rng, message)
                } else {
                    enc.encrypt(&mut rng, message)
                };
                out.map_err(|_| CryptoError::Failure)
            }
        }
    }
}

fn rsa_encrypt(key: &PublicEncryptingKey, algorithm: WrapAlgorithm, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; key.key_size_bytes()];
    let oaep = |alg: &'static OaepAlgorithm, out: &mut [u8]| -> Result<usize, CryptoError> {
        let k = OaepPublicEncryptingKey::new(key.clone()).map_err(|_| CryptoError::Failure)?;
        Ok(k.encrypt(alg, message, out, None).map_err(|_| CryptoError::Failure)?.len())
    };
    let len = match algorithm {
        WrapAlgorithm::RsaOaepSha1 => oaep(&OAEP_SHA1_MGF1SHA1, &mut out)?,
        WrapAlgorithm::RsaOaepSha256 => oaep(&OAEP_SHA256_MGF1SHA256, &mut out)?,
        WrapAlgorithm::RsaPkcs1V15 => {
            let k = Pkcs1PublicEncryptingKey::new(key.clone()).map_err(|_| CryptoError::Failure)?;
            k.encrypt(message, &mut out).map_err(|_| CryptoError::Failure)?.len()
        }
        _ => return Err(CryptoError::KeyAlgorithmMismatch),
    };
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
    use sm2::elliptic_curve::Generate;
    use sm2::pkcs8::EncodePublicKey;
    use sm2::pke::DecryptingKey;

    use super::*;

    #[test]
    fn rsa_round_trips_in_every_padding() {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let spki = private.public_key().as_der().unwrap();
        let key = WrappingKey::from_spki_der(spki.as_ref()).unwrap();
        assert_eq!(key.rsa_bits(), Some(2048));
        let msg = [0x5au8; 32];
        for alg in [WrapAlgorithm::RsaOaepSha1, WrapAlgorithm::RsaOaepSha256] {
            let ct = key.encrypt(alg, &msg).unwrap();
            let dk = OaepPrivateDecryptingKey::new(private.clone()).unwrap();
            let mut out = vec![0u8; dk.min_output_size()];
            let oaep = if alg == WrapAlgorithm::RsaOaepSha1 { &OAEP_SHA1_MGF1SHA1 } else { &OAEP_SHA256_MGF1SHA256 };
            assert_eq!(dk.decrypt(oaep, &ct, &mut out, None).unwrap(), &msg);
        }
        let ct = key.encrypt(WrapAlgorithm::RsaPkcs1V15, &msg).unwrap();
        let dk = Pkcs1PrivateDecryptingKey::new(private).unwrap();
        let mut out = vec![0u8; dk.min_output_size()];
        assert_eq!(dk.decrypt(&ct, &mut out).unwrap(), &msg);
    }

    #[test]
    fn rsa_capacity_is_enforced() {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let key = WrappingKey::from_spki_der(private.public_key().as_der().unwrap().as_ref()).unwrap();
        assert_eq!(key.capacity(WrapAlgorithm::RsaOaepSha256).unwrap(), 190);
        assert_eq!(key.capacity(WrapAlgorithm::RsaOaepSha1).unwrap(), 214);
        assert!(key.encrypt(WrapAlgorithm::RsaOaepSha256, &[0u8; 190]).is_ok());
        assert_eq!(
            key.encrypt(WrapAlgorithm::RsaOaepSha256, &[0u8; 191]).unwrap_err(),
            CryptoError::MessageTooLong { len: 191, max: 190 }
        );
        assert_eq!(key.encrypt(WrapAlgorithm::Sm2C1C3C2, b"x").unwrap_err(), CryptoError::KeyAlgorithmMismatch);
    }

    #[test]
    fn sm2_round_trips_in_both_layouts() {
        let secret = sm2::SecretKey::generate();
        let spki = secret.public_key().to_public_key_der().unwrap();
        let key = WrappingKey::from_spki_der(spki.as_bytes()).unwrap();
        assert!(key.is_sm2());
        let dk = DecryptingKey::new_with_mode(secret.to_nonzero_scalar(), Mode::C1C3C2);
        let msg = [0x11u8; 32];
        let raw = key.encrypt(WrapAlgorithm::Sm2C1C3C2, &msg).unwrap();
        assert_eq!(raw[0], 0x04);
        assert_eq!(raw.len(), 1 + 64 + 32 + 32);
        assert_eq!(dk.decrypt(&raw).unwrap(), msg);
        let der = key.encrypt(WrapAlgorithm::Sm2C1C3C2Der, &msg).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(dk.decrypt_der(&der).unwrap(), msg);
        assert_eq!(key.encrypt(WrapAlgorithm::RsaOaepSha256, &msg).unwrap_err(), CryptoError::KeyAlgorithmMismatch);
    }

    #[test]
    fn rejects_what_is_not_a_usable_key() {
        assert!(WrappingKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
        assert!(WrappingKey::from_spki_der(&[0x30, 0x00]).is_err());
        // A P-256 key is neither RSA nor SM2.
        let p256 = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING)
            .unwrap();
        let spki = aws_lc_rs::signature::KeyPair::public_key(&p256).as_der().unwrap();
        assert!(WrappingKey::from_spki_der(spki.as_ref()).is_err());
    }
}
