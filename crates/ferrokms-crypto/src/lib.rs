//! Cryptographic building blocks of ferrokms, free of I/O and of any wire format.
//!
//! # Layout
//! - [`random`]: the CSPRNG (the operating system's, through aws-lc-rs).
//! - [`aead`]: symmetric AEADs for key versions: AES-GCM (aws-lc-rs) and SM4-GCM (RustCrypto), and
//!   [`extended`]: their extended-nonce forms for blob format 3 (XAES-256-GCM; HKDF- and
//!   HMAC-SM3-derived per-message keys for AES-128/192 and SM4).
//! - [`blob`]: the self-describing ciphertext blob that Encrypt and GenerateDataKey return.
//! - [`key`]: one prepared-key type over every key kind (AEAD, RSA, EC, SM2, HMAC, ML-KEM, ML-DSA)
//!   and the operations on it, dispatching to one module per family: `rsa`, `ec`, [`sm2`], `hmac`,
//!   [`mlkem`] (with the post-quantum hybrid) and `mldsa`.
//! - [`wrap`]: encryption of data keys to a caller's RSA or SM2 public key.
//! - [`root`]: the root key that seals every key version at rest, behind the [`root::RootKey`] trait;
//!   [`keyring`]: the roots of a data directory by id, so the root can be rotated.
//!
//! Every buffer that holds key material is a [`zeroize::Zeroizing`] value or a type that
//! wipes itself on drop.

pub mod aead;
pub mod blob;
mod der;
pub mod digest;
mod ec;
mod error;
pub mod extended;
#[cfg(test)]
mod extended_nonce_vectors;
mod hmac;
pub mod key;
pub mod keyring;
mod mldsa;
pub mod mlkem;
pub mod pem;
pub mod random;
pub mod root;
mod rsa;
pub mod sm2;
#[cfg(test)]
mod test_vectors;
pub mod wrap;

pub use error::CryptoError;
