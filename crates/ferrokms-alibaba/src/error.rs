//! Alibaba error codes and HTTP statuses (spec section 5). [`ApiError::from`] is the one table
//! from domain errors to codes; wire-level failures use the constructors.

use ferrokms_core::Error;
use ferrokms_core::error::StateNeed;
use ferrokms_core::model::KeyState;
use http::StatusCode;

/// An error as the Alibaba API reports it: a status, `Code` and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code, e.g. `Forbidden.KeyNotFound`.
    pub code: &'static str,
    /// Message.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400 `MissingParameter`.
    pub fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("The parameter \"{name}\" is needed but not provided."),
        )
    }

    /// 400 `InvalidParameter`.
    pub fn invalid(name: &str, reason: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The specified parameter \"{name}\" is not valid: {reason}."),
        )
    }

    /// 400 `UnsupportedOperation`.
    pub fn unsupported(what: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            format!("{what} is not supported by this ferrokms version."),
        )
    }

    /// 400 `DryRunOperationError`: the request would have succeeded.
    pub fn dry_run() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "DryRunOperationError",
            "Request validation has been passed with DryRun flag set.",
        )
    }
}

fn conflict(code: &'static str, state: KeyState) -> ApiError {
    let name = crate::render::key_state(state);
    ApiError::new(StatusCode::CONFLICT, code, format!("The request was rejected because the key state is {name}."))
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let bad = |name: &str, e: &Error| Self::invalid(name, &e.to_string());
        match e {
            Error::MissingParameter(name) => Self::missing(name),
            Error::MalformedParameter { ref name, .. } | Error::InvalidValue { ref name, .. } => {
                // Core names fields as Tencent does where the dialects differ.
                let name = match name.as_str() {
                    "Ciphertext" => "CiphertextBlob",
                    "ValidTo" => "KeyMaterialExpireUnix",
                    other => other,
                }
                .to_owned();
                bad(&name, &e)
            }
            Error::InvalidKeyId(_) | Error::KeyNotFound => {
                Self::new(StatusCode::NOT_FOUND, "Forbidden.KeyNotFound", "The specified Key is not found.")
            }
            Error::AliasNotFound => {
                Self::new(StatusCode::NOT_FOUND, "Forbidden.AliasNotFound", "The specified Alias is not found.")
            }
            Error::KeyVersionNotFound => Self::new(
                StatusCode::NOT_FOUND,
                "Forbidden.KeyVersionNotFound",
                "The specified KeyVersion is not found.",
            ),
            Error::InvalidDataKeyId(_) | Error::DataKeyNotFound => {
                Self::new(StatusCode::NOT_FOUND, "Forbidden.ResourceNotFound", "The specified resource is not found.")
            }
            Error::InvalidAlias(_) => bad("AliasName", &e),
            Error::InvalidDataKeyName(_) => bad("DataKeyName", &e),
            Error::InvalidPlaintext(_) => bad("Plaintext", &e),
            Error::InvalidCiphertext | Error::DecryptFailed => Self::invalid(
                "CiphertextBlob",
                "the ciphertext is malformed, was tampered with, or its EncryptionContext does not match",
            ),
            // Alibaba's one ECDSA name fits both curves; should a curve-specific one meet a key
            // on another curve, it is the algorithm that is wrong.
            Error::CurveMismatch { .. } => bad("Algorithm", &e),
            Error::InvalidKeyUsage(_) => bad("KeyUsage", &e),
            Error::InvalidHsmClusterId => bad("DKMSInstanceId", &e),
            Error::InvalidPendingWindow { .. } => bad("PendingWindowInDays", &e),
            Error::InvalidImportKeyMaterial(_) => {
                Self::new(StatusCode::BAD_REQUEST, "InvalidKeyMaterial", e.to_string())
            }
            Error::DuplicateTagKeys => bad("Tags", &e),
            Error::DuplicateKeyId(_) => bad("KeyId", &e),
            Error::DuplicateDataKeyId(_) => bad("DataKeyId", &e),
            Error::AliasExists => Self::new(StatusCode::BAD_REQUEST, "AliasAlreadyExists", "The alias already exists."),
            Error::DataKeyNameExists => Self::new(StatusCode::CONFLICT, "Rejected.ResourceExist", e.to_string()),
            Error::KeyState { state, need: StateNeed::Usable | StateNeed::Decryptable } => match state {
                KeyState::PendingDelete => conflict("Rejected.PendingDeletion", state),
                KeyState::PendingImport => conflict("Rejected.PendingImport", state),
                _ => conflict("Rejected.Disabled", state),
            },
            Error::KeyState { state, .. } | Error::DataKeyState { state, .. } => {
                conflict("Rejected.StateModifiedFailed", state)
            }
            Error::DeletionProtected => Self::new(
                StatusCode::FORBIDDEN,
                "Forbidden.DeletionProtection",
                "The key is protected against deletion (SetDeletionProtection).",
            ),
            Error::EncryptFailed(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "Encryption failed.")
            }
            Error::RotateRateLimited(_)
            | Error::KeyLimitExceeded(_)
            | Error::DataKeyLimitExceeded(_)
            | Error::LimitExceeded(_) => Self::new(StatusCode::BAD_REQUEST, "Rejected.LimitExceeded", e.to_string()),
            Error::ExternalKeyCannotRotate => {
                Self::new(StatusCode::BAD_REQUEST, "Rejected.UnsupportedOperation", e.to_string())
            }
            Error::NotExternalKey => Self::new(StatusCode::BAD_REQUEST, "Unsupported.Origin", e.to_string()),
            Error::InvalidImportToken => Self::new(StatusCode::BAD_REQUEST, "InvalidImportToken", e.to_string()),
            Error::ImportTokenExpired => Self::new(StatusCode::BAD_REQUEST, "ExpiredImportToken", e.to_string()),
            Error::MaterialMismatch => Self::new(StatusCode::BAD_REQUEST, "InvalidKeyMaterial", e.to_string()),
            Error::Unsupported(what) => Self::unsupported(&what),
            Error::Busy(_) | Error::Sealed => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableTemporary", e.to_string())
            }
            Error::StoreUnavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableTemporary",
                    "The service is temporarily unavailable; retry the request.",
                )
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "An internal error occurred.")
            }
        }
    }
}
