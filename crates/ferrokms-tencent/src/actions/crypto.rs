//! Encrypt, Decrypt, ReEncrypt, GenerateRandom.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::Error;
use ferrokms_core::model::PayloadKind;
use ferrokms_core::model::parse_key_id;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Answered, Ctx, Outcome};
use crate::answer::{Answer, Base64, Shown};
use crate::error::ApiError;
use crate::request::{context, decode, key_id, public_key_wrap, required, required_str};

/// Largest Encrypt plaintext, decoded.
const MAX_PLAINTEXT: usize = 4096;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptIn {
    key_id: Option<String>,
    plaintext: Option<String>,
    encryption_context: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptOut<'a> {
    ciphertext_blob: Base64<'a>,
    key_id: Shown<Uuid>,
}

pub(super) async fn encrypt(ctx: &Ctx<'_>, body: &[u8]) -> Answered {
    let r: EncryptIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let text = required(r.plaintext.as_deref(), "Plaintext")?;
    let plaintext = Zeroizing::new(
        STANDARD.decode(text.trim()).map_err(|_| Error::InvalidPlaintext("Plaintext must be base64".into()))?,
    );
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(Error::InvalidPlaintext(format!("at most {MAX_PLAINTEXT} bytes before base64")).into());
    }
    let context = context(&r.encryption_context, "EncryptionContext")?;
    let out = ctx.kms.encrypt(&ctx.scope, id, &plaintext, PayloadKind::Bytes, &context).await?;
    ctx.used_key(out.key.id, None);
    Ok(Answer::of(&EncryptOut { ciphertext_blob: Base64(&out.blob), key_id: Shown(out.key.id) }))
}

/// Decodes a CiphertextBlob; anything that is not base64 is not a ciphertext.
fn blob(text: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD.decode(text.trim()).map_err(|_| Error::InvalidCiphertext.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptIn {
    ciphertext_blob: Option<String>,
    encryption_context: Option<String>,
    encryption_public_key: Option<String>,
    encryption_algorithm: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptOut<'a> {
    key_id: Shown<Uuid>,
    plaintext: Base64<'a>,
}

pub(super) async fn decrypt(ctx: &Ctx<'_>, body: &[u8]) -> Answered {
    let r: DecryptIn = decode(body)?;
    let raw = blob(required_str(&r.ciphertext_blob, "CiphertextBlob")?)?;
    let context = context(&r.encryption_context, "EncryptionContext")?;
    let wrap = public_key_wrap(&r.encryption_public_key, &r.encryption_algorithm)?;
    let mut out = ctx.kms.decrypt(&ctx.scope, &raw, &context).await?;
    ctx.used_key(out.key.id, Some(out.version));
    if out.payload == PayloadKind::Text {
        // Sealed by the Alibaba dialect, whose Plaintext is a string (by its docs, base64 of the
        // data): the data are those bytes if it is base64, else the string's own bytes.
        if let Ok(bytes) = STANDARD.decode(out.plaintext.as_slice()) {
            out.plaintext = Zeroizing::new(bytes);
        }
    }
    let plaintext = match &wrap {
        Some(w) => {
            w.check_capacity("EncryptionPublicKey", out.plaintext.len())?;
            Zeroizing::new(w.encrypt(&out.plaintext)?)
        }
        None => out.plaintext,
    };
    Ok(Answer::of(&DecryptOut { key_id: Shown(out.key.id), plaintext: Base64(&plaintext) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptIn {
    ciphertext_blob: Option<String>,
    destination_key_id: Option<String>,
    source_encryption_context: Option<String>,
    destination_encryption_context: Option<String>,
}

pub(super) async fn re_encrypt(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ReEncryptIn = decode(body)?;
    let raw = blob(required_str(&r.ciphertext_blob, "CiphertextBlob")?)?;
    let destination = match r.destination_key_id.as_deref() {
        None | Some("") => None,
        Some(id) => Some(parse_key_id(id)?),
    };
    let source = context(&r.source_encryption_context, "SourceEncryptionContext")?;
    let target = context(&r.destination_encryption_context, "DestinationEncryptionContext")?;
    let out = ctx.kms.re_encrypt(&ctx.scope, &raw, &source, destination, &target).await?;
    Ok(json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "KeyId": out.key.id.to_string(),
        "SourceKeyId": out.source_key_id.to_string(),
        "ReEncrypted": out.re_encrypted,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RandomIn {
    number_of_bytes: Option<u64>,
}

pub(super) fn generate_random(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: RandomIn = decode(body)?;
    let n = required(r.number_of_bytes, "NumberOfBytes")?;
    if !(1..=1024).contains(&n) {
        return Err(ApiError::invalid_value("NumberOfBytes", "must be between 1 and 1024"));
    }
    let bytes = ctx.kms.generate_random(usize::try_from(n).unwrap_or(0))?;
    Ok(json!({ "Plaintext": STANDARD.encode(&*bytes) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_must_be_base64() {
        assert_eq!(blob("***").unwrap_err().code, "InvalidParameterValue.InvalidCiphertext");
        assert_eq!(blob("AAAA").unwrap(), vec![0, 0, 0]);
    }
}
