//! The key vocabulary of the domain: what a key is ([`KeySpec`]), what it is for ([`KeyUsage`]),
//! and which algorithms each spec allows for each usage. One table ([`SPECS`]) holds every spec
//! of both clouds, with each dialect's name for it, so adding a key type is one row here and one
//! [`KeyKind`] in the crypto crate.
//!
//! Specs and usages are stored by their own codes ([`KeySpec::code`], [`KeyUsage::as_str`]),
//! never by a dialect's spelling.

use ferrokms_crypto::aead::SymmetricAlgorithm;
use ferrokms_crypto::key::{HmacAlgorithm, KeyKind, SignatureAlgorithm};
use ferrokms_crypto::wrap::WrapAlgorithm;

/// What a key is: its algorithm family and parameters. The discriminants are stored: never
/// reuse one. 1-4 are the codes the symmetric algorithms had before specs existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeySpec {
    /// AES-256 (GCM).
    Aes256 = 1,
    /// SM4 (GCM).
    Sm4 = 2,
    /// AES-128 (GCM).
    Aes128 = 3,
    /// AES-192 (GCM).
    Aes192 = 4,
    /// RSA, 2048-bit modulus.
    Rsa2048 = 10,
    /// RSA, 3072-bit modulus.
    Rsa3072 = 11,
    /// NIST P-256.
    EcP256 = 20,
    /// NIST P-384.
    EcP384 = 21,
    /// secp256k1.
    EcP256K = 22,
    /// SM2 (GB/T 32918).
    EcSm2 = 23,
    /// HMAC with SHA-256.
    HmacSha256 = 30,
    /// HMAC with SHA-384.
    HmacSha384 = 31,
    /// HMAC with SHA-512.
    HmacSha512 = 32,
    /// HMAC with SM3.
    HmacSm3 = 33,
    /// ML-KEM-768 with AES-256-GCM (Tencent's Kyber_AES).
    MlKem768 = 40,
    /// ML-DSA-65 (Tencent's Dilithium).
    MlDsa65 = 41,
}

/// What a key is for. Stored by [`KeyUsage::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// Encryption and decryption.
    EncryptDecrypt,
    /// Signing and verification.
    SignVerify,
    /// Generating and verifying MACs.
    GenerateVerifyMac,
}

/// An asymmetric encryption scheme (the caller encrypts with the public key, the KMS decrypts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionAlgorithm {
    /// RSAES-PKCS1-v1_5.
    RsaPkcs1V15,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
    RsaOaepSha1,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaepSha256,
    /// SM2 encryption, raw `C1 ‖ C3 ‖ C2` (C1 with or without its 0x04).
    Sm2Raw,
    /// SM2 encryption, GM/T 0009 DER `SEQUENCE { x, y, C3, C2 }`.
    Sm2Der,
}

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// RSASSA-PSS, SHA-256, 32-byte salt.
    RsaPssSha256,
    /// RSASSA-PKCS1-v1_5, SHA-256.
    RsaPkcs1Sha256,
    /// ECDSA with SHA-256 (P-256, secp256k1).
    EcdsaSha256,
    /// ECDSA with SHA-256 on P-256 only: a name that also names the curve (Tencent's
    /// `ECC_P256_R1`). See [`SigningAlgorithm::curve`].
    EcdsaP256Sha256,
    /// ECDSA with SHA-256 on secp256k1 only (Tencent's `ECC_SECP256K1`).
    EcdsaSecp256k1Sha256,
    /// ECDSA with SHA-384 (P-384).
    EcdsaSha384,
    /// SM2DSA with SM3 and the default user id.
    Sm2Dsa,
    /// ML-DSA-65.
    MlDsa65,
}

/// A MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    /// HMAC-SHA-256.
    HmacSha256,
    /// HMAC-SHA-384.
    HmacSha384,
    /// HMAC-SHA-512.
    HmacSha512,
    /// HMAC-SM3.
    HmacSm3,
}

/// One spec: its names in each dialect and what it can do.
#[derive(Debug)]
pub struct SpecInfo {
    /// The spec.
    pub spec: KeySpec,
    /// Alibaba's KeySpec name (ferrokms' own, documented, where Alibaba has none).
    pub alibaba: &'static str,
    /// Tencent's KeyUsage name for each usage this spec has (ferrokms' own, documented, where
    /// Tencent has none). The first usage is the spec's default: signing where the spec can
    /// sign (Alibaba's CreateKey rule), else its only usage.
    pub tencent: &'static [(KeyUsage, &'static str)],
    /// The name Tencent's ListAlgorithms gives the algorithm.
    pub tencent_algorithm: &'static str,
    /// The crypto layer's kind of material.
    pub kind: KeyKind,
    /// Asymmetric encryption schemes (usage EncryptDecrypt of an asymmetric key).
    pub encryption: &'static [EncryptionAlgorithm],
    /// Signature schemes (usage SignVerify).
    pub signing: &'static [SigningAlgorithm],
}

use EncryptionAlgorithm as E;
use KeyUsage::{EncryptDecrypt as ED, GenerateVerifyMac as MAC, SignVerify as SV};
use SigningAlgorithm as S;

const RSA_ENC: &[EncryptionAlgorithm] = &[E::RsaPkcs1V15, E::RsaOaepSha1, E::RsaOaepSha256];
const RSA_SIG: &[SigningAlgorithm] = &[S::RsaPssSha256, S::RsaPkcs1Sha256];

/// Every spec ferrokms serves, in the order ListAlgorithms shows them.
pub const SPECS: &[SpecInfo] = &[
    SpecInfo {
        spec: KeySpec::Aes256,
        alibaba: "Aliyun_AES_256",
        tencent: &[(ED, "ENCRYPT_DECRYPT")],
        tencent_algorithm: "AES_256",
        kind: KeyKind::Symmetric(SymmetricAlgorithm::Aes256Gcm),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::Sm4,
        alibaba: "Aliyun_SM4",
        tencent: &[(ED, "ENCRYPT_DECRYPT")],
        tencent_algorithm: "SM4",
        kind: KeyKind::Symmetric(SymmetricAlgorithm::Sm4Gcm),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::Aes128,
        alibaba: "Aliyun_AES_128",
        tencent: &[(ED, "ENCRYPT_DECRYPT")],
        tencent_algorithm: "AES_128",
        kind: KeyKind::Symmetric(SymmetricAlgorithm::Aes128Gcm),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::Aes192,
        alibaba: "Aliyun_AES_192",
        tencent: &[(ED, "ENCRYPT_DECRYPT")],
        tencent_algorithm: "AES_192",
        kind: KeyKind::Symmetric(SymmetricAlgorithm::Aes192Gcm),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::Rsa2048,
        alibaba: "RSA_2048",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_RSA_2048"), (ED, "ASYMMETRIC_DECRYPT_RSA_2048")],
        tencent_algorithm: "RSA_2048",
        kind: KeyKind::Rsa2048,
        encryption: RSA_ENC,
        signing: RSA_SIG,
    },
    SpecInfo {
        spec: KeySpec::Rsa3072,
        alibaba: "RSA_3072",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_RSA_3072"), (ED, "ASYMMETRIC_DECRYPT_RSA_3072")],
        tencent_algorithm: "RSA_3072",
        kind: KeyKind::Rsa3072,
        encryption: RSA_ENC,
        signing: RSA_SIG,
    },
    SpecInfo {
        spec: KeySpec::EcSm2,
        alibaba: "EC_SM2",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_SM2"), (ED, "ASYMMETRIC_DECRYPT_SM2")],
        tencent_algorithm: "SM2",
        kind: KeyKind::Sm2,
        encryption: &[E::Sm2Raw, E::Sm2Der],
        signing: &[S::Sm2Dsa],
    },
    SpecInfo {
        spec: KeySpec::EcP256,
        alibaba: "EC_P256",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_ECC")],
        tencent_algorithm: "ECC",
        kind: KeyKind::EcP256,
        encryption: &[],
        signing: &[S::EcdsaSha256],
    },
    SpecInfo {
        spec: KeySpec::EcP384,
        alibaba: "EC_P384",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_ECDSA384")],
        tencent_algorithm: "ECDSA384_SHA384",
        kind: KeyKind::EcP384,
        encryption: &[],
        signing: &[S::EcdsaSha384],
    },
    SpecInfo {
        spec: KeySpec::EcP256K,
        alibaba: "EC_P256K",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1")],
        tencent_algorithm: "ECC_SECP256K1",
        kind: KeyKind::EcSecp256k1,
        encryption: &[],
        signing: &[S::EcdsaSha256],
    },
    SpecInfo {
        spec: KeySpec::MlKem768,
        alibaba: "ML_KEM_768",
        tencent: &[(ED, "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES")],
        tencent_algorithm: "Kyber_AES",
        kind: KeyKind::MlKem768,
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::MlDsa65,
        alibaba: "ML_DSA_65",
        tencent: &[(SV, "ASYMMETRIC_SIGN_VERIFY_DILITHIUM")],
        tencent_algorithm: "Dilithium",
        kind: KeyKind::MlDsa65,
        encryption: &[],
        signing: &[S::MlDsa65],
    },
    SpecInfo {
        spec: KeySpec::HmacSha256,
        alibaba: "HMAC_SHA256",
        tencent: &[(MAC, "HMAC_SHA256")],
        tencent_algorithm: "HMAC_SHA256",
        kind: KeyKind::Hmac(HmacAlgorithm::Sha256),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::HmacSha384,
        alibaba: "HMAC_SHA384",
        tencent: &[(MAC, "HMAC_SHA384")],
        tencent_algorithm: "HMAC_SHA384",
        kind: KeyKind::Hmac(HmacAlgorithm::Sha384),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::HmacSha512,
        alibaba: "HMAC_SHA512",
        tencent: &[(MAC, "HMAC_SHA512")],
        tencent_algorithm: "HMAC_SHA512",
        kind: KeyKind::Hmac(HmacAlgorithm::Sha512),
        encryption: &[],
        signing: &[],
    },
    SpecInfo {
        spec: KeySpec::HmacSm3,
        alibaba: "HMAC_SM3",
        tencent: &[(MAC, "HMAC_SM3")],
        tencent_algorithm: "HMAC_SM3",
        kind: KeyKind::Hmac(HmacAlgorithm::Sm3),
        encryption: &[],
        signing: &[],
    },
];

impl KeySpec {
    /// Everything the table says about this spec.
    pub fn info(self) -> &'static SpecInfo {
        // Every variant has a row (checked by a test), so the fallback is never taken.
        SPECS.iter().find(|s| s.spec == self).unwrap_or(&SPECS[0])
    }

    /// The stored code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The spec stored under `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        SPECS.iter().map(|s| s.spec).find(|s| s.code() == code)
    }

    /// The spec Alibaba calls `name`.
    pub fn from_alibaba(name: &str) -> Option<Self> {
        SPECS.iter().find(|s| s.alibaba == name).map(|s| s.spec)
    }

    /// Alibaba's name.
    pub fn alibaba_name(self) -> &'static str {
        self.info().alibaba
    }

    /// The spec and usage a Tencent KeyUsage name denotes (`ENCRYPT_DECRYPT` is the symmetric
    /// default, resolved by the caller's configured algorithm, so it is not answered here).
    pub fn from_tencent_usage(name: &str) -> Option<(Self, KeyUsage)> {
        SPECS
            .iter()
            .filter(|s| s.kind.is_asymmetric() || matches!(s.kind, KeyKind::Hmac(_)))
            .find_map(|s| s.tencent.iter().find(|(_, n)| *n == name).map(|(u, _)| (s.spec, *u)))
    }

    /// Tencent's KeyUsage name for a key of this spec and usage.
    pub fn tencent_usage(self, usage: KeyUsage) -> &'static str {
        let info = self.info();
        info.tencent.iter().find(|(u, _)| *u == usage).or(info.tencent.first()).map_or("ENCRYPT_DECRYPT", |(_, n)| n)
    }

    /// The usages a key of this spec may have; the first is the default.
    pub fn usages(self) -> impl Iterator<Item = KeyUsage> {
        self.info().tencent.iter().map(|(u, _)| *u)
    }

    /// Whether a key of this spec may have `usage`.
    pub fn allows(self, usage: KeyUsage) -> bool {
        self.usages().any(|u| u == usage)
    }

    /// The crypto layer's kind of material.
    pub fn kind(self) -> KeyKind {
        self.info().kind
    }

    /// The symmetric AEAD of a symmetric spec.
    pub fn symmetric(self) -> Option<SymmetricAlgorithm> {
        match self.kind() {
            KeyKind::Symmetric(a) => Some(a),
            _ => None,
        }
    }

    /// The spec of a symmetric AEAD.
    pub fn of_symmetric(algorithm: SymmetricAlgorithm) -> Self {
        SPECS.iter().find(|s| s.kind == KeyKind::Symmetric(algorithm)).map_or(Self::Aes256, |s| s.spec)
    }

    /// Whether this spec has a public half.
    pub fn is_asymmetric(self) -> bool {
        self.kind().is_asymmetric()
    }

    /// The MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        match self {
            Self::HmacSha256 => Some(MacAlgorithm::HmacSha256),
            Self::HmacSha384 => Some(MacAlgorithm::HmacSha384),
            Self::HmacSha512 => Some(MacAlgorithm::HmacSha512),
            Self::HmacSm3 => Some(MacAlgorithm::HmacSm3),
            _ => None,
        }
    }

    /// Whether keys of this spec may be EXTERNAL (imported material): the symmetric AEAD keys.
    pub fn importable(self) -> bool {
        matches!(self, Self::Aes256 | Self::Sm4)
    }
}

impl KeyUsage {
    /// Stable name (used in storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT_DECRYPT",
            Self::SignVerify => "SIGN_VERIFY",
            Self::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        }
    }

    /// Parses [`KeyUsage::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::EncryptDecrypt, Self::SignVerify, Self::GenerateVerifyMac].into_iter().find(|u| u.as_str() == s)
    }

    /// Alibaba's name.
    pub fn alibaba_name(self) -> &'static str {
        match self {
            Self::EncryptDecrypt => "ENCRYPT/DECRYPT",
            Self::SignVerify => "SIGN/VERIFY",
            Self::GenerateVerifyMac => "GENERATE/VERIFY_MAC",
        }
    }

    /// Parses [`KeyUsage::alibaba_name`].
    pub fn from_alibaba(s: &str) -> Option<Self> {
        [Self::EncryptDecrypt, Self::SignVerify, Self::GenerateVerifyMac].into_iter().find(|u| u.alibaba_name() == s)
    }
}

impl EncryptionAlgorithm {
    /// The crypto layer's scheme.
    pub fn wrap(self) -> WrapAlgorithm {
        match self {
            Self::RsaPkcs1V15 => WrapAlgorithm::RsaPkcs1V15,
            Self::RsaOaepSha1 => WrapAlgorithm::RsaOaepSha1,
            Self::RsaOaepSha256 => WrapAlgorithm::RsaOaepSha256,
            Self::Sm2Raw => WrapAlgorithm::Sm2C1C3C2,
            Self::Sm2Der => WrapAlgorithm::Sm2C1C3C2Der,
        }
    }
}

impl SigningAlgorithm {
    /// The crypto layer's scheme.
    pub fn crypto(self) -> SignatureAlgorithm {
        match self {
            Self::RsaPssSha256 => SignatureAlgorithm::RsaPssSha256,
            Self::RsaPkcs1Sha256 => SignatureAlgorithm::RsaPkcs1Sha256,
            Self::EcdsaSha256 | Self::EcdsaP256Sha256 | Self::EcdsaSecp256k1Sha256 => SignatureAlgorithm::EcdsaSha256,
            Self::EcdsaSha384 => SignatureAlgorithm::EcdsaSha384,
            Self::Sm2Dsa => SignatureAlgorithm::Sm2Sm3,
            Self::MlDsa65 => SignatureAlgorithm::MlDsa65,
        }
    }

    /// The one spec a curve-specific algorithm is valid with; `None` for an algorithm that
    /// works with every spec listing it (Alibaba's `ECDSA_SHA_256` signs with EC_P256 and
    /// EC_P256K keys alike).
    pub fn curve(self) -> Option<KeySpec> {
        match self {
            Self::EcdsaP256Sha256 => Some(KeySpec::EcP256),
            Self::EcdsaSecp256k1Sha256 => Some(KeySpec::EcP256K),
            _ => None,
        }
    }

    /// The scheme as [`SpecInfo::signing`] lists it (a curve-specific ECDSA is ECDSA).
    pub fn scheme(self) -> Self {
        match self {
            Self::EcdsaP256Sha256 | Self::EcdsaSecp256k1Sha256 => Self::EcdsaSha256,
            other => other,
        }
    }

    /// Length of the digest a DIGEST message must have; `None` where only raw messages are
    /// signed (ML-DSA).
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Self::EcdsaSha384 => Some(48),
            Self::MlDsa65 => None,
            _ => Some(32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [KeySpec; 16] = [
        KeySpec::Aes256,
        KeySpec::Sm4,
        KeySpec::Aes128,
        KeySpec::Aes192,
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::EcP256,
        KeySpec::EcP384,
        KeySpec::EcP256K,
        KeySpec::EcSm2,
        KeySpec::HmacSha256,
        KeySpec::HmacSha384,
        KeySpec::HmacSha512,
        KeySpec::HmacSm3,
        KeySpec::MlKem768,
        KeySpec::MlDsa65,
    ];

    #[test]
    fn every_spec_has_one_row_and_round_trips_its_names() {
        assert_eq!(SPECS.len(), ALL.len());
        for spec in ALL {
            assert_eq!(SPECS.iter().filter(|s| s.spec == spec).count(), 1, "{spec:?}");
            assert_eq!(KeySpec::from_code(spec.code()), Some(spec));
            assert_eq!(KeySpec::from_alibaba(spec.alibaba_name()), Some(spec));
            for usage in spec.usages() {
                let name = spec.tencent_usage(usage);
                if spec.is_asymmetric() || spec.mac_algorithm().is_some() {
                    assert_eq!(KeySpec::from_tencent_usage(name), Some((spec, usage)), "{name}");
                } else {
                    assert_eq!(name, "ENCRYPT_DECRYPT");
                }
            }
        }
    }

    #[test]
    fn usages_match_what_the_spec_can_do() {
        for spec in ALL {
            let info = spec.info();
            assert_eq!(!info.signing.is_empty(), spec.allows(KeyUsage::SignVerify), "{spec:?}");
            assert_eq!(spec.mac_algorithm().is_some(), spec.allows(KeyUsage::GenerateVerifyMac), "{spec:?}");
            if !info.encryption.is_empty() {
                assert!(spec.allows(KeyUsage::EncryptDecrypt));
            }
        }
        assert_eq!(KeySpec::from_tencent_usage("ENCRYPT_DECRYPT"), None);
        assert_eq!(
            KeySpec::from_tencent_usage("ASYMMETRIC_SIGN_VERIFY_ECC"),
            Some((KeySpec::EcP256, KeyUsage::SignVerify))
        );
        assert_eq!(KeySpec::from_code(1), Some(KeySpec::Aes256), "code 1 is what stored keys already hold");
        assert_eq!(KeySpec::from_code(2), Some(KeySpec::Sm4));
        assert_eq!(KeySpec::from_code(99), None);
        assert_eq!(KeyUsage::from_alibaba("SIGN/VERIFY"), Some(KeyUsage::SignVerify));
    }

    #[test]
    fn curve_specific_algorithms_name_one_listed_spec() {
        for alg in [SigningAlgorithm::EcdsaP256Sha256, SigningAlgorithm::EcdsaSecp256k1Sha256] {
            let spec = alg.curve().unwrap();
            assert!(spec.info().signing.contains(&alg.scheme()), "{alg:?}");
            assert_eq!(alg.crypto(), alg.scheme().crypto());
            assert_eq!(alg.digest_len(), Some(32));
        }
        assert_eq!(SigningAlgorithm::EcdsaSha256.curve(), None, "ECDSA_SHA_256 fits P-256 and secp256k1");
        assert!(KeySpec::EcP256.info().signing.contains(&SigningAlgorithm::EcdsaSha256));
        assert!(KeySpec::EcP256K.info().signing.contains(&SigningAlgorithm::EcdsaSha256));
    }
}
