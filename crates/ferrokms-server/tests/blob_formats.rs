//! The symmetric blob formats through the service over the real SQLite store. For the specs that
//! take imported (so known) material, AES-256 and SM4: Encrypt and GenerateDataKey write format 3,
//! which opens with the material by the documented construction; a format-1 blob built as the
//! code before format 3 built it still decrypts; ReEncrypt upgrades it to format 3, and leaves a
//! current format-3 blob alone. Every symmetric spec (AES-128 and AES-192 are generated only)
//! writes format 3 of the documented length.

use std::path::Path;
use std::sync::Arc;

use ferrokms_core::Error;
use ferrokms_core::context::EncryptionContext;
use ferrokms_core::keyspec::{EncryptionAlgorithm, KeySpec};
use ferrokms_core::model::{AccountId, Region, Scope};
use ferrokms_core::service::{CreateKey, GenerateDataKey, ImportWrapping, Kms};
use ferrokms_crypto::aead::{SymmetricAlgorithm, SymmetricKey};
use ferrokms_crypto::blob::{Blob, BlobFormat, PayloadKind, associated_data};
use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};
use ferrokms_server::config::{FileConfig, RootKeyConfig, RootKeySource};
use ferrokms_server::datadir;
use uuid::Uuid;

async fn open(dir: &Path) -> Arc<Kms> {
    let d = datadir::open(dir, &RootKeyConfig::of(RootKeySource::File)).await.unwrap();
    ferrokms_server::kms(&d, &FileConfig::default()).unwrap()
}

fn scope() -> Scope {
    Scope { account: AccountId(100_000_000_001), region: Region::from_tencent("ap-guangzhou").unwrap() }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokms-{name}-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("data")
}

fn external(spec: KeySpec) -> CreateKey {
    CreateKey {
        alias: None,
        description: String::new(),
        usage: None,
        spec: Some(spec),
        external: true,
        tags: vec![],
        rotation_interval: None,
        policy: None,
    }
}

/// A key of `spec` holding `material`.
async fn imported(kms: &Kms, s: &Scope, spec: KeySpec, material: &[u8]) -> Uuid {
    let key = kms.create_key(s, external(spec)).await.unwrap();
    let wrapping = ImportWrapping { spec: KeySpec::Rsa2048, algorithm: EncryptionAlgorithm::RsaOaepSha256 };
    let p = kms.get_parameters_for_import(s, key.id, wrapping).await.unwrap();
    let wrapped =
        WrappingKey::from_spki_der(&p.public_key).unwrap().encrypt(WrapAlgorithm::RsaOaepSha256, material).unwrap();
    kms.import_key_material(s, key.id, &p.token, &wrapped, 0).await.unwrap();
    key.id
}

/// A format-1 blob: `FK 01`, algorithm, payload, key id, version, 12-byte nonce; GCM under the
/// key itself, AAD = the 37-byte header ‖ account ‖ len(context) ‖ context.
fn format_1_blob(
    algorithm: SymmetricAlgorithm,
    key_id: Uuid,
    material: &[u8],
    account: u64,
    context: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let nonce = [0x5Au8; 12];
    let mut header = b"FK\x01".to_vec();
    header.extend_from_slice(&[algorithm as u8, PayloadKind::Bytes as u8]);
    header.extend_from_slice(key_id.as_bytes());
    header.extend_from_slice(&1u32.to_be_bytes());
    header.extend_from_slice(&nonce);
    let key = SymmetricKey::new(algorithm, material).unwrap();
    let sealed = key.seal(&nonce, &associated_data(&header, account, context), plaintext).unwrap();
    [header, sealed].concat()
}

#[tokio::test]
async fn new_blobs_are_format_3_and_format_1_blobs_still_open_and_upgrade() {
    let dir = temp_dir("blob-formats");
    let kms = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let account = s.account.0;
    let ctx = EncryptionContext::parse("EncryptionContext", r#"{"b":"2","a":"1"}"#).unwrap();
    let none = EncryptionContext::default();
    for (spec, algorithm) in
        [(KeySpec::Aes256, SymmetricAlgorithm::Aes256Gcm), (KeySpec::Sm4, SymmetricAlgorithm::Sm4Gcm)]
    {
        let material: Vec<u8> = (0..algorithm.key_len()).map(|i| i as u8 ^ 0xC3).collect();
        let id = imported(&kms, &s, spec, &material).await;
        let key = SymmetricKey::new(algorithm, &material).unwrap();

        // Encrypt writes format 3: 49-byte header with a 24-byte nonce, opened with the material.
        let blob = kms.encrypt(&s, id, b"format three", PayloadKind::Bytes, &ctx).await.unwrap().blob;
        assert_eq!(blob[..4], [b'F', b'K', 3, algorithm as u8], "{spec:?}");
        assert_eq!(blob.len(), 49 + 12 + 16);
        let nonce: [u8; 24] = blob[25..49].try_into().unwrap();
        let aad = associated_data(&blob[..49], account, &ctx.canonical());
        assert_eq!(&**key.open_extended(&nonce, &aad, &blob[49..]).unwrap(), b"format three");

        // GenerateDataKey too: a 32-byte data key makes a 97-byte blob.
        let req = GenerateDataKey { key_id: id, len: 32, context: none.clone(), wrap: None, hosted: None };
        let dk = kms.generate_data_key(&s, req).await.unwrap();
        assert_eq!((dk.blob.len(), dk.blob[2]), (97, 3));
        assert_eq!(kms.decrypt(&s, &dk.blob, &none).await.unwrap().plaintext, dk.plaintext);

        // A format-1 blob still decrypts, bound to its account and context as before.
        let old = format_1_blob(algorithm, id, &material, account, &ctx.canonical(), b"format one");
        assert_eq!(Blob::parse(&old).unwrap().format, BlobFormat::V1);
        assert_eq!(&*kms.decrypt(&s, &old, &ctx).await.unwrap().plaintext, b"format one");
        assert!(matches!(kms.decrypt(&s, &old, &none).await, Err(Error::DecryptFailed)));
        let elsewhere = format_1_blob(algorithm, id, &material, account + 1, &ctx.canonical(), b"x");
        assert!(matches!(kms.decrypt(&s, &elsewhere, &ctx).await, Err(Error::DecryptFailed)));

        // ReEncrypt to the same key, version and context upgrades it to format 3 ...
        let up = kms.re_encrypt(&s, &old, &ctx, None, &ctx).await.unwrap();
        assert!(up.re_encrypted, "{spec:?}: a format-1 blob is re-sealed");
        assert_eq!((up.blob[2], up.blob.len()), (3, 49 + 10 + 16));
        assert_eq!(&*kms.decrypt(&s, &up.blob, &ctx).await.unwrap().plaintext, b"format one");
        // ... and leaves a current format-3 blob as it is.
        let same = kms.re_encrypt(&s, &up.blob, &ctx, None, &ctx).await.unwrap();
        assert!(!same.re_encrypted);
        assert_eq!(same.blob, up.blob);
    }
}

#[tokio::test]
async fn every_symmetric_spec_writes_format_3() {
    let dir = temp_dir("blob-formats-generated");
    let kms = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let none = EncryptionContext::default();
    for (spec, algorithm) in [
        (KeySpec::Aes256, SymmetricAlgorithm::Aes256Gcm),
        (KeySpec::Sm4, SymmetricAlgorithm::Sm4Gcm),
        (KeySpec::Aes128, SymmetricAlgorithm::Aes128Gcm),
        (KeySpec::Aes192, SymmetricAlgorithm::Aes192Gcm),
    ] {
        let id = kms.create_key(&s, CreateKey { external: false, ..external(spec) }).await.unwrap().id;
        for len in [0usize, 1, 32, 100] {
            let blob = kms.encrypt(&s, id, &vec![7u8; len], PayloadKind::Text, &none).await.unwrap().blob;
            assert_eq!(blob[..5], [b'F', b'K', 3, algorithm as u8, 1], "{spec:?}");
            assert_eq!(blob.len(), 65 + len);
            let opened = kms.decrypt(&s, &blob, &none).await.unwrap();
            assert_eq!((opened.plaintext.len(), opened.payload), (len, PayloadKind::Text));
            for cut in [1, 16, len + 17] {
                let short = &blob[..blob.len() - cut];
                let Err(err) = kms.decrypt(&s, short, &none).await else { panic!("{spec:?} cut {cut} opened") };
                assert!(matches!(err, Error::InvalidCiphertext | Error::DecryptFailed), "{spec:?} cut {cut}: {err:?}");
            }
        }
        let req = GenerateDataKey { key_id: id, len: 32, context: none.clone(), wrap: None, hosted: None };
        assert_eq!(kms.generate_data_key(&s, req).await.unwrap().blob.len(), 97);
    }
}
