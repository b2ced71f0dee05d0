/// Errors of the crypto layer. Deliberately coarse: callers map them to domain errors, and an
/// attacker learns nothing from which check failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication of a ciphertext failed (wrong key, wrong AAD, tampered bytes).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The bytes are not in the expected format.
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// A key has the wrong length or kind for the operation.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A public key cannot be used with the requested algorithm.
    #[error("public key does not match the algorithm")]
    KeyAlgorithmMismatch,
    /// The message is too long for the public-key padding.
    #[error("message of {len} bytes is longer than the {max} bytes the key can hold")]
    MessageTooLong {
        /// Length of the message.
        len: usize,
        /// Largest message the key and padding can hold.
        max: usize,
    },
    /// The underlying library failed (random source, key generation).
    #[error("cryptographic operation failed")]
    Failure,
}
