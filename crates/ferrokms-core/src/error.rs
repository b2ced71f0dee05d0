//! The domain error. It names what went wrong in KMS terms; each API front maps every variant to
//! its own code, message and HTTP status in a single table, so no code string lives here.

use crate::keyspec::KeySpec;
use crate::model::KeyState;

/// Result of domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in KMS terms.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required field is absent.
    #[error("the parameter `{0}` is missing")]
    MissingParameter(&'static str),
    /// A field is malformed (wrong type, unparsable).
    #[error("the parameter `{name}` is malformed: {reason}")]
    MalformedParameter {
        /// Field name as the caller sent it.
        name: String,
        /// Why.
        reason: String,
    },
    /// A field is well formed but its value is not allowed.
    #[error("the value of `{name}` is invalid: {reason}")]
    InvalidValue {
        /// Field name as the caller sent it.
        name: String,
        /// Why.
        reason: String,
    },
    /// A key id is not a valid identifier.
    #[error("invalid KeyId `{0}`")]
    InvalidKeyId(String),
    /// A data key id is not a valid identifier.
    #[error("invalid DataKeyId `{0}`")]
    InvalidDataKeyId(String),
    /// An alias breaks the alias rules.
    #[error("invalid alias: {0}")]
    InvalidAlias(String),
    /// A data key name breaks the naming rules.
    #[error("invalid data key name: {0}")]
    InvalidDataKeyName(String),
    /// A plaintext is malformed or too long.
    #[error("invalid plaintext: {0}")]
    InvalidPlaintext(String),
    /// A ciphertext is not a ferrokms ciphertext.
    #[error("the ciphertext is not valid")]
    InvalidCiphertext,
    /// The key's usage does not allow the operation.
    #[error("the key usage `{0}` does not allow this operation")]
    InvalidKeyUsage(String),
    /// A signing algorithm whose name also names a curve (Tencent's `ECC_P256_R1`,
    /// `ECC_SECP256K1`) used with a key on another curve.
    #[error("the algorithm is for {} keys; this key is {}", .expected.alibaba_name(), .actual.alibaba_name())]
    CurveMismatch {
        /// The spec the algorithm names.
        expected: KeySpec,
        /// The key's spec.
        actual: KeySpec,
    },
    /// An HSM cluster was named that does not hold the key.
    #[error("invalid HsmClusterId")]
    InvalidHsmClusterId,
    /// A deletion window outside the allowed range.
    #[error("PendingWindowInDays must be between {min} and {max}")]
    InvalidPendingWindow {
        /// Smallest window.
        min: u64,
        /// Largest window.
        max: u64,
    },
    /// Data key material to import is invalid.
    #[error("invalid key material: {0}")]
    InvalidImportKeyMaterial(String),
    /// The same tag key twice.
    #[error("duplicate tag keys")]
    DuplicateTagKeys,
    /// The same key id twice in a batch.
    #[error("duplicate KeyId `{0}`")]
    DuplicateKeyId(String),
    /// The same data key id twice in a batch.
    #[error("duplicate DataKeyId `{0}`")]
    DuplicateDataKeyId(String),
    /// The alias is taken.
    #[error("the alias already exists")]
    AliasExists,
    /// The data key name is taken.
    #[error("the data key name already exists")]
    DataKeyNameExists,
    /// No such key for this account and region.
    #[error("the key does not exist")]
    KeyNotFound,
    /// No such alias for this account and region.
    #[error("the alias does not exist")]
    AliasNotFound,
    /// No such version of the key.
    #[error("the key version does not exist")]
    KeyVersionNotFound,
    /// Deletion protection is on.
    #[error("the key is protected against deletion")]
    DeletionProtected,
    /// A quota other than keys and data keys (tags per resource...).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// No such hosted data key for this account and region.
    #[error("the data key does not exist")]
    DataKeyNotFound,
    /// The key's state does not allow the operation.
    #[error("the key is {state:?}")]
    KeyState {
        /// Current state.
        state: KeyState,
        /// What the operation needed.
        need: StateNeed,
    },
    /// The data key's state does not allow the operation.
    #[error("the data key is {state:?}")]
    DataKeyState {
        /// Current state.
        state: KeyState,
        /// What the operation needed.
        need: StateNeed,
    },
    /// Authentication of a ciphertext failed (tampered, wrong context, another account's).
    #[error("the ciphertext could not be decrypted")]
    DecryptFailed,
    /// Encryption to a caller's public key failed.
    #[error("encryption failed: {0}")]
    EncryptFailed(String),
    /// RotateKey again within the minimum interval.
    #[error("the key was rotated less than {0} seconds ago")]
    RotateRateLimited(u64),
    /// EXTERNAL keys cannot rotate.
    #[error("keys with imported material cannot rotate")]
    ExternalKeyCannotRotate,
    /// The operation needs an EXTERNAL key (imported material).
    #[error("the key's material is not imported (Origin is not EXTERNAL)")]
    NotExternalKey,
    /// An import token that ferrokms did not issue for this key.
    #[error("the import token is not valid for this key")]
    InvalidImportToken,
    /// An import token past its validity.
    #[error("the import token has expired")]
    ImportTokenExpired,
    /// Material to import that differs from what the key had before.
    #[error("the key material differs from the material imported before")]
    MaterialMismatch,
    /// The operation is not offered.
    #[error("unsupported operation: {0}")]
    Unsupported(String),
    /// The account holds as many keys as allowed.
    #[error("the key quota of {0} is reached")]
    KeyLimitExceeded(u64),
    /// The account holds as many hosted data keys as allowed.
    #[error("the hosted data key quota of {0} is reached")]
    DataKeyLimitExceeded(u64),
    /// The caller's share of an expensive resource is in use (concurrent listings, a listing over
    /// its time limit): retry later or narrow the request. Never another tenant's fault.
    #[error("busy: {0}")]
    Busy(String),
    /// The service is sealed: it holds no root key until an operator unseals it.
    #[error("the service is sealed: an operator must unseal it (ferrokms admin unseal)")]
    Sealed,
    /// The store does not answer (PostgreSQL down or restarting, its network cut): nothing was
    /// done, or a write's transaction was not committed. Retryable; details are logged only.
    #[error("the store is unavailable: {0}")]
    StoreUnavailable(String),
    /// Storage or crypto failed; details are logged, never shown to callers.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The state an operation needed, so fronts can pick the precise code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateNeed {
    /// Usable for cryptography (Enabled).
    Usable,
    /// Usable for decryption (Enabled or Archived).
    Decryptable,
    /// Disabled (to schedule deletion).
    Disabled,
    /// Enabled or Disabled (to enable or disable).
    EnabledOrDisabled,
    /// PendingDelete (to cancel deletion).
    PendingDelete,
    /// Enabled (to archive).
    Enabled,
    /// Archived (to cancel archival).
    Archived,
    /// Not PendingDelete (to modify).
    NotPendingDelete,
}

impl Error {
    /// An [`Error::InvalidValue`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidValue { name: name.into(), reason: reason.into() }
    }

    /// An [`Error::MalformedParameter`].
    pub fn malformed(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::MalformedParameter { name: name.into(), reason: reason.into() }
    }

    /// An [`Error::Internal`], for failures that are not the caller's.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        Self::Internal(what.to_string())
    }
}

impl From<ferrokms_crypto::CryptoError> for Error {
    fn from(e: ferrokms_crypto::CryptoError) -> Self {
        Self::internal(e)
    }
}
