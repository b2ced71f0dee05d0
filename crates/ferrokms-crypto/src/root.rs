//! The root key: it seals every key version's material and every stored secret, so nothing
//! secret is ever written in the clear.
//!
//! [`RootKey`] is the seam for where the root key lives. [`LocalRootKey`] keeps an AES-256-GCM key
//! in memory, read from a key file or derived from a passphrase with Argon2id; a PKCS#11 HSM
//! implementation can seal with a key that never leaves the token.

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, SymmetricAlgorithm, SymmetricKey, TAG_LEN};
use crate::{CryptoError, random};

/// Seals and opens small secrets, binding each to its associated data (which names what the
/// secret is and whom it belongs to, so a sealed value cannot be moved to another record).
pub trait RootKey: Send + Sync + 'static {
    /// Encrypts `plaintext` bound to `aad`.
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Decrypts what [`RootKey::seal`] produced with the same `aad`.
    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
    /// Whether calls wait on a device (callers then run them off the async workers).
    fn blocks(&self) -> bool {
        false
    }
    /// The label of the HSM token that holds the key, if an HSM holds it.
    fn hsm(&self) -> Option<&str> {
        None
    }
}

/// Argon2id parameters for passphrase-derived root keys (RFC 9106's second recommended option:
/// 64 MiB, 3 passes, 4 lanes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassphraseParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for PassphraseParams {
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 4 }
    }
}

/// A root key held in this process's memory.
pub struct LocalRootKey {
    key: SymmetricKey,
    /// Kept to be wrapped under the next root when the root is rotated away from this one.
    bytes: Zeroizing<[u8; ROOT_KEY_LEN]>,
}

impl std::fmt::Debug for LocalRootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalRootKey(..)")
    }
}

/// Length of a root key.
pub const ROOT_KEY_LEN: usize = 32;

impl LocalRootKey {
    /// Generates new root key bytes, to be stored by the caller.
    pub fn generate_bytes() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        random::secret_bytes(ROOT_KEY_LEN)
    }

    /// Uses 32 bytes as the root key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != ROOT_KEY_LEN {
            return Err(CryptoError::InvalidKey("root key must be 32 bytes"));
        }
        let mut kept = Zeroizing::new([0u8; ROOT_KEY_LEN]);
        kept.copy_from_slice(bytes);
        Ok(Self { key: SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, bytes)?, bytes: kept })
    }

    /// The key's bytes, to be sealed under the root that replaces it (root rotation keeps the
    /// retiring roots wrapped under the active one, so only the active root has to be unlocked).
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Derives the root key from a passphrase and a stored salt with Argon2id.
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8], params: PassphraseParams) -> Result<Self, CryptoError> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(ROOT_KEY_LEN))
            .map_err(|_| CryptoError::InvalidKey("argon2 parameters"))?;
        let mut out = Zeroizing::new([0u8; ROOT_KEY_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|_| CryptoError::InvalidKey("argon2 derivation"))?;
        Self::from_bytes(out.as_ref())
    }
}

impl RootKey for LocalRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random::array::<NONCE_LEN>()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&self.key.seal(&nonce, aad, plaintext)?);
        Ok(out)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("sealed value too short"));
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed("nonce"))?;
        self.key.open(&nonce, aad, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_are_bound_to_their_aad() {
        let root = LocalRootKey::from_bytes(&LocalRootKey::generate_bytes().unwrap()).unwrap();
        let sealed = root.seal(b"key-1/v1", b"material").unwrap();
        assert_eq!(&*root.open(b"key-1/v1", &sealed).unwrap(), b"material");
        assert!(root.open(b"key-2/v1", &sealed).is_err());
        let other = LocalRootKey::from_bytes(&LocalRootKey::generate_bytes().unwrap()).unwrap();
        assert!(other.open(b"key-1/v1", &sealed).is_err());
    }

    #[test]
    fn passphrase_derivation_is_deterministic_per_salt() {
        let fast = PassphraseParams { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let a = LocalRootKey::from_passphrase(b"correct horse", b"salt-salt-salt-1", fast).unwrap();
        let b = LocalRootKey::from_passphrase(b"correct horse", b"salt-salt-salt-1", fast).unwrap();
        let c = LocalRootKey::from_passphrase(b"wrong horse", b"salt-salt-salt-1", fast).unwrap();
        let sealed = a.seal(b"x", b"y").unwrap();
        assert_eq!(&*b.open(b"x", &sealed).unwrap(), b"y");
        assert!(c.open(b"x", &sealed).is_err());
    }
}
