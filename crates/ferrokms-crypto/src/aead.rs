//! Symmetric AEADs that key versions use: AES-GCM (aws-lc-rs) and SM4-GCM (RustCrypto).
//!
//! A [`SymmetricKey`] offers two constructions, both with a 128-bit tag appended to the
//! ciphertext:
//! - [`SymmetricKey::seal`] / [`SymmetricKey::open`]: GCM under the key itself with a 96-bit
//!   nonce. Random 96-bit nonces are safe for about 2^32 messages per key only, so this serves
//!   the root key (a few sealings per key version) and the opening of format-1 blobs.
//! - [`SymmetricKey::seal_extended`] / [`SymmetricKey::open_extended`]: the extended-nonce AEADs
//!   of blob format 3 (module [`crate::extended`]): a 192-bit nonce, a per-message key derived
//!   from half of it, GCM under that key with the other half; safe for far more than 2^64
//!   messages per key with random nonces.

use aes_gcm::AesGcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sm4::Sm4;
use zeroize::Zeroizing;

use crate::extended::{EXTENDED_NONCE_LEN, ExtendedKey};
use crate::{CryptoError, random};

/// Length of the nonce of every AEAD here.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag of every AEAD here.
pub const TAG_LEN: usize = 16;

pub(crate) type Sm4Gcm = AesGcm<Sm4, aes_gcm::aead::consts::U12>;

/// The symmetric algorithm of a key version. The discriminants are stored in ciphertext blobs and
/// in the database: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SymmetricAlgorithm {
    /// AES-256 in GCM mode.
    Aes256Gcm = 1,
    /// SM4 (GB/T 32907) in GCM mode.
    Sm4Gcm = 2,
    /// AES-128 in GCM mode.
    Aes128Gcm = 3,
    /// AES-192 in GCM mode.
    Aes192Gcm = 4,
}

impl SymmetricAlgorithm {
    /// Length of the key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes256Gcm => 32,
            Self::Aes192Gcm => 24,
            Self::Aes128Gcm | Self::Sm4Gcm => 16,
        }
    }

    /// The algorithm stored under `code`, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        [Self::Aes256Gcm, Self::Sm4Gcm, Self::Aes128Gcm, Self::Aes192Gcm].into_iter().find(|a| *a as u8 == code)
    }

    /// Generates fresh key material for this algorithm.
    pub fn generate(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        random::secret_bytes(self.key_len())
    }
}

/// A symmetric key ready for use, for both constructions. Key schedules are wiped when it is
/// dropped (aws-lc-rs cleanses its keys on free; the SM4 key schedule, the XAES state and the
/// HMAC-SM3 states zeroize themselves; the HKDF key is wiped by aws-lc-rs).
pub struct SymmetricKey {
    inner: Inner,
    extended: ExtendedKey,
}

enum Inner {
    Aws(LessSafeKey),
    Sm4(Box<Sm4Gcm>),
}

impl std::fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymmetricKey(..)")
    }
}

impl SymmetricKey {
    /// Prepares `key` for `algorithm`.
    pub fn new(algorithm: SymmetricAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != algorithm.key_len() {
            return Err(CryptoError::InvalidKey("wrong key length"));
        }
        let aws = |alg| {
            UnboundKey::new(alg, key)
                .map(|k| Inner::Aws(LessSafeKey::new(k)))
                .map_err(|_| CryptoError::InvalidKey("rejected by aws-lc"))
        };
        let inner = match algorithm {
            SymmetricAlgorithm::Aes256Gcm => aws(&AES_256_GCM)?,
            SymmetricAlgorithm::Aes192Gcm => aws(&AES_192_GCM)?,
            SymmetricAlgorithm::Aes128Gcm => aws(&AES_128_GCM)?,
            SymmetricAlgorithm::Sm4Gcm => {
                Inner::Sm4(Box::new(Sm4Gcm::new_from_slice(key).map_err(|_| CryptoError::InvalidKey("sm4 key"))?))
            }
        };
        Ok(Self { inner, extended: ExtendedKey::new(algorithm, key)? })
    }

    /// Encrypts `plaintext` with the extended-nonce AEAD of blob format 3 and the 24-byte
    /// `nonce`, binding `aad`; returns ciphertext ‖ tag.
    pub fn seal_extended(
        &self,
        nonce: &[u8; EXTENDED_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.extended.seal(nonce, aad, plaintext)
    }

    /// Decrypts what [`SymmetricKey::seal_extended`] made; fails if the tag does not
    /// authenticate `aad` and the bytes.
    pub fn open_extended(
        &self,
        nonce: &[u8; EXTENDED_NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.extended.open(nonce, aad, ciphertext_and_tag)
    }

    /// The format-3 per-message key of `nonce` (None for AES-256: XAES keeps it inside).
    #[cfg(test)]
    pub(crate) fn derived_key(&self, nonce: &[u8; EXTENDED_NONCE_LEN]) -> Option<Zeroizing<Vec<u8>>> {
        self.extended.derived_key(nonce)
    }

    /// Encrypts `plaintext` with `nonce`, binding `aad`; returns ciphertext ‖ tag.
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.inner {
            Inner::Aws(key) => {
                let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
                buf.extend_from_slice(plaintext);
                key.seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buf)
                    .map_err(|_| CryptoError::Failure)?;
                Ok(buf)
            }
            Inner::Sm4(key) => {
                key.encrypt(&(*nonce).into(), Payload { msg: plaintext, aad }).map_err(|_| CryptoError::Failure)
            }
        }
    }

    /// Decrypts ciphertext ‖ tag; fails if the tag does not authenticate `aad` and the bytes.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::Malformed("ciphertext shorter than its tag"));
        }
        match &self.inner {
            Inner::Aws(key) => {
                let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
                let len = key
                    .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), &mut buf)
                    .map_err(|_| CryptoError::AuthenticationFailed)?
                    .len();
                buf.truncate(len);
                Ok(buf)
            }
            Inner::Sm4(key) => key
                .decrypt(&(*nonce).into(), Payload { msg: ciphertext_and_tag, aad })
                .map(Zeroizing::new)
                .map_err(|_| CryptoError::AuthenticationFailed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// NIST GCM test vector (gcmEncryptExtIV256.rsp, Count 0 of [Keylen = 256][IVlen = 96]
    /// [PTlen = 128][AADlen = 128][Taglen = 128]).
    #[test]
    fn aes_256_gcm_nist_vector() {
        let key = unhex("92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b");
        let nonce: [u8; 12] = unhex("ac93a1a6145299bde902f21a").try_into().unwrap();
        let pt = unhex("2d71bcfa914e4ac045b2aa60955fad24");
        let aad = unhex("1e0889016f67601c8ebea4943bc23ad6");
        let expected = unhex("8995ae2e6df3dbf96fac7b7137bae67feca5aa77d51d4a0a14d9c51e1da474ab");
        let k = SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, &key).unwrap();
        assert_eq!(k.seal(&nonce, &aad, &pt).unwrap(), expected);
        assert_eq!(*k.open(&nonce, &aad, &expected).unwrap(), pt);
    }

    /// SM4-GCM vector of RFC 8998, Appendix A.1.
    #[test]
    fn sm4_gcm_rfc8998_vector() {
        let key = unhex("0123456789ABCDEFFEDCBA9876543210");
        let nonce: [u8; 12] = unhex("00001234567800000000ABCD").try_into().unwrap();
        let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let pt = unhex(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let ct = unhex(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
        );
        let tag = unhex("83DE3541E4C2B58177E065A9BF7B62EC");
        let k = SymmetricKey::new(SymmetricAlgorithm::Sm4Gcm, &key).unwrap();
        let mut expected = ct;
        expected.extend_from_slice(&tag);
        assert_eq!(k.seal(&nonce, &aad, &pt).unwrap(), expected);
        assert_eq!(*k.open(&nonce, &aad, &expected).unwrap(), pt);
    }

    #[test]
    fn tampering_and_wrong_aad_are_refused() {
        for alg in [
            SymmetricAlgorithm::Aes256Gcm,
            SymmetricAlgorithm::Sm4Gcm,
            SymmetricAlgorithm::Aes128Gcm,
            SymmetricAlgorithm::Aes192Gcm,
        ] {
            let key = alg.generate().unwrap();
            let k = SymmetricKey::new(alg, &key).unwrap();
            let nonce = [7u8; 12];
            let mut sealed = k.seal(&nonce, b"aad", b"secret").unwrap();
            assert!(k.open(&nonce, b"other", &sealed).is_err());
            sealed[0] ^= 1;
            assert_eq!(k.open(&nonce, b"aad", &sealed).unwrap_err(), CryptoError::AuthenticationFailed);
            assert!(k.open(&nonce, b"aad", &sealed[..10]).is_err());
            assert_eq!(SymmetricAlgorithm::from_code(alg as u8), Some(alg));
        }
        assert!(SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, &[0u8; 16]).is_err());
    }
}
