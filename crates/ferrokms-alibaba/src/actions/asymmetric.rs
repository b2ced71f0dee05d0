//! GetPublicKey, AsymmetricEncrypt, AsymmetricDecrypt, AsymmetricSign, AsymmetricVerify,
//! GenerateMac, VerifyMac. Every asymmetric action names its key version (KeyVersionId).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::Error;
use ferrokms_core::keyspec::{EncryptionAlgorithm, MacAlgorithm, SigningAlgorithm};
use ferrokms_core::model::parse_key_id;
use ferrokms_core::service::{KeyUsed, SignInput, VersionRef};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::request::{Ctx, Outcome, object};

/// The key (id, alias or ARN) and version an asymmetric action names.
async fn key_and_version(ctx: &Ctx<'_>) -> Result<(Uuid, VersionRef), ApiError> {
    let id = ctx.key("KeyId").await?;
    let version = ctx.req("KeyVersionId")?;
    let version = parse_key_id(version).map_err(|_| ApiError::from(Error::KeyVersionNotFound))?;
    Ok((id, VersionRef::Id(version)))
}

fn base64_param(ctx: &Ctx<'_>, name: &'static str) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let text = ctx.req(name)?;
    STANDARD.decode(text.trim()).map(Zeroizing::new).map_err(|_| ApiError::invalid(name, "must be base64"))
}

fn ids(used: &KeyUsed) -> serde_json::Value {
    json!({ "KeyId": used.key.id.to_string(), "KeyVersionId": used.version_id.to_string() })
}

/// The answer, or DryRunOperationError once every check passed.
fn answer(ctx: &Ctx<'_>, used: &KeyUsed, fields: serde_json::Value) -> Outcome {
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    let mut body = ids(used);
    if let (Some(b), serde_json::Value::Object(f)) = (body.as_object_mut(), fields) {
        b.extend(f);
    }
    object(body)
}

pub(super) async fn get_public_key(ctx: &Ctx<'_>) -> Outcome {
    let (id, version) = key_and_version(ctx).await?;
    let public = ctx.kms.public_key(&ctx.scope, id, version).await?;
    answer(ctx, &public.used, json!({ "PublicKey": public.pem() }))
}

fn encryption_algorithm(ctx: &Ctx<'_>) -> Result<EncryptionAlgorithm, ApiError> {
    encryption_algorithm_named(ctx, "Algorithm")
}

fn encryption_algorithm_named(ctx: &Ctx<'_>, name: &str) -> Result<EncryptionAlgorithm, ApiError> {
    match ctx.req(name)? {
        "RSAES_OAEP_SHA_256" => Ok(EncryptionAlgorithm::RsaOaepSha256),
        "RSAES_OAEP_SHA_1" => Ok(EncryptionAlgorithm::RsaOaepSha1),
        // GM/T 0009 DER, the standard form and the only one OpenSSL reads (spec section 13).
        "SM2PKE" => Ok(EncryptionAlgorithm::Sm2Der),
        _ => Err(ApiError::invalid(name, "expected RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or SM2PKE")),
    }
}

pub(super) async fn asymmetric_encrypt(ctx: &Ctx<'_>) -> Outcome {
    let (id, version) = key_and_version(ctx).await?;
    let algorithm = encryption_algorithm(ctx)?;
    let plaintext = base64_param(ctx, "Plaintext")?;
    let (used, ciphertext) = ctx.kms.asymmetric_encrypt(&ctx.scope, id, version, algorithm, &plaintext).await?;
    answer(ctx, &used, json!({ "CiphertextBlob": STANDARD.encode(&ciphertext) }))
}

pub(super) async fn asymmetric_decrypt(ctx: &Ctx<'_>) -> Outcome {
    if ctx.opt("Recipient").is_some() {
        return Err(ApiError::unsupported("Recipient (TEE attestation)"));
    }
    let (id, version) = key_and_version(ctx).await?;
    let algorithm = encryption_algorithm(ctx)?;
    let ciphertext = base64_param(ctx, "CiphertextBlob")?;
    let (used, plaintext) = ctx.kms.asymmetric_decrypt(&ctx.scope, id, version, algorithm, &ciphertext).await?;
    answer(ctx, &used, json!({ "Plaintext": STANDARD.encode(&*plaintext) }))
}

fn signing_algorithm(ctx: &Ctx<'_>) -> Result<SigningAlgorithm, ApiError> {
    Ok(match ctx.req("Algorithm")? {
        "RSA_PSS_SHA_256" => SigningAlgorithm::RsaPssSha256,
        "RSA_PKCS1_SHA_256" => SigningAlgorithm::RsaPkcs1Sha256,
        "ECDSA_SHA_256" => SigningAlgorithm::EcdsaSha256,
        "ECDSA_SHA_384" => SigningAlgorithm::EcdsaSha384,
        "SM2DSA" => SigningAlgorithm::Sm2Dsa,
        "ML_DSA_65" => SigningAlgorithm::MlDsa65,
        _ => {
            return Err(ApiError::invalid(
                "Algorithm",
                "expected RSA_PSS_SHA_256, RSA_PKCS1_SHA_256, ECDSA_SHA_256, ECDSA_SHA_384, SM2DSA or ML_DSA_65",
            ));
        }
    })
}

/// Alibaba signs digests; ML-DSA (a ferrokms extension) signs the message given as `Digest`.
fn sign_input(algorithm: SigningAlgorithm, digest: &[u8]) -> SignInput<'_> {
    match algorithm {
        SigningAlgorithm::MlDsa65 => SignInput::Raw(digest),
        _ => SignInput::Digest(digest),
    }
}

pub(super) async fn asymmetric_sign(ctx: &Ctx<'_>) -> Outcome {
    let (id, version) = key_and_version(ctx).await?;
    let algorithm = signing_algorithm(ctx)?;
    let digest = base64_param(ctx, "Digest")?;
    let (used, signature) = ctx.kms.sign(&ctx.scope, id, version, algorithm, sign_input(algorithm, &digest)).await?;
    answer(ctx, &used, json!({ "Value": STANDARD.encode(&signature) }))
}

pub(super) async fn asymmetric_verify(ctx: &Ctx<'_>) -> Outcome {
    let (id, version) = key_and_version(ctx).await?;
    let algorithm = signing_algorithm(ctx)?;
    let digest = base64_param(ctx, "Digest")?;
    let signature = base64_param(ctx, "Value")?;
    let input = sign_input(algorithm, &digest);
    let (used, valid) = ctx.kms.verify(&ctx.scope, id, version, algorithm, input, &signature).await?;
    answer(ctx, &used, json!({ "Value": valid }))
}

fn mac_algorithm<'a>(ctx: &'a Ctx<'_>) -> Result<(MacAlgorithm, &'a str), ApiError> {
    let name = ctx.req("Algorithm")?;
    let algorithm = match name {
        "HMAC_SHA_256" => MacAlgorithm::HmacSha256,
        "HMAC_SHA_384" => MacAlgorithm::HmacSha384,
        "HMAC_SHA_512" => MacAlgorithm::HmacSha512,
        "HMAC_SM3" => MacAlgorithm::HmacSm3,
        _ => {
            return Err(ApiError::invalid(
                "Algorithm",
                "expected HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512 or HMAC_SM3",
            ));
        }
    };
    Ok((algorithm, name))
}

pub(super) async fn generate_mac(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let (algorithm, name) = mac_algorithm(ctx)?;
    let message = base64_param(ctx, "Message")?;
    let (used, mac) = ctx.kms.generate_mac(&ctx.scope, id, algorithm, &message).await?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    object(json!({ "Algorithm": name, "KeyId": used.key.id.to_string(), "Mac": STANDARD.encode(&mac) }))
}

pub(super) async fn verify_mac(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let (algorithm, name) = mac_algorithm(ctx)?;
    let message = base64_param(ctx, "Message")?;
    let mac = base64_param(ctx, "Mac")?;
    let (used, valid) = ctx.kms.verify_mac(&ctx.scope, id, algorithm, &message, &mac).await?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    object(json!({ "Algorithm": name, "KeyId": used.key.id.to_string(), "Value": valid }))
}

/// ReEncrypt of an ExportedDataKey made to a KMS asymmetric key (spec section 11): the source
/// key's private half opens it, the destination key seals it as a normal CiphertextBlob.
pub(super) async fn re_encrypt_exported(ctx: &Ctx<'_>) -> Outcome {
    let source = ctx.key("SourceKeyId").await?;
    let version =
        parse_key_id(ctx.req("SourceKeyVersionId")?).map_err(|_| ApiError::from(Error::KeyVersionNotFound))?;
    let algorithm = encryption_algorithm_named(ctx, "SourceEncryptionAlgorithm")?;
    let ciphertext = base64_param(ctx, "CiphertextBlob")?;
    let destination = ctx.key("DestinationKeyId").await?;
    let context = ctx.context("DestinationEncryptionContext")?;
    let which = VersionRef::Id(version);
    let out = ctx
        .kms
        .re_encrypt_from_asymmetric(&ctx.scope, source, which, algorithm, &ciphertext, destination, &context)
        .await?;
    if ctx.dry_run()? {
        return Err(ApiError::dry_run());
    }
    object(json!({
        "CiphertextBlob": STANDARD.encode(&out.blob),
        "KeyId": out.key.id.to_string(),
        "KeyVersionId": out.version_id.to_string(),
    }))
}
