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
use std::sync::OnceLock;
use uuid::Uuid;

use crate::answer::Answer;
use crate::error::ApiError;

/// What a handler sees.
pub(crate) struct Ctx<'a> {
    pub(crate) kms: &'a Kms,
    pub(crate) scope: Scope,
    /// The key (and version) the action resolved, for the audit record.
    pub(crate) key: OnceLock<(Uuid, Option<u32>)>,
}

impl Ctx<'_> {
    /// Notes the key the action used, for the audit record.
    pub(crate) fn used_key(&self, id: Uuid, version: Option<u32>) {
        let _ = self.key.set((id, version));
    }

    /// The `HsmClusterId` of every key: the token label of the HSM holding the root key, or
    /// empty when the root key is not in an HSM (docs/compatibility.md).
    pub(crate) fn hsm_cluster(&self) -> String {
        self.kms.hsm_cluster().unwrap_or_default()
    }

    /// An `HsmClusterId` parameter: empty, or the HSM holding the root key (every key is
    /// there); anything else is `InvalidParameterValue.InvalidHsmClusterId`.
    pub(crate) fn check_hsm_cluster(&self, value: &Option<String>) -> Result<(), ApiError> {
        match value.as_deref() {
            None | Some("") => Ok(()),
            Some(id) if self.names_hsm_cluster(id) => Ok(()),
            Some(_) => Err(ferrokms_core::Error::InvalidHsmClusterId.into()),
        }
    }

    /// Whether a listing's `HsmClusterId` filter takes every key: empty, `default` (shared
    /// edition: where keys are without an exclusive cluster) or the HSM holding the root key.
    pub(crate) fn lists_all_clusters(&self, value: &Option<String>) -> bool {
        match value.as_deref() {
            None | Some("") | Some("default") => true,
            Some(id) => self.names_hsm_cluster(id),
        }
    }

    fn names_hsm_cluster(&self, id: &str) -> bool {
        self.kms.hsm_cluster().is_some_and(|hsm| hsm == id)
    }
}

/// The `KeyId` of an answer, if it names one (the actions that answer a JSON value).
fn answered_key(ctx: &Ctx<'_>, v: &Value) -> Option<()> {
    let id = v.get("KeyId").or_else(|| v.get("KeyMetadata")?.get("KeyId"))?.as_str()?.parse().ok()?;
    ctx.used_key(id, None);
    Some(())
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

/// Runs `action`; `None` if ferrokms does not implement it. The hot actions answer their own
/// types; the others a JSON value.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, action: &str, body: &[u8]) -> Option<Answered> {
    let out = match action {
        "Encrypt" => crypto::encrypt(ctx, body).await,
        "Decrypt" => crypto::decrypt(ctx, body).await,
        "GenerateDataKey" => datakey::generate_data_key(ctx, body).await,
        _ => {
            return dispatch_value(ctx, action, body).await.map(|out| {
                out.map(|v| {
                    answered_key(ctx, &v);
                    Answer::from(v)
                })
            });
        }
    };
    Some(out)
}

async fn dispatch_value(ctx: &Ctx<'_>, action: &str, body: &[u8]) -> Option<Outcome> {
    let out = match action {
        "GetServiceStatus" => service::get_service_status(ctx, body).await,
        "GetRegions" => service::get_regions(ctx, body),
        "ListAlgorithms" => service::list_algorithms(ctx, body),
        "CreateKey" => keys::create_key(ctx, body).await,
        "DescribeKey" => keys::describe_key(ctx, body).await,
        "DescribeKeys" => keys::describe_keys(ctx, body).await,
        "ListKeys" => keys::list_keys(ctx, body).await,
        "ListKeyDetail" => keys::list_key_detail(ctx, body).await,
        "EnableKey" => keys::enable_key(ctx, body, true).await,
        "DisableKey" => keys::enable_key(ctx, body, false).await,
        "EnableKeys" => keys::enable_keys(ctx, body, true).await,
        "DisableKeys" => keys::enable_keys(ctx, body, false).await,
        "ScheduleKeyDeletion" => keys::schedule_key_deletion(ctx, body).await,
        "CancelKeyDeletion" => keys::cancel_key_deletion(ctx, body).await,
        "ArchiveKey" => keys::archive_key(ctx, body, true).await,
        "CancelKeyArchive" => keys::archive_key(ctx, body, false).await,
        "UpdateAlias" => keys::update_alias(ctx, body).await,
        "UpdateKeyDescription" => keys::update_key_description(ctx, body).await,
        "BindCloudResource" => keys::bind_cloud_resource(ctx, body, true).await,
        "UnbindCloudResource" => keys::bind_cloud_resource(ctx, body, false).await,
        "ReEncrypt" => crypto::re_encrypt(ctx, body).await,
        "GenerateRandom" => crypto::generate_random(ctx, body),
        "ImportDataKey" => hosted::import_data_key(ctx, body).await,
        "DescribeDataKey" => hosted::describe_data_key(ctx, body).await,
        "DescribeDataKeys" => hosted::describe_data_keys(ctx, body).await,
        "ListDataKeys" => hosted::list_data_keys(ctx, body).await,
        "ListDataKeyDetail" => hosted::list_data_key_detail(ctx, body).await,
        "GetDataKeyPlaintext" => hosted::get_data_key_plaintext(ctx, body).await,
        "GetDataKeyCiphertextBlob" => hosted::get_data_key_ciphertext_blob(ctx, body).await,
        "EnableDataKey" => hosted::enable_data_key(ctx, body, true).await,
        "DisableDataKey" => hosted::enable_data_key(ctx, body, false).await,
        "EnableDataKeys" => hosted::enable_data_keys(ctx, body, true).await,
        "DisableDataKeys" => hosted::enable_data_keys(ctx, body, false).await,
        "ScheduleDataKeyDeletion" => hosted::schedule_data_key_deletion(ctx, body).await,
        "CancelDataKeyDeletion" => hosted::cancel_data_key_deletion(ctx, body).await,
        "UpdateDataKeyName" => hosted::update_data_key_name(ctx, body).await,
        "UpdateDataKeyDescription" => hosted::update_data_key_description(ctx, body).await,
        "EnableKeyRotation" => rotation::enable_key_rotation(ctx, body).await,
        "DisableKeyRotation" => rotation::disable_key_rotation(ctx, body).await,
        "GetKeyRotationStatus" => rotation::get_key_rotation_status(ctx, body).await,
        "RotateKey" => rotation::rotate_key(ctx, body).await,
        "GetPublicKey" => asymmetric::get_public_key(ctx, body).await,
        "AsymmetricRsaDecrypt" => asymmetric::asymmetric_rsa_decrypt(ctx, body).await,
        "AsymmetricSm2Decrypt" => asymmetric::asymmetric_sm2_decrypt(ctx, body).await,
        "SignByAsymmetricKey" => asymmetric::sign(ctx, body).await,
        "VerifyByAsymmetricKey" => asymmetric::verify(ctx, body).await,
        "GetParametersForImport" => import::get_parameters_for_import(ctx, body).await,
        "ImportKeyMaterial" => import::import_key_material(ctx, body).await,
        "DeleteImportedKeyMaterial" => import::delete_imported_key_material(ctx, body).await,
        "PostQuantumCryptoEncrypt" => pq::encrypt(ctx, body).await,
        "PostQuantumCryptoDecrypt" => pq::decrypt(ctx, body).await,
        "PostQuantumCryptoSign" => pq::sign(ctx, body).await,
        "PostQuantumCryptoVerify" => pq::verify(ctx, body).await,
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
