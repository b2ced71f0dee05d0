//! PostQuantumCryptoEncrypt, PostQuantumCryptoDecrypt (ML-KEM-768 + AES-256-GCM, Tencent's
//! Kyber_AES), PostQuantumCryptoSign and PostQuantumCryptoVerify (ML-DSA-65, Tencent's
//! Dilithium). Note the `PlainText` spelling of these actions.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::context::EncryptionContext;
use ferrokms_core::model::PayloadKind;
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::asymmetric::base64_field;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::request::{decode, key_id, public_key_wrap, required_str};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptIn {
    key_id: Option<String>,
    plain_text: Option<String>,
}

pub(super) async fn encrypt(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: EncryptIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let text = required_str(&r.plain_text, "PlainText")?;
    let plaintext = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| ferrokms_core::Error::InvalidPlaintext("PlainText must be base64".into()))?,
    );
    let none = EncryptionContext::default();
    let out = ctx.kms.pq_encrypt(&ctx.scope, id, &plaintext, PayloadKind::Bytes, &none).await?;
    Ok(json!({ "CiphertextBlob": STANDARD.encode(&out.blob), "KeyId": out.key.id.to_string() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptIn {
    ciphertext_blob: Option<String>,
    encryption_public_key: Option<String>,
    encryption_algorithm: Option<String>,
}

pub(super) async fn decrypt(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DecryptIn = decode(body)?;
    let text = required_str(&r.ciphertext_blob, "CiphertextBlob")?;
    let blob = STANDARD.decode(text.trim()).map_err(|_| ApiError::from(ferrokms_core::Error::InvalidCiphertext))?;
    let wrap = public_key_wrap(&r.encryption_public_key, &r.encryption_algorithm)?;
    let out = ctx.kms.pq_decrypt(&ctx.scope, &blob, &EncryptionContext::default()).await?;
    let plaintext = match &wrap {
        Some(w) => {
            w.check_capacity("EncryptionPublicKey", out.plaintext.len())?;
            Zeroizing::new(w.encrypt(&out.plaintext)?)
        }
        None => out.plaintext,
    };
    Ok(json!({ "KeyId": out.key.id.to_string(), "PlainText": STANDARD.encode(&*plaintext) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignIn {
    message: Option<String>,
    key_id: Option<String>,
}

pub(super) async fn sign(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: SignIn = decode(body)?;
    let message = Zeroizing::new(base64_field(&r.message, "Message")?);
    let id = key_id(&r.key_id)?;
    let (_, signature) = ctx.kms.pq_sign(&ctx.scope, id, &message).await?;
    Ok(json!({ "Signature": STANDARD.encode(&signature) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyIn {
    key_id: Option<String>,
    signature_value: Option<String>,
    message: Option<String>,
}

pub(super) async fn verify(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: VerifyIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let message = Zeroizing::new(base64_field(&r.message, "Message")?);
    let signature = base64_field(&r.signature_value, "SignatureValue")?;
    let (_, valid) = ctx.kms.pq_verify(&ctx.scope, id, &message, &signature).await?;
    Ok(json!({ "SignatureValid": valid }))
}
