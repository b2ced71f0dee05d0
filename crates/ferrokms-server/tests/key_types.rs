//! Every key type through the service over the real SQLite store: keys are created, used,
//! survive a restart (their sealed private material reopens), and refuse what their usage does
//! not allow; BYOK from token to expiry, with the expiry moved into the past through the store.

use std::path::Path;
use std::sync::Arc;

use ferrokms_core::Error;
use ferrokms_core::context::EncryptionContext;
use ferrokms_core::keyspec::{EncryptionAlgorithm, KeySpec, KeyUsage, MacAlgorithm, SigningAlgorithm};
use ferrokms_core::model::{AccountId, KeyRecord, KeyState, Region, Scope};
use ferrokms_core::service::{CreateKey, ImportWrapping, Kms, SignInput, VersionRef};
use ferrokms_core::store::Store;
use ferrokms_crypto::blob::PayloadKind;
use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};
use ferrokms_server::config::{FileConfig, RootKeyConfig, RootKeySource};
use ferrokms_server::datadir;

async fn open(dir: &Path) -> (Arc<Kms>, Arc<dyn Store>) {
    let d = datadir::open(dir, &RootKeyConfig::of(RootKeySource::File)).await.unwrap();
    let store: Arc<dyn Store> = d.store.clone();
    (ferrokms_server::kms(&d, &FileConfig::default()).unwrap(), store)
}

fn scope() -> Scope {
    Scope { account: AccountId(100_000_000_001), region: Region::from_tencent("ap-guangzhou").unwrap() }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokms-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("data")
}

fn create(spec: KeySpec, usage: Option<KeyUsage>, external: bool) -> CreateKey {
    CreateKey {
        alias: None,
        description: String::new(),
        usage,
        spec: Some(spec),
        external,
        tags: vec![],
        rotation_interval: None,
        policy: None,
    }
}

const SIGNERS: &[(KeySpec, SigningAlgorithm)] = &[
    (KeySpec::Rsa2048, SigningAlgorithm::RsaPssSha256),
    (KeySpec::Rsa2048, SigningAlgorithm::RsaPkcs1Sha256),
    (KeySpec::EcP256, SigningAlgorithm::EcdsaSha256),
    (KeySpec::EcP384, SigningAlgorithm::EcdsaSha384),
    (KeySpec::EcP256K, SigningAlgorithm::EcdsaSha256),
    (KeySpec::EcSm2, SigningAlgorithm::Sm2Dsa),
    (KeySpec::MlDsa65, SigningAlgorithm::MlDsa65),
];

#[tokio::test]
async fn every_signing_key_signs_verifies_and_survives_a_restart() {
    let dir = temp_dir("signers");
    let (kms, store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let mut made = vec![];
    for &(spec, alg) in SIGNERS {
        let key = kms.create_key(&s, create(spec, Some(KeyUsage::SignVerify), false)).await.unwrap();
        let (_, sig) = kms.sign(&s, key.id, VersionRef::Current, alg, SignInput::Raw(b"message")).await.unwrap();
        let (used, ok) =
            kms.verify(&s, key.id, VersionRef::Current, alg, SignInput::Raw(b"message"), &sig).await.unwrap();
        assert!(ok, "{spec:?} {alg:?}");
        assert_eq!(used.version, 1);
        let (_, bad) =
            kms.verify(&s, key.id, VersionRef::Current, alg, SignInput::Raw(b"massage"), &sig).await.unwrap();
        assert!(!bad, "{spec:?}: another message must not verify");
        let der = kms.public_key(&s, key.id, VersionRef::Current).await.unwrap().der;
        made.push((key, alg, sig, der));
    }
    drop(kms);
    drop(store);
    let (kms, _store) = open(&dir).await;
    for (key, alg, sig, der) in made {
        let (_, ok) = kms.verify(&s, key.id, VersionRef::Current, alg, SignInput::Raw(b"message"), &sig).await.unwrap();
        assert!(ok, "{:?} after restart", key.spec);
        assert_eq!(kms.public_key(&s, key.id, VersionRef::Current).await.unwrap().der, der, "same public key");
    }
}

#[tokio::test]
async fn usage_algorithm_and_length_checks_happen_before_any_crypto() {
    let dir = temp_dir("checks");
    let (kms, _store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let none = EncryptionContext::default();
    let rsa_sig = kms.create_key(&s, create(KeySpec::Rsa2048, None, false)).await.unwrap();
    assert_eq!(rsa_sig.usage, KeyUsage::SignVerify, "keys that can sign do so by default (Alibaba's rule)");
    let rsa_enc = kms.create_key(&s, create(KeySpec::Rsa2048, Some(KeyUsage::EncryptDecrypt), false)).await.unwrap();
    let p256 = kms.create_key(&s, create(KeySpec::EcP256, None, false)).await.unwrap();
    assert_eq!(p256.usage, KeyUsage::SignVerify, "P-256 can only sign");
    let aes = kms.create_key(&s, create(KeySpec::Aes256, None, false)).await.unwrap();
    assert!(matches!(
        kms.create_key(&s, create(KeySpec::EcP256, Some(KeyUsage::EncryptDecrypt), false)).await,
        Err(Error::InvalidKeyUsage(_))
    ));
    assert!(matches!(kms.create_key(&s, create(KeySpec::Rsa2048, None, true)).await, Err(Error::Unsupported(_))));
    // Symmetric operations refuse asymmetric keys, and the other way round.
    assert!(matches!(
        kms.encrypt(&s, rsa_enc.id, b"x", PayloadKind::Bytes, &none).await,
        Err(Error::InvalidKeyUsage(_))
    ));
    assert!(matches!(kms.public_key(&s, aes.id, VersionRef::Current).await, Err(Error::InvalidKeyUsage(_))));
    let sign = |id, alg, input| {
        let kms = kms.clone();
        let s = s.clone();
        async move { kms.sign(&s, id, VersionRef::Current, alg, input).await.map(|_| ()) }
    };
    assert!(matches!(
        sign(rsa_enc.id, SigningAlgorithm::RsaPssSha256, SignInput::Raw(b"m")).await,
        Err(Error::InvalidKeyUsage(_))
    ));
    assert!(matches!(
        sign(p256.id, SigningAlgorithm::Sm2Dsa, SignInput::Raw(b"m")).await,
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        sign(p256.id, SigningAlgorithm::EcdsaSha256, SignInput::Digest(&[0u8; 31])).await,
        Err(Error::InvalidValue { .. })
    ));
    assert!(sign(p256.id, SigningAlgorithm::EcdsaSha256, SignInput::Digest(&[7u8; 32])).await.is_ok());
    // An algorithm that names its curve (Tencent's ECC_P256_R1, ECC_SECP256K1) needs a key on that
    // curve; the curve-neutral ECDSA_SHA_256 (Alibaba's) signs with either.
    let k1 = kms.create_key(&s, create(KeySpec::EcP256K, None, false)).await.unwrap();
    let d = SignInput::Digest(&[7u8; 32]);
    assert!(sign(p256.id, SigningAlgorithm::EcdsaP256Sha256, d).await.is_ok());
    assert!(sign(k1.id, SigningAlgorithm::EcdsaSecp256k1Sha256, d).await.is_ok());
    assert!(sign(k1.id, SigningAlgorithm::EcdsaSha256, d).await.is_ok());
    assert!(matches!(sign(k1.id, SigningAlgorithm::EcdsaP256Sha256, d).await, Err(Error::CurveMismatch { .. })));
    assert!(matches!(sign(p256.id, SigningAlgorithm::EcdsaSecp256k1Sha256, d).await, Err(Error::CurveMismatch { .. })));
    let verified = kms.verify(&s, k1.id, VersionRef::Current, SigningAlgorithm::EcdsaP256Sha256, d, &[0u8; 8]).await;
    assert!(matches!(verified, Err(Error::CurveMismatch { .. })), "verify checks it too");
    assert!(matches!(
        sign(p256.id, SigningAlgorithm::EcdsaSha256, SignInput::Raw(&[0u8; 4097])).await,
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        kms.asymmetric_decrypt(&s, rsa_enc.id, VersionRef::Current, EncryptionAlgorithm::Sm2Der, &[1u8; 100]).await,
        Err(Error::InvalidValue { .. })
    ));
    assert!(matches!(
        kms.asymmetric_decrypt(&s, rsa_enc.id, VersionRef::Current, EncryptionAlgorithm::RsaOaepSha256, &[1u8; 256])
            .await,
        Err(Error::DecryptFailed)
    ));
    assert!(matches!(
        kms.generate_mac(&s, aes.id, MacAlgorithm::HmacSha256, b"m").await,
        Err(Error::InvalidKeyUsage(_))
    ));
    assert!(matches!(kms.enable_key_rotation(&s, p256.id, 30 * 86_400).await, Err(Error::Unsupported(_))));
}

#[tokio::test]
async fn asymmetric_encryption_round_trips_through_the_public_key() {
    let dir = temp_dir("asym");
    let (kms, _store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    for (spec, algs) in [
        (
            KeySpec::Rsa2048,
            &[EncryptionAlgorithm::RsaOaepSha256, EncryptionAlgorithm::RsaOaepSha1, EncryptionAlgorithm::RsaPkcs1V15][..],
        ),
        (KeySpec::Rsa3072, &[EncryptionAlgorithm::RsaOaepSha256][..]),
        (KeySpec::EcSm2, &[EncryptionAlgorithm::Sm2Der, EncryptionAlgorithm::Sm2Raw][..]),
    ] {
        let key = kms.create_key(&s, create(spec, Some(KeyUsage::EncryptDecrypt), false)).await.unwrap();
        let public = kms.public_key(&s, key.id, VersionRef::Current).await.unwrap();
        let wrapping = WrappingKey::from_spki_der(&public.der).unwrap();
        for &alg in algs {
            // What a client does locally with the public key...
            let ct = wrapping.encrypt(alg.wrap(), b"thirty-two bytes of data key....").unwrap();
            // ...and what the KMS does with the private one.
            let (used, pt) = kms.asymmetric_decrypt(&s, key.id, VersionRef::Current, alg, &ct).await.unwrap();
            assert_eq!(&*pt, b"thirty-two bytes of data key....", "{spec:?} {alg:?}");
            let by_id = VersionRef::Id(used.version_id);
            let (_, ct2) = kms.asymmetric_encrypt(&s, key.id, by_id, alg, b"abc").await.unwrap();
            assert_eq!(&*kms.asymmetric_decrypt(&s, key.id, by_id, alg, &ct2).await.unwrap().1, b"abc");
        }
    }
}

#[tokio::test]
async fn hmac_keys_verify_macs_of_every_version() {
    let dir = temp_dir("hmac");
    let (kms, _store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    for (spec, alg, len) in [
        (KeySpec::HmacSha256, MacAlgorithm::HmacSha256, 32),
        (KeySpec::HmacSha384, MacAlgorithm::HmacSha384, 48),
        (KeySpec::HmacSha512, MacAlgorithm::HmacSha512, 64),
        (KeySpec::HmacSm3, MacAlgorithm::HmacSm3, 32),
    ] {
        let key = kms.create_key(&s, create(spec, None, false)).await.unwrap();
        assert_eq!(key.usage, KeyUsage::GenerateVerifyMac);
        let (_, mac) = kms.generate_mac(&s, key.id, alg, b"msg").await.unwrap();
        assert_eq!(mac.len(), len, "{spec:?}");
        assert_eq!(kms.generate_mac(&s, key.id, alg, b"msg").await.unwrap().1, mac, "deterministic");
        assert!(kms.verify_mac(&s, key.id, alg, b"msg", &mac).await.unwrap().1);
        assert!(!kms.verify_mac(&s, key.id, alg, b"msh", &mac).await.unwrap().1);
        kms.rotate_key(&s, key.id).await.unwrap();
        let (used, ok) = kms.verify_mac(&s, key.id, alg, b"msg", &mac).await.unwrap();
        assert!(ok, "a MAC of version 1 verifies after rotation");
        assert_eq!(used.version, 1);
        assert_ne!(kms.generate_mac(&s, key.id, alg, b"msg").await.unwrap().1, mac, "version 2 has its own key");
    }
}

#[tokio::test]
async fn post_quantum_blobs_name_their_key_and_survive_a_restart() {
    let dir = temp_dir("pq");
    let (kms, store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let none = EncryptionContext::default();
    let key = kms.create_key(&s, create(KeySpec::MlKem768, None, false)).await.unwrap();
    let blob = kms.pq_encrypt(&s, key.id, b"quantum-safe", PayloadKind::Bytes, &none).await.unwrap().blob;
    assert!(matches!(kms.decrypt(&s, &blob, &none).await, Err(Error::InvalidCiphertext)), "not a symmetric blob");
    drop(kms);
    drop(store);
    let (kms, _store) = open(&dir).await;
    assert_eq!(&*kms.pq_decrypt(&s, &blob, &none).await.unwrap().plaintext, b"quantum-safe");
    let mut tampered = blob.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(kms.pq_decrypt(&s, &tampered, &none).await, Err(Error::DecryptFailed)));
    let other = Scope { account: AccountId(100_000_000_002), ..s.clone() };
    assert!(matches!(kms.pq_decrypt(&other, &blob, &none).await, Err(Error::DecryptFailed)));
}

#[tokio::test]
async fn post_quantum_actions_refuse_other_key_types_as_the_wrong_key_usage() {
    let dir = temp_dir("pq-usage");
    let (kms, _store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let none = EncryptionContext::default();
    let kem = kms.create_key(&s, create(KeySpec::MlKem768, None, false)).await.unwrap();
    let dsa = kms.create_key(&s, create(KeySpec::MlDsa65, None, false)).await.unwrap();
    let rsa_enc = kms.create_key(&s, create(KeySpec::Rsa2048, Some(KeyUsage::EncryptDecrypt), false)).await.unwrap();
    let p256 = kms.create_key(&s, create(KeySpec::EcP256, None, false)).await.unwrap();
    let wrong = |r: Result<(), Error>| matches!(r, Err(Error::InvalidKeyUsage(_)));
    for id in [dsa.id, rsa_enc.id, p256.id] {
        assert!(wrong(kms.pq_encrypt(&s, id, b"m", PayloadKind::Bytes, &none).await.map(|_| ())), "encrypt {id}");
    }
    // The other usage (ML-KEM) and the same usage with another type (ECDSA) answer alike.
    for id in [kem.id, rsa_enc.id, p256.id] {
        assert!(wrong(kms.pq_sign(&s, id, b"m").await.map(|_| ())), "sign {id}");
        assert!(wrong(kms.pq_verify(&s, id, b"m", &[0u8; 16]).await.map(|_| ())), "verify {id}");
    }
    let (_, signature) = kms.pq_sign(&s, dsa.id, b"m").await.unwrap();
    assert!(kms.pq_verify(&s, dsa.id, b"m", &signature).await.unwrap().1);
}

async fn expire_material(store: &Arc<dyn Store>, key: &KeyRecord) {
    let mut k = store.get_key(key.id).await.unwrap().unwrap();
    let expected = k.revision;
    k.material_expires_at = ferrokms_core::model::now() - 1;
    k.revision += 1;
    store.update_key(&k, expected).await.unwrap();
}

#[tokio::test]
async fn imported_material_round_trips_expires_and_only_comes_back_the_same() {
    let dir = temp_dir("byok");
    let (kms, store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let none = EncryptionContext::default();
    let key = kms.create_key(&s, create(KeySpec::Aes256, None, true)).await.unwrap();
    assert_eq!(key.state, KeyState::PendingImport);
    let wrapping = ImportWrapping { spec: KeySpec::Rsa2048, algorithm: EncryptionAlgorithm::RsaOaepSha256 };
    let p = kms.get_parameters_for_import(&s, key.id, wrapping).await.unwrap();
    let wrap = |material: &[u8], p: &ferrokms_core::service::ImportParameters| {
        WrappingKey::from_spki_der(&p.public_key).unwrap().encrypt(WrapAlgorithm::RsaOaepSha256, material).unwrap()
    };
    let material = [0x42u8; 32];
    // Wrong length, another key's token and a garbled token are refused.
    assert!(matches!(
        kms.import_key_material(&s, key.id, &p.token, &wrap(&[1u8; 16], &p), 0).await,
        Err(Error::InvalidImportKeyMaterial(_))
    ));
    let other = kms.create_key(&s, create(KeySpec::Aes256, None, true)).await.unwrap();
    assert!(matches!(
        kms.import_key_material(&s, other.id, &p.token, &wrap(&material, &p), 0).await,
        Err(Error::InvalidImportToken)
    ));
    let mut garbled = p.token.clone();
    garbled[20] ^= 1;
    assert!(matches!(
        kms.import_key_material(&s, key.id, &garbled, &wrap(&material, &p), 0).await,
        Err(Error::InvalidImportToken)
    ));
    let plain = kms.create_key(&s, create(KeySpec::Aes256, None, false)).await.unwrap();
    assert!(matches!(kms.get_parameters_for_import(&s, plain.id, wrapping).await, Err(Error::NotExternalKey)));

    let expiry = ferrokms_core::model::now() + 3600;
    let k = kms.import_key_material(&s, key.id, &p.token, &wrap(&material, &p), expiry).await.unwrap();
    assert_eq!((k.state, k.material_expires_at), (KeyState::Enabled, expiry));
    let blob = kms.encrypt(&s, key.id, b"byok", PayloadKind::Bytes, &none).await.unwrap().blob;

    // Expiry: the background pass deletes the material.
    expire_material(&store, &key).await;
    assert_eq!(kms.run_due_work().await.unwrap().materials_expired, 1);
    assert_eq!(kms.describe_key(&s, key.id).await.unwrap().state, KeyState::PendingImport);
    assert!(matches!(kms.decrypt(&s, &blob, &none).await, Err(Error::KeyState { .. })));
    assert_eq!(kms.run_due_work().await.unwrap().materials_expired, 0, "once");

    // Only the same material comes back, and then old blobs decrypt again (after a restart too).
    let p2 = kms.get_parameters_for_import(&s, key.id, wrapping).await.unwrap();
    assert!(matches!(
        kms.import_key_material(&s, key.id, &p2.token, &wrap(&[0x43u8; 32], &p2), 0).await,
        Err(Error::MaterialMismatch)
    ));
    kms.import_key_material(&s, key.id, &p2.token, &wrap(&material, &p2), 0).await.unwrap();
    drop(kms);
    drop(store);
    let (kms, _store) = open(&dir).await;
    assert_eq!(&*kms.decrypt(&s, &blob, &none).await.unwrap().plaintext, b"byok");
    let k = kms.delete_imported_key_material(&s, key.id).await.unwrap();
    assert_eq!(k.state, KeyState::PendingImport);
    assert!(matches!(kms.decrypt(&s, &blob, &none).await, Err(Error::KeyState { .. })));
}
