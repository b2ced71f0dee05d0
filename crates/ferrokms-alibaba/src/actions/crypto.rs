//! Encrypt, Decrypt, ReEncrypt.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::Error;
use ferrokms_core::model::PayloadKind;
use serde_json::json;

use crate::error::ApiError;
use crate::request::{Ctx, Outcome, object};

/// Largest Encrypt plaintext.
const MAX_PLAINTEXT: usize = 6144;

/// A CiphertextBlob; anything that is not base64 is not a ciphertext.
pub(super) fn blob(ctx: &Ctx<'_>) -> Result<Vec<u8>, ApiError> {
    STANDARD.decode(ctx.req("CiphertextBlob")?.trim()).map_err(|_| Error::InvalidCiphertext.into())
}

/// What Decrypt returns: the string Encrypt was given, or base64 of sealed bytes.
pub(super) fn plaintext_text(payload: PayloadKind, bytes: &[u8]) -> String {
    match payload {
        PayloadKind::Text => String::from_utf8_lossy(bytes).into_owned(),
        PayloadKind::Bytes => STANDARD.encode(bytes),
    }
}

pub(super) async fn encrypt(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    ctx.kms.require_usable_key(&ctx.scope, id).await?;
    let plaintext = ctx.req("Plaintext")?;
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(ApiError::invalid("Plaintext", "at most 6144 bytes"));
    }
    let context = ctx.context("EncryptionContext")?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    // Sealed verbatim, so Decrypt gives back exactly the string (spec section 12).
    let out = ctx.kms.encrypt(&ctx.scope, id, plaintext.as_bytes(), PayloadKind::Text, &context).await?;
    object(json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "KeyId": out.key.id.to_string(),
        "KeyVersionId": out.version_id.to_string(),
    }))
}

pub(super) async fn decrypt(ctx: &Ctx<'_>) -> Outcome {
    if ctx.opt("Recipient").is_some() {
        return Err(ApiError::unsupported("Recipient (TEE attestation)"));
    }
    let raw = blob(ctx)?;
    let context = ctx.context("EncryptionContext")?;
    if ctx.dry_run()? {
        ctx.kms.decrypt(&ctx.scope, &raw, &context).await?;
        return Err(ApiError::dry_run());
    }
    let out = ctx.kms.decrypt(&ctx.scope, &raw, &context).await?;
    object(json!({
        "KeyId": out.key.id.to_string(),
        "KeyVersionId": out.version_id.to_string(),
        "Plaintext": plaintext_text(out.payload, &out.plaintext),
    }))
}

pub(super) async fn re_encrypt(ctx: &Ctx<'_>) -> Outcome {
    if ctx.opt("SourceKeyId").is_some()
        || ctx.opt("SourceKeyVersionId").is_some()
        || ctx.opt("SourceEncryptionAlgorithm").is_some()
    {
        return super::asymmetric::re_encrypt_exported(ctx).await;
    }
    let raw = blob(ctx)?;
    let destination = ctx.key("DestinationKeyId").await?;
    let source = ctx.context("SourceEncryptionContext")?;
    let target = ctx.context("DestinationEncryptionContext")?;
    if ctx.dry_run()? {
        ctx.kms.decrypt(&ctx.scope, &raw, &source).await?;
        ctx.kms.require_usable_key(&ctx.scope, destination).await?;
        return Err(ApiError::dry_run());
    }
    let out = ctx.kms.re_encrypt(&ctx.scope, &raw, &source, Some(destination), &target).await?;
    object(json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "KeyId": out.key.id.to_string(),
        "KeyVersionId": out.version_id.to_string(),
    }))
}
