//! GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial (EXTERNAL keys).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::Error;
use ferrokms_core::keyspec::{EncryptionAlgorithm, KeySpec};
use ferrokms_core::service::ImportWrapping;
use serde_json::json;

use crate::error::ApiError;
use crate::render::iso;
use crate::request::{Ctx, Outcome, object, ok};

pub(super) async fn get_parameters_for_import(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let spec = match ctx.req("WrappingKeySpec")? {
        "RSA_2048" => KeySpec::Rsa2048,
        "EC_SM2" => KeySpec::EcSm2,
        _ => return Err(ApiError::invalid("WrappingKeySpec", "must be RSA_2048 or EC_SM2")),
    };
    let algorithm = match (spec, ctx.req("WrappingAlgorithm")?) {
        (KeySpec::Rsa2048, "RSAES_PKCS1_V1_5") => EncryptionAlgorithm::RsaPkcs1V15,
        (KeySpec::Rsa2048, "RSAES_OAEP_SHA_1") => EncryptionAlgorithm::RsaOaepSha1,
        (KeySpec::Rsa2048, "RSAES_OAEP_SHA_256") => EncryptionAlgorithm::RsaOaepSha256,
        (KeySpec::EcSm2, "SM2PKE") => EncryptionAlgorithm::Sm2Der,
        _ => return Err(ApiError::invalid("WrappingAlgorithm", "not valid with this WrappingKeySpec")),
    };
    let p = ctx.kms.get_parameters_for_import(&ctx.scope, id, ImportWrapping { spec, algorithm }).await?;
    object(json!({
        "KeyId": id.to_string(),
        "ImportToken": STANDARD.encode(&p.token),
        "PublicKey": STANDARD.encode(&p.public_key),
        "TokenExpireTime": iso(p.expires_at),
    }))
}

pub(super) async fn import_key_material(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let wrapped = STANDARD
        .decode(ctx.req("EncryptedKeyMaterial")?.trim())
        .map_err(|_| ApiError::invalid("EncryptedKeyMaterial", "must be base64"))?;
    let token =
        STANDARD.decode(ctx.req("ImportToken")?.trim()).map_err(|_| ApiError::from(Error::InvalidImportToken))?;
    let expires = ctx.int("KeyMaterialExpireUnix", 0..=u64::MAX)?.unwrap_or(0);
    ctx.kms.import_key_material(&ctx.scope, id, &token, &wrapped, expires).await?;
    ok()
}

pub(super) async fn delete_key_material(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    ctx.kms.delete_imported_key_material(&ctx.scope, id).await?;
    ok()
}
