//! GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial (EXTERNAL keys).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::keyspec::{EncryptionAlgorithm, KeySpec};
use ferrokms_core::service::ImportWrapping;
use serde::Deserialize;
use serde_json::json;

use super::asymmetric::base64_field;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::request::{decode, key_id, required_str};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParametersIn {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

pub(super) async fn get_parameters_for_import(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ParametersIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let algorithm = match required_str(&r.wrapping_algorithm, "WrappingAlgorithm")? {
        "RSAES_PKCS1_V1_5" => EncryptionAlgorithm::RsaPkcs1V15,
        "RSAES_OAEP_SHA_1" => EncryptionAlgorithm::RsaOaepSha1,
        "RSAES_OAEP_SHA_256" => EncryptionAlgorithm::RsaOaepSha256,
        _ => {
            return Err(ApiError::invalid_value(
                "WrappingAlgorithm",
                "expected RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256",
            ));
        }
    };
    if required_str(&r.wrapping_key_spec, "WrappingKeySpec")? != "RSA_2048" {
        return Err(ApiError::invalid_value("WrappingKeySpec", "only RSA_2048"));
    }
    let wrapping = ImportWrapping { spec: KeySpec::Rsa2048, algorithm };
    let p = ctx.kms.get_parameters_for_import(&ctx.scope, id, wrapping).await?;
    Ok(json!({
        "KeyId": id.to_string(),
        "ImportToken": STANDARD.encode(&p.token),
        "PublicKey": STANDARD.encode(&p.public_key),
        "ParametersValidTo": p.expires_at,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportIn {
    encrypted_key_material: Option<String>,
    import_token: Option<String>,
    key_id: Option<String>,
    valid_to: Option<u64>,
}

pub(super) async fn import_key_material(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ImportIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let wrapped = base64_field(&r.encrypted_key_material, "EncryptedKeyMaterial")?;
    let token = STANDARD
        .decode(required_str(&r.import_token, "ImportToken")?.trim())
        .map_err(|_| ApiError::from(ferrokms_core::Error::InvalidImportToken))?;
    ctx.kms.import_key_material(&ctx.scope, id, &token, &wrapped, r.valid_to.unwrap_or(0)).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdIn {
    key_id: Option<String>,
}

pub(super) async fn delete_imported_key_material(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    ctx.kms.delete_imported_key_material(&ctx.scope, key_id(&r.key_id)?).await?;
    Ok(json!({}))
}
