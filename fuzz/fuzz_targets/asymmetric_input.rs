//! What asymmetric keys take from callers, on arbitrary bytes: ciphertexts for every decryption
//! scheme (RSA PKCS#1 v1.5 / OAEP, SM2 raw and DER), signatures and digests for every signature
//! scheme, post-quantum blobs (`HybridHeader::parse`, `hybrid_open`), MACs, and the material
//! `PreparedKey::new` checks for each kind (what ImportKeyMaterial and the sealed store hand it).
//! Nothing may panic; a forged ciphertext never decrypts and a forged signature never verifies.
#![no_main]

use std::sync::OnceLock;

use ferrokms_crypto::blob::HybridHeader;
use ferrokms_crypto::key::{HmacAlgorithm, KeyKind, Message, PreparedKey, SignatureAlgorithm};
use ferrokms_crypto::wrap::WrapAlgorithm;
use ferrokms_fuzz::bounded;
use libfuzzer_sys::fuzz_target;

const KINDS: [KeyKind; 8] = [
    KeyKind::Rsa2048,
    KeyKind::EcP256,
    KeyKind::EcP384,
    KeyKind::EcSecp256k1,
    KeyKind::Sm2,
    KeyKind::Hmac(HmacAlgorithm::Sha256),
    KeyKind::MlKem768,
    KeyKind::MlDsa65,
];

const SIGNATURES: [SignatureAlgorithm; 6] = [
    SignatureAlgorithm::RsaPssSha256,
    SignatureAlgorithm::RsaPkcs1Sha256,
    SignatureAlgorithm::EcdsaSha256,
    SignatureAlgorithm::EcdsaSha384,
    SignatureAlgorithm::Sm2Sm3,
    SignatureAlgorithm::MlDsa65,
];

const ENCRYPTIONS: [WrapAlgorithm; 5] = [
    WrapAlgorithm::RsaPkcs1V15,
    WrapAlgorithm::RsaOaepSha1,
    WrapAlgorithm::RsaOaepSha256,
    WrapAlgorithm::Sm2C1C3C2,
    WrapAlgorithm::Sm2C1C3C2Der,
];

/// One key of each kind, generated once per process (RSA generation is slow).
fn keys() -> &'static Vec<PreparedKey> {
    static KEYS: OnceLock<Vec<PreparedKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        KINDS.iter().map(|k| PreparedKey::new(*k, &k.generate().expect("generates")).expect("prepares")).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    bounded(data.len(), || {
        for key in keys {
            for alg in ENCRYPTIONS {
                // Forging a ciphertext for a fresh key is beyond a fuzzer: nothing decrypts.
                assert!(key.decrypt(alg, data).is_err(), "{:?} decrypted a forged {alg:?} ciphertext", key.kind());
            }
            for alg in SIGNATURES {
                for message in [Message::Raw(data), Message::Digest(data)] {
                    if let Ok(valid) = key.verify(alg, message, data) {
                        assert!(!valid, "{:?} verified a forged {alg:?} signature", key.kind());
                    }
                }
                let _ = key.sign(alg, Message::Digest(data));
            }
            if let Ok(valid) = key.verify_mac(data, data) {
                assert!(!valid);
            }
            assert!(key.hybrid_open(b"aad", data).is_err());
        }
        if let Ok((header, body)) = HybridHeader::parse(data) {
            assert_eq!(header.encode().len() + body.len(), data.len());
        }
        for kind in KINDS {
            // Random bytes are rarely valid material; whatever is accepted must work.
            if let Ok(key) = PreparedKey::new(kind, data) {
                assert_eq!(key.kind(), kind);
                if kind.is_asymmetric() {
                    assert!(key.public_key_der().is_ok());
                }
            }
        }
    });
});
