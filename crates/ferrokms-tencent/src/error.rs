//! Tencent error codes. [`ApiError::from`] is the one table that maps domain errors to codes;
//! front-only failures (signature, action, region) are built by the constructors below.

use ferrokms_core::Error;
use ferrokms_core::error::StateNeed;
use ferrokms_core::model::KeyState;

/// An error as the Tencent API reports it: `Response.Error.{Code,Message}`, HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The error code, e.g. `ResourceUnavailable.CmkNotFound`.
    pub code: &'static str,
    /// A human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// `MissingParameter` for a field.
    pub fn missing(name: &str) -> Self {
        Self::new("MissingParameter", format!("The request is missing a required parameter `{name}`."))
    }

    /// `InvalidParameter`: a malformed field.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameter", message)
    }

    /// `InvalidParameterValue` for a field.
    pub fn invalid_value(name: &str, reason: &str) -> Self {
        Self::new("InvalidParameterValue", format!("The value of parameter `{name}` is invalid: {reason}."))
    }
}

fn key_state(state: KeyState, need: StateNeed) -> ApiError {
    let (code, what) = match (need, state) {
        (StateNeed::Usable | StateNeed::Decryptable, KeyState::Disabled) => {
            ("ResourceUnavailable.CmkDisabled", "disabled")
        }
        (
            StateNeed::Usable
            | StateNeed::Decryptable
            | StateNeed::NotPendingDelete
            | StateNeed::EnabledOrDisabled
            | StateNeed::Disabled,
            KeyState::PendingDelete,
        ) => ("ResourceUnavailable.KeyPendingDelete", "pending deletion"),
        (StateNeed::Usable, KeyState::Archived) => ("ResourceUnavailable.CmkArchived", "archived"),
        (StateNeed::Disabled, _) => ("ResourceUnavailable.CmkShouldBeDisabled", "not disabled"),
        (StateNeed::PendingDelete, _) => ("ResourceUnavailable.CmkNotPendingDelete", "not pending deletion"),
        (_, s) => ("ResourceUnavailable.CmkStateNotSupport", s.as_str()),
    };
    ApiError::new(code, format!("The CMK is {what}; its state does not allow this operation."))
}

fn data_key_state(state: KeyState, need: StateNeed) -> ApiError {
    let code = match (need, state) {
        (StateNeed::PendingDelete, _) => "ResourceUnavailable.DataKeyNotPendingDelete",
        (_, KeyState::PendingDelete) => "ResourceUnavailable.DataKeyPendingDelete",
        (StateNeed::Usable, KeyState::Disabled) => "ResourceUnavailable.DataKeyDisabled",
        _ => "ResourceUnavailable.DataKeyStateNotSupport",
    };
    ApiError::new(code, format!("The data key is {}; its state does not allow this operation.", state.as_str()))
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        let code = match e {
            Error::MissingParameter(name) => return Self::missing(name),
            Error::MalformedParameter { .. } => "InvalidParameter",
            Error::InvalidValue { .. } => "InvalidParameterValue",
            Error::CurveMismatch { .. } => "InvalidParameterValue",
            Error::InvalidKeyId(_) => "InvalidParameterValue.InvalidKeyId",
            Error::InvalidDataKeyId(_) => "InvalidParameterValue.InvalidDataKeyId",
            Error::InvalidAlias(_) => "InvalidParameterValue.InvalidAlias",
            Error::InvalidDataKeyName(_) => "InvalidParameterValue.InvalidDataKeyName",
            Error::InvalidPlaintext(_) => "InvalidParameterValue.InvalidPlaintext",
            Error::InvalidCiphertext => "InvalidParameterValue.InvalidCiphertext",
            Error::InvalidKeyUsage(_) => "InvalidParameterValue.InvalidKeyUsage",
            Error::InvalidHsmClusterId => "InvalidParameterValue.InvalidHsmClusterId",
            Error::InvalidPendingWindow { .. } => "InvalidParameter.InvalidPendingWindowInDays",
            Error::InvalidImportKeyMaterial(_) => "InvalidParameterValue.InvalidImportKeyMaterial",
            Error::DuplicateTagKeys => "InvalidParameterValue.TagKeysDuplicated",
            Error::DuplicateKeyId(_) => "InvalidParameterValue.DuplicatedKeyId",
            Error::DuplicateDataKeyId(_) => "InvalidParameterValue.DuplicatedDataKeyId",
            Error::AliasExists => "InvalidParameterValue.AliasAlreadyExists",
            Error::DataKeyNameExists => "InvalidParameterValue.DataKeyNameAlreadyExists",
            Error::KeyNotFound => "ResourceUnavailable.CmkNotFound",
            Error::DataKeyNotFound => "ResourceUnavailable.DataKeyNotFound",
            // Alibaba-only notions, should a Tencent request ever meet them.
            Error::AliasNotFound => "ResourceNotFound",
            Error::KeyVersionNotFound => "ResourceNotFound",
            Error::DeletionProtected => "FailedOperation",
            Error::LimitExceeded(_) => "LimitExceeded",
            Error::Busy(_) => "RequestLimitExceeded",
            Error::Sealed => "ResourceUnavailable",
            Error::KeyState { state, need } => return key_state(state, need),
            Error::DataKeyState { state, need } => return data_key_state(state, need),
            Error::DecryptFailed => "FailedOperation.DecryptError",
            Error::EncryptFailed(_) => "FailedOperation.EncryptionError",
            Error::RotateRateLimited(_) => "RequestLimitExceeded.RotateRateLimited",
            Error::ExternalKeyCannotRotate => "UnsupportedOperation.ExternalCmkCanNotRotate",
            Error::NotExternalKey => "UnsupportedOperation.NotExternalCmk",
            Error::InvalidImportToken => "InvalidParameterValue",
            Error::ImportTokenExpired => "ResourceUnavailable.TokenExpired",
            Error::MaterialMismatch => "InvalidParameterValue.MaterialNotMatch",
            Error::Unsupported(_) => "UnsupportedOperation",
            Error::KeyLimitExceeded(_) => "LimitExceeded.CmkLimitExceeded",
            Error::DataKeyLimitExceeded(_) => "LimitExceeded.DataKeyLimitExceeded",
            // Retryable: the SDKs' callers retry InternalError.
            Error::StoreUnavailable(detail) => {
                tracing::warn!(%detail, "store unavailable");
                return Self::new("InternalError", "The service is temporarily unavailable; retry the request.");
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                return Self::new("InternalError", "An internal error occurred; the request was not completed.");
            }
        };
        Self::new(code, message)
    }
}
