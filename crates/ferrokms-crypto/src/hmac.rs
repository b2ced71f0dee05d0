//! HMAC keys: HMAC-SHA-256/384/512 (aws-lc-rs) and HMAC-SM3 (RustCrypto `hmac` over `sm3`, which
//! aws-lc-rs lacks).
//!
//! A key is exactly as long as its hash's output (32, 48 or 64 bytes; 32 for SM3), so imported
//! material of any other length is refused. Both implementations keep the key as the hash states
//! after the inner and outer pads, so a MAC costs a state copy plus the hashing of the message.
//! Those states are key-equivalent: aws-lc cleanses its `HMAC_CTX` on drop, and `sm3` (feature
//! `zeroize`) wipes its cores on drop. Both live behind a `Box` so that moving a prepared key
//! never leaves a copy behind.

use ::hmac::{KeyInit, Mac};
use aws_lc_rs::hmac as aws;
use sm3::Sm3;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::key::HmacAlgorithm;
use crate::{CryptoError, random};

type HmacSm3 = ::hmac::Hmac<Sm3>;

impl HmacAlgorithm {
    /// Length of the key and of the tag, in bytes: the hash's output length.
    pub fn key_len(self) -> usize {
        match self {
            Self::Sha256 | Self::Sm3 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Generates a fresh key of [`HmacAlgorithm::key_len`] random bytes.
    pub fn generate(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        random::secret_bytes(self.key_len())
    }
}

/// A prepared HMAC key.
pub(crate) enum HmacKey {
    Aws(Box<aws::Key>),
    Sm3(Box<HmacSm3>),
}

impl HmacKey {
    /// Prepares `key` for `algorithm`; the key must be exactly [`HmacAlgorithm::key_len`] bytes.
    pub(crate) fn new(algorithm: HmacAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != algorithm.key_len() {
            return Err(CryptoError::InvalidKey("an HMAC key is as long as its hash's output"));
        }
        Self::any_length(algorithm, key)
    }

    /// Prepares a key of any length (HMAC itself allows it; the known-answer tests need it).
    fn any_length(algorithm: HmacAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        let aws = |alg| Ok(Self::Aws(Box::new(aws::Key::new(alg, key))));
        match algorithm {
            HmacAlgorithm::Sha256 => aws(aws::HMAC_SHA256),
            HmacAlgorithm::Sha384 => aws(aws::HMAC_SHA384),
            HmacAlgorithm::Sha512 => aws(aws::HMAC_SHA512),
            HmacAlgorithm::Sm3 => HmacSm3::new_from_slice(key)
                .map(|k| Self::Sm3(Box::new(k)))
                .map_err(|_| CryptoError::InvalidKey("HMAC-SM3 key")),
        }
    }

    /// The tag of `message`.
    pub(crate) fn mac(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Aws(key) => aws::sign(key, message).as_ref().to_vec(),
            Self::Sm3(key) => {
                let mut mac = (**key).clone();
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Whether `tag` is the tag of `message`, compared in constant time (a tag of the wrong
    /// length is simply not the tag).
    pub(crate) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Aws(key) => aws::verify(key, message, tag).is_ok(),
            Self::Sm3(key) => {
                let mut mac = (**key).clone();
                mac.update(message);
                let expected = mac.finalize().into_bytes();
                expected.as_slice().ct_eq(tag).into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 test cases 1 and 2 (the keys are 20 and 4 bytes, so they go through the
    /// any-length constructor; the MAC path is the same).
    #[test]
    fn rfc4231_known_answers() {
        let cases: [(Vec<u8>, &[u8], [&str; 3]); 2] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                [
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4\
                     be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                [
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fd\
                     caeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
        ];
        for (key, data, tags) in cases {
            for (alg, tag) in
                [HmacAlgorithm::Sha256, HmacAlgorithm::Sha384, HmacAlgorithm::Sha512].into_iter().zip(tags)
            {
                let k = HmacKey::any_length(alg, &key).unwrap();
                assert_eq!(hex::encode(k.mac(data)), tag, "{alg:?}");
                assert!(k.verify(data, &unhex(tag)));
            }
        }
    }

    /// HMAC-SM3 with a 32-byte key, computed with OpenSSL 3.0.19:
    /// `openssl mac -digest SM3 -macopt hexkey:000102…1f -in <(printf abc) HMAC`
    /// (and `openssl dgst -sm3 -mac HMAC -macopt hexkey:…`, same tag); see
    /// `tests/vectors/openssl-3.0.json`.
    #[test]
    fn hmac_sm3_known_answer() {
        let key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let k = HmacKey::new(HmacAlgorithm::Sm3, &key).unwrap();
        let tag = "a8f95cf26f204957e7ca73c9602a25dda35f168b28103b51dfc968c810416b63";
        assert_eq!(hex::encode(k.mac(b"abc")), tag);
        assert!(k.verify(b"abc", &unhex(tag)));
    }

    #[test]
    fn refuses_keys_that_are_not_the_hash_length() {
        for alg in [HmacAlgorithm::Sha256, HmacAlgorithm::Sha384, HmacAlgorithm::Sha512, HmacAlgorithm::Sm3] {
            let n = alg.key_len();
            assert!(HmacKey::new(alg, &vec![1; n]).is_ok());
            for bad in [0, 16, n - 1, n + 1, 128] {
                assert_eq!(
                    HmacKey::new(alg, &vec![1; bad]).err(),
                    Some(CryptoError::InvalidKey("an HMAC key is as long as its hash's output")),
                    "{alg:?} {bad}"
                );
            }
            assert_eq!(alg.generate().unwrap().len(), n);
        }
    }

    #[test]
    fn wrong_or_truncated_tags_do_not_verify() {
        for alg in [HmacAlgorithm::Sha256, HmacAlgorithm::Sha384, HmacAlgorithm::Sha512, HmacAlgorithm::Sm3] {
            let k = HmacKey::new(alg, &alg.generate().unwrap()).unwrap();
            let mut tag = k.mac(b"message");
            assert_eq!(tag.len(), alg.key_len());
            assert!(k.verify(b"message", &tag));
            assert!(!k.verify(b"messagE", &tag));
            assert!(!k.verify(b"message", &tag[..tag.len() - 1]));
            assert!(!k.verify(b"message", &[]));
            tag[0] ^= 1;
            assert!(!k.verify(b"message", &tag));
        }
    }
}
