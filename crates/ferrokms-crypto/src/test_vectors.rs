//! The known-answer vectors under `tests/vectors/`, for the unit tests of every family.

use std::sync::LazyLock;

use serde_json::Value;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("vector file is JSON")
}

static OPENSSL: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../tests/vectors/openssl-3.0.json")));
static ML_KEM: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../tests/vectors/ml-kem-768.json")));
static ML_DSA: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../tests/vectors/ml-dsa-65.json")));
static BLOB_FORMAT_1: LazyLock<Value> = LazyLock::new(|| parse(include_str!("../tests/vectors/blob-format-1.json")));

/// Keys, signatures and ciphertexts made with the OpenSSL 3.0 CLI, plus RFC 6979 A.2.5.
pub(crate) fn openssl() -> &'static Value {
    &OPENSSL
}

/// ML-KEM-768 cases from NIST ACVP.
pub(crate) fn ml_kem() -> &'static Value {
    &ML_KEM
}

/// ML-DSA-65 cases from NIST ACVP and Wycheproof.
pub(crate) fn ml_dsa() -> &'static Value {
    &ML_DSA
}

/// Format-1 ciphertext blobs sealed by the last code that wrote format 1, with their key
/// material: they must open forever.
pub(crate) fn blob_format_1() -> &'static Value {
    &BLOB_FORMAT_1
}

/// The bytes of a hex string field.
pub(crate) fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("hex field is hex")
}
