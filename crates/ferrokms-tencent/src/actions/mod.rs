//! The action table: every action of the 2019-01-18 API, and the handler of each one ferrokms
//! implements. An action of the API without a handler answers `UnsupportedOperation`.

mod asymmetric;
mod crypto;
mod datakey;
mod hosted;
mod import;
mod keys;
mod pq;
mod rotation;
mod service;

use ferrokms_core::model::Scope;
use ferrokms_core::service::Kms;
use serde_json::Value;

use crate::answer::Answer;
use crate::error::ApiError;

/// What a handler sees.
pub(crate) struct Ctx<'a> {
    pub(crate) kms: &'a Kms,
    pub(crate) scope: Scope,
}

pub(crate) type Outcome = Result<Value, ApiError>;

/// What the hot actions answer: their own types, serialized in place.
pub(crate) type Answered = Result<Answer, ApiError>;

/// Every action of the Tencent KMS 2019-01-18 API (69).
pub const ALL_ACTIONS: &[&str] = &[
    "GetServiceStatus",
    "GetRegions",
    "ListAlgorithms",
    "CreateKey",
    "DescribeKey",
    "DescribeKeys",
    "ListKeys",
    "ListKeyDetail",
    "EnableKey",
    "DisableKey",
    "EnableKeys",
    "DisableKeys",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "ArchiveKey",
    "CancelKeyArchive",
    "UpdateAlias",
    "UpdateKeyDescription",
    "BindCloudResource",
    "UnbindCloudResource",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateRandom",
    "GenerateDataKey",
    "ImportDataKey",
    "DescribeDataKey",
    "DescribeDataKeys",
    "ListDataKeys",
    "ListDataKeyDetail",
    "GetDataKeyPlaintext",
    "GetDataKeyCiphertextBlob",
    "EnableDataKey",
    "DisableDataKey",
    "EnableDataKeys",
    "DisableDataKeys",
    "ScheduleDataKeyDeletion",
    "CancelDataKeyDeletion",
    "UpdateDataKeyName",
    "UpdateDataKeyDescription",
    "GetPublicKey",
    "AsymmetricRsaDecrypt",
    "AsymmetricSm2Decrypt",
    "SignByAsymmetricKey",
    "VerifyByAsymmetricKey",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKey",
    "DescribeWhiteBoxServiceStatus",
    "CreateWhiteBoxKey",
    "DeleteWhiteBoxKey",
    "DescribeWhiteBoxKey",
    "DescribeWhiteBoxKeyDetails",
    "DescribeWhiteBoxDecryptKey",
    "EnableWhiteBoxKey",
    "DisableWhiteBoxKey",
    "EnableWhiteBoxKeys",
    "DisableWhiteBoxKeys",
    "EncryptByWhiteBox",
    "DescribeWhiteBoxDeviceFingerprints",
    "OverwriteWhiteBoxDeviceFingerprints",
    "PostQuantumCryptoEncrypt",
    "PostQuantumCryptoDecrypt",
    "PostQuantumCryptoSign",
    "PostQuantumCryptoVerify",
];

/// Actions that change nothing and answer only metadata (no key material, no ciphertext, no
/// plaintext): a signature first seen with another action may still be used for one of these
/// (see `TencentApi::bind_signature`).
const METADATA_READS: &[&str] = &[
    "GetServiceStatus",
    "GetRegions",
    "ListAlgorithms",
    "DescribeKey",
    "DescribeKeys",
    "ListKeys",
    "ListKeyDetail",
    "DescribeDataKey",
    "DescribeDataKeys",
    "ListDataKeys",
    "ListDataKeyDetail",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "DescribeWhiteBoxServiceStatus",
    "DescribeWhiteBoxKey",
    "DescribeWhiteBoxKeyDetails",
    "DescribeWhiteBoxDeviceFingerprints",
];

/// Whether `action` only reads metadata.
pub fn is_metadata_read(action: &str) -> bool {
    METADATA_READS.contains(&action)
}

/// The static name of an action of the API, if it is one.
pub fn lookup(action: &str) -> Option<&'static str> {
    ALL_ACTIONS.iter().copied().find(|a| *a == action)
}

/// Runs `action`; `None` if ferrokms does not implement it.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, action: &str, body: &[u8]) -> Option<Answered> {
    let out = match action {
        "GetServiceStatus" => service::get_service_status(ctx, body).await.map(Answer::from),
        "GetRegions" => service::get_regions(ctx, body).map(Answer::from),
        "ListAlgorithms" => service::list_algorithms(ctx, body).map(Answer::from),
        "CreateKey" => keys::create_key(ctx, body).await.map(Answer::from),
        "DescribeKey" => keys::describe_key(ctx, body).await.map(Answer::from),
        "DescribeKeys" => keys::describe_keys(ctx, body).await.map(Answer::from),
        "ListKeys" => keys::list_keys(ctx, body).await.map(Answer::from),
        "ListKeyDetail" => keys::list_key_detail(ctx, body).await.map(Answer::from),
        "EnableKey" => keys::enable_key(ctx, body, true).await.map(Answer::from),
        "DisableKey" => keys::enable_key(ctx, body, false).await.map(Answer::from),
        "EnableKeys" => keys::enable_keys(ctx, body, true).await.map(Answer::from),
        "DisableKeys" => keys::enable_keys(ctx, body, false).await.map(Answer::from),
        "ScheduleKeyDeletion" => keys::schedule_key_deletion(ctx, body).await.map(Answer::from),
        "CancelKeyDeletion" => keys::cancel_key_deletion(ctx, body).await.map(Answer::from),
        "ArchiveKey" => keys::archive_key(ctx, body, true).await.map(Answer::from),
        "CancelKeyArchive" => keys::archive_key(ctx, body, false).await.map(Answer::from),
        "UpdateAlias" => keys::update_alias(ctx, body).await.map(Answer::from),
        "UpdateKeyDescription" => keys::update_key_description(ctx, body).await.map(Answer::from),
        "BindCloudResource" => keys::bind_cloud_resource(ctx, body, true).await.map(Answer::from),
        "UnbindCloudResource" => keys::bind_cloud_resource(ctx, body, false).await.map(Answer::from),
        "Encrypt" => crypto::encrypt(ctx, body).await,
        "Decrypt" => crypto::decrypt(ctx, body).await,
        "ReEncrypt" => crypto::re_encrypt(ctx, body).await.map(Answer::from),
        "GenerateRandom" => crypto::generate_random(ctx, body).map(Answer::from),
        "GenerateDataKey" => datakey::generate_data_key(ctx, body).await,
        "ImportDataKey" => hosted::import_data_key(ctx, body).await.map(Answer::from),
        "DescribeDataKey" => hosted::describe_data_key(ctx, body).await.map(Answer::from),
        "DescribeDataKeys" => hosted::describe_data_keys(ctx, body).await.map(Answer::from),
        "ListDataKeys" => hosted::list_data_keys(ctx, body).await.map(Answer::from),
        "ListDataKeyDetail" => hosted::list_data_key_detail(ctx, body).await.map(Answer::from),
        "GetDataKeyPlaintext" => hosted::get_data_key_plaintext(ctx, body).await.map(Answer::from),
        "GetDataKeyCiphertextBlob" => hosted::get_data_key_ciphertext_blob(ctx, body).await.map(Answer::from),
        "EnableDataKey" => hosted::enable_data_key(ctx, body, true).await.map(Answer::from),
        "DisableDataKey" => hosted::enable_data_key(ctx, body, false).await.map(Answer::from),
        "EnableDataKeys" => hosted::enable_data_keys(ctx, body, true).await.map(Answer::from),
        "DisableDataKeys" => hosted::enable_data_keys(ctx, body, false).await.map(Answer::from),
        "ScheduleDataKeyDeletion" => hosted::schedule_data_key_deletion(ctx, body).await.map(Answer::from),
        "CancelDataKeyDeletion" => hosted::cancel_data_key_deletion(ctx, body).await.map(Answer::from),
        "UpdateDataKeyName" => hosted::update_data_key_name(ctx, body).await.map(Answer::from),
        "UpdateDataKeyDescription" => hosted::update_data_key_description(ctx, body).await.map(Answer::from),
        "EnableKeyRotation" => rotation::enable_key_rotation(ctx, body).await.map(Answer::from),
        "DisableKeyRotation" => rotation::disable_key_rotation(ctx, body).await.map(Answer::from),
        "GetKeyRotationStatus" => rotation::get_key_rotation_status(ctx, body).await.map(Answer::from),
        "RotateKey" => rotation::rotate_key(ctx, body).await.map(Answer::from),
        "GetPublicKey" => asymmetric::get_public_key(ctx, body).await.map(Answer::from),
        "AsymmetricRsaDecrypt" => asymmetric::asymmetric_rsa_decrypt(ctx, body).await.map(Answer::from),
        "AsymmetricSm2Decrypt" => asymmetric::asymmetric_sm2_decrypt(ctx, body).await.map(Answer::from),
        "SignByAsymmetricKey" => asymmetric::sign(ctx, body).await.map(Answer::from),
        "VerifyByAsymmetricKey" => asymmetric::verify(ctx, body).await.map(Answer::from),
        "GetParametersForImport" => import::get_parameters_for_import(ctx, body).await.map(Answer::from),
        "ImportKeyMaterial" => import::import_key_material(ctx, body).await.map(Answer::from),
        "DeleteImportedKeyMaterial" => import::delete_imported_key_material(ctx, body).await.map(Answer::from),
        "PostQuantumCryptoEncrypt" => pq::encrypt(ctx, body).await.map(Answer::from),
        "PostQuantumCryptoDecrypt" => pq::decrypt(ctx, body).await.map(Answer::from),
        "PostQuantumCryptoSign" => pq::sign(ctx, body).await.map(Answer::from),
        "PostQuantumCryptoVerify" => pq::verify(ctx, body).await.map(Answer::from),
        _ => return None,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_are_actions_of_the_api() {
        for a in METADATA_READS {
            assert!(lookup(a).is_some(), "{a}");
        }
        assert!(is_metadata_read("DescribeKey"));
        for writes_or_secrets in ["DisableKey", "CreateKey", "GenerateDataKey", "GetDataKeyPlaintext", "Decrypt"] {
            assert!(!is_metadata_read(writes_or_secrets), "{writes_or_secrets}");
        }
    }
}
