//! GetPublicKey, AsymmetricRsaDecrypt, AsymmetricSm2Decrypt, SignByAsymmetricKey,
//! VerifyByAsymmetricKey. Tencent's asymmetric keys have one version: these use the current one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::keyspec::{EncryptionAlgorithm, SigningAlgorithm};
use ferrokms_core::service::{SignInput, VersionRef};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::request::{decode, key_id, required_str};

/// Tencent's limit on AsymmetricSm2Decrypt's ciphertext, decoded.
const MAX_SM2_CIPHERTEXT: usize = 256;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdIn {
    key_id: Option<String>,
}

pub(super) async fn get_public_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let public = ctx.kms.public_key(&ctx.scope, id, VersionRef::Current).await?;
    Ok(json!({
        "KeyId": id.to_string(),
        "PublicKey": STANDARD.encode(&public.der),
        "PublicKeyPem": public.pem(),
    }))
}

/// Decodes a base64 field.
pub(super) fn base64_field(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, ApiError> {
    let text = required_str(value, name)?;
    STANDARD.decode(text.trim()).map_err(|_| ApiError::invalid_value(name, "must be base64"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RsaDecryptIn {
    key_id: Option<String>,
    ciphertext: Option<String>,
    algorithm: Option<String>,
}

pub(super) async fn asymmetric_rsa_decrypt(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: RsaDecryptIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let algorithm = match required_str(&r.algorithm, "Algorithm")? {
        "RSAES_PKCS1_V1_5" => EncryptionAlgorithm::RsaPkcs1V15,
        "RSAES_OAEP_SHA_1" => EncryptionAlgorithm::RsaOaepSha1,
        "RSAES_OAEP_SHA_256" => EncryptionAlgorithm::RsaOaepSha256,
        _ => {
            return Err(ApiError::invalid_value(
                "Algorithm",
                "expected RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256",
            ));
        }
    };
    let ciphertext = base64_field(&r.ciphertext, "Ciphertext")?;
    let (used, plaintext) =
        ctx.kms.asymmetric_decrypt(&ctx.scope, id, VersionRef::Current, algorithm, &ciphertext).await?;
    Ok(json!({ "KeyId": used.key.id.to_string(), "Plaintext": STANDARD.encode(&*plaintext) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Sm2DecryptIn {
    key_id: Option<String>,
    ciphertext: Option<String>,
}

pub(super) async fn asymmetric_sm2_decrypt(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: Sm2DecryptIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let ciphertext = base64_field(&r.ciphertext, "Ciphertext")?;
    if ciphertext.len() > MAX_SM2_CIPHERTEXT {
        return Err(ApiError::invalid_value("Ciphertext", "at most 256 bytes once decoded"));
    }
    // Tencent documents the DER form; the raw C1C3C2 form (with or without its 0x04) is
    // accepted too. A DER SEQUENCE starts with 0x30; a raw x coordinate may as well, so a
    // failed DER reading falls back to the raw one.
    let scope = &ctx.scope;
    let mut outcome = Err(ferrokms_core::Error::DecryptFailed);
    if ciphertext.first() == Some(&0x30) {
        outcome =
            ctx.kms.asymmetric_decrypt(scope, id, VersionRef::Current, EncryptionAlgorithm::Sm2Der, &ciphertext).await;
    }
    if outcome.is_err() {
        let raw = ctx.kms.asymmetric_decrypt(scope, id, VersionRef::Current, EncryptionAlgorithm::Sm2Raw, &ciphertext);
        outcome = match (outcome, raw.await) {
            (_, Ok(done)) => Ok(done),
            // A key or usage error says the same either way; report the DER attempt's if any.
            (Err(first), Err(_)) if ciphertext.first() == Some(&0x30) => Err(first),
            (_, Err(e)) => Err(e),
        };
    }
    let (used, plaintext) = outcome?;
    Ok(json!({ "KeyId": used.key.id.to_string(), "Plaintext": STANDARD.encode(&*plaintext) }))
}

/// Tencent's signature algorithm names (and the names its ListAlgorithms uses for the keys).
fn signing_algorithm(name: &str) -> Result<SigningAlgorithm, ApiError> {
    Ok(match name {
        "SM2DSA" => SigningAlgorithm::Sm2Dsa,
        // These two name their curve too: core refuses a key on the other one.
        "ECC_P256_R1" => SigningAlgorithm::EcdsaP256Sha256,
        "ECC_SECP256K1" => SigningAlgorithm::EcdsaSecp256k1Sha256,
        "ECDSA_SHA_256" => SigningAlgorithm::EcdsaSha256,
        "ECDSA384_SHA384" | "ECC_P384_R1" | "ECDSA_SHA_384" => SigningAlgorithm::EcdsaSha384,
        "RSA_PSS_SHA_256" => SigningAlgorithm::RsaPssSha256,
        "RSA_PKCS1_SHA_256" => SigningAlgorithm::RsaPkcs1Sha256,
        _ => {
            return Err(ApiError::invalid_value(
                "Algorithm",
                "expected SM2DSA, ECC_P256_R1, ECDSA384_SHA384, RSA_PSS_SHA_256 or RSA_PKCS1_SHA_256",
            ));
        }
    })
}

fn sign_input<'a>(message: &'a [u8], kind: &Option<String>) -> Result<SignInput<'a>, ApiError> {
    match kind.as_deref().unwrap_or_default() {
        "" | "RAW" => Ok(SignInput::Raw(message)),
        "DIGEST" => Ok(SignInput::Digest(message)),
        _ => Err(ApiError::invalid_value("MessageType", "expected RAW or DIGEST")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignIn {
    algorithm: Option<String>,
    message: Option<String>,
    key_id: Option<String>,
    message_type: Option<String>,
}

pub(super) async fn sign(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: SignIn = decode(body)?;
    let algorithm = signing_algorithm(required_str(&r.algorithm, "Algorithm")?)?;
    let message = Zeroizing::new(base64_field(&r.message, "Message")?);
    let input = sign_input(&message, &r.message_type)?;
    let id = key_id(&r.key_id)?;
    let (_, signature) = ctx.kms.sign(&ctx.scope, id, VersionRef::Current, algorithm, input).await?;
    Ok(json!({ "Signature": STANDARD.encode(&signature) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyIn {
    key_id: Option<String>,
    signature_value: Option<String>,
    message: Option<String>,
    algorithm: Option<String>,
    message_type: Option<String>,
}

pub(super) async fn verify(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: VerifyIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let algorithm = signing_algorithm(required_str(&r.algorithm, "Algorithm")?)?;
    let message = Zeroizing::new(base64_field(&r.message, "Message")?);
    let input = sign_input(&message, &r.message_type)?;
    let signature = base64_field(&r.signature_value, "SignatureValue")?;
    let (_, valid) = ctx.kms.verify(&ctx.scope, id, VersionRef::Current, algorithm, input, &signature).await?;
    Ok(json!({ "SignatureValid": valid }))
}
