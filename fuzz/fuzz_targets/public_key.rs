//! Public keys as callers send them: `pem::decode` (PEM armour or bare base64), `WrappingKey::
//! from_pem`, and `WrappingKey::from_spki_der` on the raw bytes (DER SubjectPublicKeyInfo, RSA
//! or SM2); a key that parses must report capacities and encrypt a data key.
#![no_main]

use ferrokms_crypto::pem;
use ferrokms_crypto::wrap::{WrapAlgorithm, WrappingKey};
use ferrokms_fuzz::bounded;
use libfuzzer_sys::fuzz_target;

const ALGORITHMS: [WrapAlgorithm; 5] = [
    WrapAlgorithm::Sm2C1C3C2,
    WrapAlgorithm::Sm2C1C3C2Der,
    WrapAlgorithm::RsaPkcs1V15,
    WrapAlgorithm::RsaOaepSha1,
    WrapAlgorithm::RsaOaepSha256,
];

fn exercise(key: &WrappingKey) {
    for algorithm in ALGORITHMS {
        if let Ok(max) = key.capacity(algorithm) {
            assert!(max >= 32, "every accepted key can wrap a 256-bit data key");
            let wrapped = key.encrypt(algorithm, &[0x5a; 32]).expect("encrypts within capacity");
            assert!(!wrapped.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), || {
        if let Ok(key) = WrappingKey::from_spki_der(data) {
            exercise(&key);
            // The same DER through PEM armour parses too.
            let armoured = pem::encode(data, "PUBLIC KEY");
            assert_eq!(pem::decode(&armoured, "PUBLIC KEY").expect("round trip"), data);
            assert!(WrappingKey::from_pem(&armoured).is_ok());
        }
        let Ok(text) = std::str::from_utf8(data) else { return };
        if let Ok(der) = pem::decode(text, "PUBLIC KEY") {
            assert!(der.len() <= text.len(), "base64 only shrinks");
        }
        if let Ok(key) = WrappingKey::from_pem(text) {
            exercise(&key);
        }
    });
});
