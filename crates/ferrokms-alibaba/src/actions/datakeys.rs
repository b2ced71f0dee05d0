//! GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateAndExportDataKey, ExportDataKey
//! (spec section 11: key, then key state, then parameters, then DryRun, then the work).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::keyspec::EncryptionAlgorithm;
use ferrokms_core::model::PayloadKind;
use ferrokms_core::service::{CallerKey, GenerateDataKey, PublicKeyWrap};
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::request::{Ctx, Outcome, object};

/// Data key length: NumberOfBytes (1-1024) wins over KeySpec (AES_256, default, or AES_128).
fn data_key_len(ctx: &Ctx<'_>) -> Result<usize, ApiError> {
    if let Some(n) = ctx.int("NumberOfBytes", 1..=1024)? {
        return Ok(usize::try_from(n).unwrap_or(0));
    }
    match ctx.opt("KeySpec") {
        None | Some("AES_256") => Ok(32),
        Some("AES_128") => Ok(16),
        Some(_) => Err(ApiError::invalid("KeySpec", "must be AES_256 or AES_128")),
    }
}

/// PublicKeyBlob + WrappingKeySpec + WrappingAlgorithm, checked against the table of spec
/// section 11: RSA_2048 with RSAES_OAEP_SHA_256 / RSAES_OAEP_SHA_1, EC_SM2 with SM2PKE.
fn wrapping(ctx: &Ctx<'_>, len: usize) -> Result<PublicKeyWrap, ApiError> {
    let spec = ctx.req("WrappingKeySpec")?;
    let algorithm = ctx.req("WrappingAlgorithm")?;
    let blob = ctx.req("PublicKeyBlob")?;
    let alg = match (spec, algorithm) {
        ("RSA_2048", "RSAES_OAEP_SHA_256") => EncryptionAlgorithm::RsaOaepSha256,
        ("RSA_2048", "RSAES_OAEP_SHA_1") => EncryptionAlgorithm::RsaOaepSha1,
        ("EC_SM2", "SM2PKE") => EncryptionAlgorithm::Sm2Der,
        ("RSA_2048" | "EC_SM2", _) => {
            return Err(ApiError::invalid("WrappingAlgorithm", "not valid with this WrappingKeySpec"));
        }
        _ => return Err(ApiError::invalid("WrappingKeySpec", "must be RSA_2048 or EC_SM2")),
    };
    let der = STANDARD.decode(blob.trim()).map_err(|_| ApiError::invalid("PublicKeyBlob", "not base64"))?;
    let wrap = PublicKeyWrap::parse(None, Some(&der), alg)
        .filter(|w| w.kind() == if spec == "RSA_2048" { CallerKey::Rsa(2048) } else { CallerKey::Sm2 })
        .ok_or_else(|| {
            ApiError::invalid("PublicKeyBlob", &format!("not a DER SubjectPublicKeyInfo of a {spec} key"))
        })?;
    wrap.check_capacity("NumberOfBytes", len)
        .map_err(|_| ApiError::invalid("NumberOfBytes", "the data key is longer than the public key can encrypt"))?;
    Ok(wrap)
}

pub(super) async fn generate_data_key(ctx: &Ctx<'_>, with_plaintext: bool) -> Outcome {
    let id = ctx.key("KeyId").await?;
    ctx.kms.require_usable_key(&ctx.scope, id).await?;
    if ctx.opt("Recipient").is_some() {
        return Err(ApiError::unsupported("Recipient (TEE attestation)"));
    }
    let len = data_key_len(ctx)?;
    let context = ctx.context("EncryptionContext")?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    let out = ctx
        .kms
        .generate_data_key(&ctx.scope, GenerateDataKey { key_id: id, len, context, wrap: None, hosted: None })
        .await?;
    let version_id = out.key_version_id;
    let mut body = json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "KeyId": id.to_string(),
        "KeyVersionId": version_id.to_string(),
    });
    if with_plaintext {
        body["Plaintext"] = json!(STANDARD.encode(&*out.plaintext));
    }
    object(body)
}

pub(super) async fn generate_and_export_data_key(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    ctx.kms.require_usable_key(&ctx.scope, id).await?;
    let len = data_key_len(ctx)?;
    let wrap = wrapping(ctx, len)?;
    let context = ctx.context("EncryptionContext")?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    let req = GenerateDataKey { key_id: id, len, context, wrap: Some(wrap), hosted: None };
    let out = ctx.kms.generate_data_key(&ctx.scope, req).await?;
    let version_id = out.key_version_id;
    object(json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "ExportedDataKey": STANDARD.encode(&*out.plaintext),
        "KeyId": id.to_string(),
        "KeyVersionId": version_id.to_string(),
    }))
}

pub(super) async fn export_data_key(ctx: &Ctx<'_>) -> Outcome {
    let raw = super::crypto::blob(ctx)?;
    let context = ctx.context("EncryptionContext")?;
    let opened = ctx.kms.decrypt(&ctx.scope, &raw, &context).await?;
    // A blob of Encrypt holds the base64 text of a key; GenerateDataKey's holds the bytes.
    let key_bytes = match opened.payload {
        PayloadKind::Bytes => Zeroizing::new(opened.plaintext.to_vec()),
        PayloadKind::Text => Zeroizing::new(
            STANDARD
                .decode(opened.plaintext.as_slice())
                .map_err(|_| ApiError::invalid("CiphertextBlob", "does not hold a data key (base64)"))?,
        ),
    };
    let wrap = wrapping(ctx, key_bytes.len())?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    let exported = wrap.encrypt(&key_bytes)?;
    object(json!({
        "ExportedDataKey": STANDARD.encode(exported),
        "KeyId": opened.key.id.to_string(),
        "KeyVersionId": opened.version_id.to_string(),
    }))
}
