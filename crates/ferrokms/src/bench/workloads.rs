//! What each server workload sends: the key (and blob, signature, caller public key) it sets up
//! once before the run, and the request of every iteration with the check of its answer.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::ValueEnum;
use serde_json::{Value, json};

use super::sign::{Dialect, Signer};
use super::{Sender, call, connect};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(super) enum Workload {
    /// GenerateDataKey, AES_256.
    GenerateDataKey,
    /// GenerateDataKey wrapped to an RSA-2048 public key (OAEP-SHA256).
    GenerateDataKeyRsa,
    /// GenerateDataKey hosted by the KMS (durable before the answer).
    GenerateDataKeyHosted,
    /// CreateKey of a symmetric key with an alias of its own (the key, its first version and its
    /// alias durable before the answer; raise `[keys] max_keys_per_account` for long runs).
    CreateKey,
    /// Encrypt of 32 bytes.
    Encrypt,
    /// Decrypt of a 32-byte ciphertext.
    Decrypt,
    /// AsymmetricRsaDecrypt, RSA-2048 key, RSAES_OAEP_SHA_256, 32 bytes.
    RsaDecrypt,
    /// AsymmetricSm2Decrypt, 32 bytes (the DER form Tencent documents).
    Sm2Decrypt,
    /// SignByAsymmetricKey, ECC (P-256) key, ECC_P256_R1 (ECDSA-SHA256), RAW 32-byte message.
    EcdsaSign,
    /// VerifyByAsymmetricKey of a good ECC_P256_R1 signature of a RAW 32-byte message.
    EcdsaVerify,
    /// SignByAsymmetricKey, SM2 key, SM2DSA (default ID), RAW 32-byte message.
    Sm2Sign,
    /// SignByAsymmetricKey, RSA-2048 key, RSA_PSS_SHA_256, RAW 32-byte message.
    RsaSign,
    /// PostQuantumCryptoSign, ML-DSA-65 (Dilithium) key, 32-byte message.
    MldsaSign,
    /// PostQuantumCryptoDecrypt of a 32-byte ML-KEM-768 + AES-256-GCM (Kyber_AES) blob.
    MlkemDecrypt,
    /// Alibaba GenerateDataKey, AES_256 (ACS3-signed).
    AliGenerateDataKey,
    /// Alibaba GenerateAndExportDataKey to an RSA_2048 key, RSAES_OAEP_SHA_256.
    AliExportRsa,
    /// Alibaba GenerateAndExportDataKey to an EC_SM2 key, SM2PKE.
    AliExportSm2,
    /// Alibaba GenerateMac, HMAC_SHA256 key, HMAC_SHA_256 of 32 bytes (ACS3-signed).
    AliGenerateMac,
    /// No server: RSA-2048 OAEP-SHA256 encryption of 32 bytes in a loop per connection (thread).
    LocalRsaOaep,
    /// No server: SM2 encryption (GM/T 0009 DER) of 32 bytes in a loop per connection (thread).
    LocalSm2,
    /// No server: RSA-2048 OAEP-SHA256 decryption of 32 bytes (the server's RSA key code).
    LocalRsaDecrypt,
    /// No server: SM2 decryption of 32 bytes, DER form (the server's SM2 key code).
    LocalSm2Decrypt,
    /// No server: ECDSA P-256 SHA-256 signature of 32 bytes.
    LocalEcdsaSign,
    /// No server: ECDSA P-256 SHA-256 verification of a 32-byte message's signature.
    LocalEcdsaVerify,
    /// No server: SM2DSA signature of 32 bytes.
    LocalSm2Sign,
    /// No server: RSA-2048 PSS SHA-256 signature of 32 bytes.
    LocalRsaSign,
    /// No server: ML-DSA-65 signature of 32 bytes.
    LocalMldsaSign,
    /// No server: ML-KEM-768 + AES-256-GCM opening of a 32-byte hybrid body.
    LocalMlkemDecrypt,
    /// No server: HMAC-SHA256 of 32 bytes.
    LocalHmac,
}

impl Workload {
    pub(super) fn dialect(self) -> Dialect {
        match self {
            Self::AliGenerateDataKey | Self::AliExportRsa | Self::AliExportSm2 | Self::AliGenerateMac => {
                Dialect::Alibaba
            }
            _ => Dialect::Tencent,
        }
    }

    /// A bare loop with no server (see `local.rs`).
    pub(super) fn is_local(self) -> bool {
        matches!(
            self,
            Self::LocalRsaOaep
                | Self::LocalSm2
                | Self::LocalRsaDecrypt
                | Self::LocalSm2Decrypt
                | Self::LocalEcdsaSign
                | Self::LocalEcdsaVerify
                | Self::LocalSm2Sign
                | Self::LocalRsaSign
                | Self::LocalMldsaSign
                | Self::LocalMlkemDecrypt
                | Self::LocalHmac
        )
    }
}

/// What every workload encrypts, signs or MACs (and the AES_256 data key's size).
pub(super) const MESSAGE: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// The caller's public keys for the export workloads and the public-key loops (DER SPKI).
pub(super) fn sm2_public_key() -> Result<Vec<u8>, String> {
    use sm2::elliptic_curve::Generate;
    use sm2::pkcs8::EncodePublicKey;
    let secret = sm2::SecretKey::generate();
    Ok(secret.public_key().to_public_key_der().map_err(|e| e.to_string())?.as_bytes().to_vec())
}

pub(super) fn rsa_public_key() -> Result<Vec<u8>, String> {
    use aws_lc_rs::encoding::AsDer;
    let key = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| "RSA key generation failed".to_string())?;
    let der = key.public_key().as_der().map_err(|_| "RSA public key encoding failed".to_string())?;
    Ok(der.as_ref().to_vec())
}

/// Random hex, so concurrent or back-to-back runs never reuse an alias or data key name.
fn random_hex() -> String {
    ferrokms_crypto::random::array::<8>().unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect()
}

/// One request's content: query parameters (Alibaba) or a JSON body (Tencent).
pub(super) type Payload = (Vec<(String, String)>, Vec<u8>);
/// Makes the payload of request `i` of connection `conn`.
pub(super) type PayloadMaker = Arc<dyn Fn(usize, u64) -> Payload + Send + Sync>;
/// Whether a successful answer is the right one (a verification that says true, a plaintext
/// that is the one encrypted).
pub(super) type Check = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// What a run sends.
pub(super) struct Plan {
    pub(super) action: &'static str,
    pub(super) make: PayloadMaker,
    pub(super) check: Check,
}

fn tencent(body: Value) -> Payload {
    (Vec::new(), body.to_string().into_bytes())
}

fn alibaba(params: &[(&str, &str)]) -> Payload {
    (params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), Vec::new())
}

/// The same request every time, answered with anything that is not an error.
fn fixed(action: &'static str, payload: Payload) -> Plan {
    plan(action, payload, |_| true)
}

/// The same request every time, its answer checked.
fn plan(action: &'static str, payload: Payload, check: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Plan {
    Plan { action, make: Arc::new(move |_, _| payload.clone()), check: Arc::new(check) }
}

/// The base64 of [`MESSAGE`].
fn message_b64() -> String {
    STANDARD.encode(MESSAGE)
}

/// A checker for an answer field holding [`MESSAGE`] in base64.
fn is_message(pointer: &'static str) -> impl Fn(&Value) -> bool + Send + Sync + 'static {
    let expected = message_b64();
    move |v| v.pointer(pointer).and_then(Value::as_str) == Some(expected.as_str())
}

/// One setup call; its answer's field at `pointer`.
async fn field(
    conn: &mut Sender,
    signer: &Signer,
    action: &str,
    payload: Payload,
    pointer: &str,
) -> Result<String, String> {
    let (params, json) = payload;
    let v = call(conn, signer.request(action, &params, json)).await?;
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{action}: no {pointer} in {v}"))
}

/// A new Tencent key of `usage` (empty: a symmetric one).
async fn tencent_key(conn: &mut Sender, signer: &Signer, usage: &str) -> Result<String, String> {
    let mut body = json!({"Alias": format!("bench-{}", random_hex())});
    if !usage.is_empty() {
        body["KeyUsage"] = json!(usage);
    }
    field(conn, signer, "CreateKey", tencent(body), "/Response/KeyId").await
}

/// `MESSAGE` encrypted to the public half of Tencent key `key_id`, as a client does it locally.
async fn encrypted_to(
    conn: &mut Sender,
    signer: &Signer,
    key_id: &str,
    algorithm: ferrokms_crypto::wrap::WrapAlgorithm,
) -> Result<String, String> {
    let spki = field(conn, signer, "GetPublicKey", tencent(json!({"KeyId": key_id})), "/Response/PublicKey").await?;
    let der = STANDARD.decode(spki).map_err(|e| e.to_string())?;
    let key = ferrokms_crypto::wrap::WrappingKey::from_spki_der(&der).map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(key.encrypt(algorithm, MESSAGE).map_err(|e| e.to_string())?))
}

/// The CMK of a workload that uses a plain symmetric key: `given`, or a new one made through
/// the signer's dialect.
async fn symmetric_key(conn: &mut Sender, signer: &Signer, given: &str) -> Result<String, String> {
    if !given.is_empty() {
        return Ok(given.to_owned());
    }
    match signer.dialect {
        Dialect::Tencent => tencent_key(conn, signer, "").await,
        Dialect::Alibaba => field(conn, signer, "CreateKey", alibaba(&[]), "/KeyMetadata/KeyId").await,
    }
}

/// Sets up what workload `w` needs on the server (creating its key unless `key_id` names one)
/// and returns what each request sends.
pub(super) async fn prepare(
    w: Workload,
    endpoint: &str,
    signer: &Signer,
    key_id: Option<String>,
    keys: usize,
) -> Result<Plan, String> {
    use ferrokms_crypto::wrap::WrapAlgorithm;
    let mut conn = connect(endpoint).await?;
    let c = &mut conn;
    let given = key_id.unwrap_or_default();
    let msg = message_b64();
    Ok(match w {
        Workload::GenerateDataKey => {
            let key_id = symmetric_key(c, signer, &given).await?;
            fixed("GenerateDataKey", tencent(json!({"KeyId": key_id, "KeySpec": "AES_256"})))
        }
        Workload::GenerateDataKeyRsa => {
            let (key_id, pem) = (
                symmetric_key(c, signer, &given).await?,
                ferrokms_crypto::pem::encode(&rsa_public_key()?, "PUBLIC KEY"),
            );
            let body = json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionPublicKey": pem,
                              "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"});
            fixed("GenerateDataKey", tencent(body))
        }
        Workload::GenerateDataKeyHosted => {
            let (key_id, run) = (symmetric_key(c, signer, &given).await?, random_hex());
            let make: PayloadMaker = Arc::new(move |conn, i| {
                tencent(json!({"KeyId": key_id, "KeySpec": "AES_256", "IsHostedByKms": 1,
                               "DataKeyName": format!("bench-{run}-{conn}-{i}")}))
            });
            Plan { action: "GenerateDataKey", make, check: Arc::new(|_| true) }
        }
        Workload::CreateKey => {
            let run = random_hex();
            let make: PayloadMaker =
                Arc::new(move |conn, i| tencent(json!({"Alias": format!("bench-{run}-{conn}-{i}")})));
            Plan { action: "CreateKey", make, check: Arc::new(|_| true) }
        }
        Workload::Encrypt => {
            let key_id = symmetric_key(c, signer, &given).await?;
            fixed("Encrypt", tencent(json!({"KeyId": key_id, "Plaintext": msg})))
        }
        Workload::Decrypt if keys > 1 => {
            if !given.is_empty() {
                return Err("--keys makes its own keys: leave out --key-id".into());
            }
            let mut blobs = Vec::with_capacity(keys);
            for _ in 0..keys {
                let key_id = tencent_key(c, signer, "").await?;
                let body = tencent(json!({"KeyId": key_id, "Plaintext": msg}));
                blobs.push(field(c, signer, "Encrypt", body, "/Response/CiphertextBlob").await?);
            }
            // Connection `conn`'s request `i`: a different key each time, and the connections
            // spread over the keys.
            let make: PayloadMaker = Arc::new(move |conn, i| {
                let at = (conn as u64).wrapping_mul(7919).wrapping_add(i) % blobs.len() as u64;
                tencent(json!({"CiphertextBlob": blobs[at as usize]}))
            });
            Plan { action: "Decrypt", make, check: Arc::new(is_message("/Response/Plaintext")) }
        }
        Workload::Decrypt => {
            let key_id = symmetric_key(c, signer, &given).await?;
            let body = tencent(json!({"KeyId": key_id, "Plaintext": msg}));
            let blob = field(c, signer, "Encrypt", body, "/Response/CiphertextBlob").await?;
            plan("Decrypt", tencent(json!({"CiphertextBlob": blob})), is_message("/Response/Plaintext"))
        }
        Workload::RsaDecrypt => {
            let key_id = tencent_key(c, signer, "ASYMMETRIC_DECRYPT_RSA_2048").await?;
            let ct = encrypted_to(c, signer, &key_id, WrapAlgorithm::RsaOaepSha256).await?;
            let body = json!({"KeyId": key_id, "Ciphertext": ct, "Algorithm": "RSAES_OAEP_SHA_256"});
            plan("AsymmetricRsaDecrypt", tencent(body), is_message("/Response/Plaintext"))
        }
        Workload::Sm2Decrypt => {
            let key_id = tencent_key(c, signer, "ASYMMETRIC_DECRYPT_SM2").await?;
            let ct = encrypted_to(c, signer, &key_id, WrapAlgorithm::Sm2C1C3C2Der).await?;
            let body = json!({"KeyId": key_id, "Ciphertext": ct});
            plan("AsymmetricSm2Decrypt", tencent(body), is_message("/Response/Plaintext"))
        }
        Workload::EcdsaSign | Workload::EcdsaVerify | Workload::Sm2Sign | Workload::RsaSign => {
            let (usage, algorithm) = match w {
                Workload::Sm2Sign => ("ASYMMETRIC_SIGN_VERIFY_SM2", "SM2DSA"),
                Workload::RsaSign => ("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "RSA_PSS_SHA_256"),
                _ => ("ASYMMETRIC_SIGN_VERIFY_ECC", "ECC_P256_R1"),
            };
            let key_id = tencent_key(c, signer, usage).await?;
            let mut body = json!({"KeyId": key_id, "Algorithm": algorithm, "Message": msg, "MessageType": "RAW"});
            if w != Workload::EcdsaVerify {
                return Ok(plan("SignByAsymmetricKey", tencent(body), |v| v.pointer("/Response/Signature").is_some()));
            }
            let signature =
                field(c, signer, "SignByAsymmetricKey", tencent(body.clone()), "/Response/Signature").await?;
            body["SignatureValue"] = json!(signature);
            let valid = |v: &Value| v.pointer("/Response/SignatureValid") == Some(&Value::Bool(true));
            plan("VerifyByAsymmetricKey", tencent(body), valid)
        }
        Workload::MldsaSign => {
            let key_id = tencent_key(c, signer, "ASYMMETRIC_SIGN_VERIFY_DILITHIUM").await?;
            let body = tencent(json!({"KeyId": key_id, "Message": msg}));
            plan("PostQuantumCryptoSign", body, |v| v.pointer("/Response/Signature").is_some())
        }
        Workload::MlkemDecrypt => {
            let key_id = tencent_key(c, signer, "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES").await?;
            let body = tencent(json!({"KeyId": key_id, "PlainText": msg}));
            let blob = field(c, signer, "PostQuantumCryptoEncrypt", body, "/Response/CiphertextBlob").await?;
            let body = tencent(json!({"CiphertextBlob": blob}));
            plan("PostQuantumCryptoDecrypt", body, is_message("/Response/PlainText"))
        }
        Workload::AliGenerateDataKey => {
            let key_id = symmetric_key(c, signer, &given).await?;
            fixed("GenerateDataKey", alibaba(&[("KeyId", &key_id), ("KeySpec", "AES_256")]))
        }
        Workload::AliExportRsa | Workload::AliExportSm2 => {
            let (spec, alg, public) = if w == Workload::AliExportRsa {
                ("RSA_2048", "RSAES_OAEP_SHA_256", rsa_public_key()?)
            } else {
                ("EC_SM2", "SM2PKE", sm2_public_key()?)
            };
            let (key_id, b64) = (symmetric_key(c, signer, &given).await?, STANDARD.encode(public));
            let params = [
                ("KeyId", key_id.as_str()),
                ("KeySpec", "AES_256"),
                ("PublicKeyBlob", &b64),
                ("WrappingKeySpec", spec),
                ("WrappingAlgorithm", alg),
            ];
            fixed("GenerateAndExportDataKey", alibaba(&params))
        }
        Workload::AliGenerateMac => {
            let create = alibaba(&[("KeySpec", "HMAC_SHA256"), ("KeyUsage", "GENERATE/VERIFY_MAC")]);
            let key_id = field(c, signer, "CreateKey", create, "/KeyMetadata/KeyId").await?;
            let params = alibaba(&[("KeyId", &key_id), ("Algorithm", "HMAC_SHA_256"), ("Message", &msg)]);
            plan("GenerateMac", params, |v| v.get("Mac").and_then(Value::as_str).is_some_and(|m| !m.is_empty()))
        }
        local => return Err(format!("{local:?} runs without a server")),
    })
}
