//! SM2 keys (RustCrypto `sm2` 0.14, GB/T 32918): SM2DSA signatures with SM3 and the default
//! user id `1234567812345678`, and SM2 decryption of the raw GM/T 0003 layout
//! `04 ‖ C1 ‖ C3 ‖ C2` (also accepted without the leading `04`, as Python `gmssl` writes it) and
//! the GM/T 0009 DER layout `SEQUENCE { x, y, C3, C2 }`.
//!
//! Material is the 32-byte big-endian private scalar d, 1 ≤ d < n. Preparing it computes the
//! public point and Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) once, so a signature
//! costs one SM3 over the message plus the scalar arithmetic.
//!
//! Wiping: sm2 0.14's `SigningKey` and `DecryptingKey` hold copies of d and do not wipe
//! themselves (only `SecretKey` does), and this crate cannot write through them without unsafe
//! code. They therefore live in boxes that never move, and on drop each is overwritten in place
//! with the key whose scalar is 1 (a public value); `black_box` keeps the compiler from dropping
//! those stores as dead. The transient `SecretKey` used while preparing wipes itself on drop.

use std::hint::black_box;
use std::sync::LazyLock;

use sm2::dsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use sm2::dsa::signature::{RandomizedSigner, Verifier};
use sm2::dsa::{Signature, SigningKey};
use sm2::elliptic_curve::Generate;
use sm2::pkcs8::EncodePublicKey;
use sm2::pkcs8::der::asn1::{OctetStringRef, UintRef};
use sm2::pkcs8::der::{Encode, Header, Length, Tag};
use sm2::pke::{DecryptingKey, Mode};
use sm2::{NonZeroScalar, SecretKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::key::{Message, SignatureAlgorithm};
use crate::wrap::{WrapAlgorithm, WrappingKey};

/// The user id of SM2DSA signatures (GM/T 0009's default), which both clouds use.
pub const DEFAULT_ID: &str = "1234567812345678";

/// Length of the private scalar.
const SCALAR_LEN: usize = 32;
/// Length of `04 ‖ x ‖ y ‖ C3` in the raw layout: what a ciphertext has besides C2.
const RAW_OVERHEAD: usize = 1 + 64 + 32;

/// What a dropped key's secret parts are overwritten with: the keys of scalar 1.
static PLACEHOLDER: LazyLock<(SigningKey, DecryptingKey)> = LazyLock::new(|| {
    let mut one = [0u8; SCALAR_LEN];
    one[SCALAR_LEN - 1] = 1;
    let scalar = NonZeroScalar::try_from(&one[..]).expect("1 is a valid scalar");
    let signing = SigningKey::from_nonzero_scalar(DEFAULT_ID, scalar).expect("the default id is short");
    (signing, DecryptingKey::new_with_mode(scalar, Mode::C1C3C2))
});

/// Generates a private scalar.
pub(crate) fn generate() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let secret = SecretKey::try_generate().map_err(|_| CryptoError::Failure)?;
    let bytes = Zeroizing::new(secret.to_bytes());
    Ok(Zeroizing::new(bytes.to_vec()))
}

/// A prepared SM2 private key.
pub(crate) struct Sm2Key {
    signing: Box<SigningKey>,
    decrypting: Box<DecryptingKey>,
    public: WrappingKey,
    spki: Vec<u8>,
}

impl Drop for Sm2Key {
    fn drop(&mut self) {
        *self.signing = PLACEHOLDER.0.clone();
        *self.decrypting = PLACEHOLDER.1.clone();
        black_box(&*self.signing);
        black_box(&*self.decrypting);
    }
}

impl Sm2Key {
    /// Prepares a 32-byte private scalar.
    pub(crate) fn new(material: &[u8]) -> Result<Self, CryptoError> {
        if material.len() != SCALAR_LEN {
            return Err(CryptoError::InvalidKey("an SM2 private key is a 32-byte scalar"));
        }
        let secret = SecretKey::from_slice(material).map_err(|_| CryptoError::InvalidKey("SM2 scalar out of range"))?;
        let scalar = secret.to_nonzero_scalar();
        let signing = Box::new(SigningKey::new(DEFAULT_ID, &secret).map_err(|_| CryptoError::Failure)?);
        let decrypting = Box::new(DecryptingKey::new_with_mode(scalar, Mode::C1C3C2));
        let public = secret.public_key();
        let spki = public.to_public_key_der().map_err(|_| CryptoError::Failure)?.as_bytes().to_vec();
        Ok(Self { signing, decrypting, public: WrappingKey::Sm2(Box::new(public)), spki })
    }

    /// The SubjectPublicKeyInfo DER: id-ecPublicKey, curve 1.2.156.10197.1.301, the uncompressed
    /// point (91 bytes, as OpenSSL 3 writes it).
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The public half, for encryption.
    pub(crate) fn public(&self) -> &WrappingKey {
        &self.public
    }

    /// Decrypts the raw layout (with or without the leading `04`) or the DER layout.
    pub(crate) fn decrypt(
        &self,
        algorithm: WrapAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let plain = match algorithm {
            WrapAlgorithm::Sm2C1C3C2 => self.decrypt_raw(ciphertext)?,
            WrapAlgorithm::Sm2C1C3C2Der => self.decrypting.decrypt_der(ciphertext).map(Zeroizing::new).ok(),
            _ => return Err(CryptoError::KeyAlgorithmMismatch),
        };
        plain.ok_or(CryptoError::AuthenticationFailed)
    }

    /// The raw layout. Length cannot tell `04 ‖ x ‖ y ‖ C3 ‖ C2` from `x ‖ y ‖ C3 ‖ C2` (C2 is as
    /// long as the message), so a leading `04` is first read as the point's prefix, and if C3
    /// does not check the whole is read again as starting with x; anything else is read as
    /// starting with x. C3 authenticates the result either way.
    fn decrypt_raw(&self, ciphertext: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CryptoError> {
        if ciphertext.len() < RAW_OVERHEAD {
            return Err(CryptoError::Malformed("SM2 ciphertext shorter than its C1 and C3"));
        }
        if ciphertext[0] == 0x04
            && let Some(plain) = self.decrypt_parts(&ciphertext[1..])
        {
            return Ok(Some(plain));
        }
        Ok(self.decrypt_parts(ciphertext))
    }

    /// Decrypts `x ‖ y ‖ C3 ‖ C2` by re-laying it as GM/T 0009 DER (an encoding step, with the
    /// `der` crate) for sm2's DER reader. Its raw reader would cost twice as much: it checks
    /// [h]C1 ≠ O with a full scalar multiplication, which for SM2 (h = 1) the point decoding
    /// both readers do has already settled.
    fn decrypt_parts(&self, parts: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let der = raw_to_der(parts)?;
        self.decrypting.decrypt_der(&der).map(Zeroizing::new).ok()
    }

    /// Signs with SM2DSA; the signature is DER. A digest is e = SM3(Z_A ‖ M), 32 bytes.
    pub(crate) fn sign(&self, algorithm: SignatureAlgorithm, message: Message<'_>) -> Result<Vec<u8>, CryptoError> {
        check(algorithm)?;
        let mut rng = getrandom::SysRng;
        let sig: Signature = match message {
            Message::Raw(m) => self.signing.try_sign_with_rng(&mut rng, m),
            Message::Digest(e) => self.signing.sign_prehash_with_rng(&mut rng, digest(e)?),
        }
        .map_err(|_| CryptoError::Failure)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }

    /// Checks a DER signature; `Ok(false)` for any that does not verify or does not parse.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        message: Message<'_>,
        signature: &[u8],
    ) -> Result<bool, CryptoError> {
        check(algorithm)?;
        let verifying = self.signing.verifying_key();
        let digest = match message {
            Message::Digest(e) => Some(digest(e)?),
            Message::Raw(_) => None,
        };
        let Ok(sig) = Signature::from_der(signature) else {
            return Ok(false);
        };
        Ok(match (message, digest) {
            (_, Some(e)) => verifying.verify_prehash(e, &sig),
            (Message::Raw(m), None) => verifying.verify(m, &sig),
            (Message::Digest(_), None) => unreachable!("a digest was checked above"),
        }
        .is_ok())
    }
}

/// `SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 }` from `x ‖ y ‖ C3 ‖ C2`
/// (32-byte x, y and C3); `None` if it is too short.
fn raw_to_der(parts: &[u8]) -> Option<Vec<u8>> {
    if parts.len() < 96 {
        return None;
    }
    let (x, rest) = parts.split_at(32);
    let (y, rest) = rest.split_at(32);
    let (c3, c2) = rest.split_at(32);
    let (x, y) = (UintRef::new(x).ok()?, UintRef::new(y).ok()?);
    let (c3, c2) = (OctetStringRef::new(c3).ok()?, OctetStringRef::new(c2).ok()?);
    let len = [x.encoded_len().ok()?, y.encoded_len().ok()?, c3.encoded_len().ok()?, c2.encoded_len().ok()?]
        .into_iter()
        .try_fold(Length::ZERO, |sum, l| sum + l)
        .ok()?;
    let mut der = Vec::with_capacity(parts.len() + 16);
    Header::new(Tag::Sequence, len).encode_to_vec(&mut der).ok()?;
    x.encode_to_vec(&mut der).ok()?;
    y.encode_to_vec(&mut der).ok()?;
    c3.encode_to_vec(&mut der).ok()?;
    c2.encode_to_vec(&mut der).ok()?;
    Some(der)
}

fn check(algorithm: SignatureAlgorithm) -> Result<(), CryptoError> {
    if algorithm == SignatureAlgorithm::Sm2Sm3 { Ok(()) } else { Err(CryptoError::KeyAlgorithmMismatch) }
}

fn digest(e: &[u8]) -> Result<&[u8], CryptoError> {
    if e.len() == 32 { Ok(e) } else { Err(CryptoError::Malformed("an SM2DSA digest e = SM3(Z_A ‖ M) is 32 bytes")) }
}

#[cfg(test)]
mod tests {
    use sm3::{Digest, Sm3};

    use super::*;
    use crate::test_vectors::{openssl, unhex};

    fn kat_key() -> Sm2Key {
        Sm2Key::new(&unhex(&openssl()["sm2"]["scalar"])).unwrap()
    }

    /// Z_A for the default id, computed here from GB/T 32918.2's definition with the curve's
    /// published parameters, for the known-answer key.
    fn z_a(spki: &[u8]) -> [u8; 32] {
        let point = &spki[spki.len() - 64..];
        let mut h = Sm3::new();
        h.update(((DEFAULT_ID.len() * 8) as u16).to_be_bytes());
        h.update(DEFAULT_ID.as_bytes());
        for p in [
            "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
            "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
            "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
            "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
        ] {
            h.update(hex::decode(p).unwrap());
        }
        h.update(point);
        h.finalize().into()
    }

    /// The known-answer key gives OpenSSL's 91-byte SPKI; OpenSSL's SM2DSA signature (made with
    /// `-sigopt distid:1234567812345678`) verifies raw and as e = SM3(Z_A ‖ M).
    #[test]
    fn verifies_what_openssl_signed() {
        let v = openssl();
        let key = kat_key();
        let spki = key.public_key_der();
        assert_eq!(spki, unhex(&v["sm2"]["spki"]));
        assert_eq!(spki.len(), 91);
        let msg = v["msg"].as_str().unwrap().as_bytes();
        let sig = unhex(&v["sm2"]["sig"]);
        let alg = SignatureAlgorithm::Sm2Sm3;
        assert!(key.verify(alg, Message::Raw(msg), &sig).unwrap());
        let e: [u8; 32] = Sm3::new().chain_update(z_a(&spki)).chain_update(msg).finalize().into();
        assert!(key.verify(alg, Message::Digest(&e), &sig).unwrap());
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(!key.verify(alg, Message::Raw(msg), &bad).unwrap());
        assert!(!key.verify(alg, Message::Raw(b"other"), &sig).unwrap());
        assert!(!key.verify(alg, Message::Raw(msg), b"junk").unwrap());
        // Our signatures verify under the digest the same way.
        let ours = key.sign(alg, Message::Digest(&e)).unwrap();
        assert!(key.verify(alg, Message::Raw(msg), &ours).unwrap());
        let ours = key.sign(alg, Message::Raw(msg)).unwrap();
        assert!(key.verify(alg, Message::Digest(&e), &ours).unwrap());
    }

    /// OpenSSL's DER ciphertext decrypts, and so does its raw re-layout with and without `04`.
    #[test]
    fn decrypts_what_openssl_encrypted() {
        let v = openssl();
        let key = kat_key();
        let pt = v["pt"].as_str().unwrap().as_bytes();
        let der = unhex(&v["sm2"]["ct_der"]);
        let raw = unhex(&v["sm2"]["ct_raw"]);
        assert_eq!(raw.len(), RAW_OVERHEAD + pt.len());
        assert_eq!(&key.decrypt(WrapAlgorithm::Sm2C1C3C2Der, &der).unwrap()[..], pt);
        assert_eq!(&key.decrypt(WrapAlgorithm::Sm2C1C3C2, &raw).unwrap()[..], pt);
        assert_eq!(&key.decrypt(WrapAlgorithm::Sm2C1C3C2, &raw[1..]).unwrap()[..], pt);
        // The layouts are not interchangeable, and tampering is caught by C3.
        assert_eq!(key.decrypt(WrapAlgorithm::Sm2C1C3C2, &der).unwrap_err(), CryptoError::AuthenticationFailed);
        assert_eq!(key.decrypt(WrapAlgorithm::Sm2C1C3C2Der, &raw).unwrap_err(), CryptoError::AuthenticationFailed);
        for at in [1, 70, 100, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[at] ^= 1;
            assert_eq!(key.decrypt(WrapAlgorithm::Sm2C1C3C2, &bad).unwrap_err(), CryptoError::AuthenticationFailed);
        }
        assert!(matches!(key.decrypt(WrapAlgorithm::Sm2C1C3C2, &raw[..96]), Err(CryptoError::Malformed(_))));
        assert_eq!(key.decrypt(WrapAlgorithm::RsaOaepSha256, &raw).unwrap_err(), CryptoError::KeyAlgorithmMismatch);
    }

    /// Re-laying OpenSSL's raw-converted ciphertext as DER gives back OpenSSL's DER (which has a
    /// 33-byte INTEGER).
    #[test]
    fn raw_to_der_gives_back_the_der_layout() {
        let v = openssl();
        let raw = unhex(&v["sm2"]["ct_raw"]);
        assert_eq!(raw_to_der(&raw[1..]).unwrap(), unhex(&v["sm2"]["ct_der"]));
        assert!(raw_to_der(&raw[1..96]).is_none());
    }

    /// Raw ciphertexts without `04` whose x starts with the byte 04 still decrypt (the first
    /// reading fails C3 and the second succeeds).
    #[test]
    fn raw_without_04_whose_x_starts_with_04() {
        let key = Sm2Key::new(&generate().unwrap()).unwrap();
        let mut found = 0;
        for _ in 0..3000 {
            let ct = key.public().encrypt(WrapAlgorithm::Sm2C1C3C2, b"data key bytes").unwrap();
            if ct[1] == 0x04 {
                assert_eq!(&key.decrypt(WrapAlgorithm::Sm2C1C3C2, &ct[1..]).unwrap()[..], b"data key bytes");
                found += 1;
                if found == 2 {
                    break;
                }
            }
        }
        assert!(found > 0, "no x starting with 04 in 3000 tries");
    }

    #[test]
    fn material_and_requests_are_checked() {
        assert!(Sm2Key::new(&[0u8; 32]).is_err(), "zero scalar");
        assert!(Sm2Key::new(&[0xff; 32]).is_err(), "scalar above n");
        assert_eq!(
            Sm2Key::new(&[1u8; 31]).err(),
            Some(CryptoError::InvalidKey("an SM2 private key is a 32-byte scalar"))
        );
        let key = kat_key();
        assert_eq!(key.signing.to_bytes().to_vec(), unhex(&openssl()["sm2"]["scalar"]));
        assert!(matches!(
            key.sign(SignatureAlgorithm::Sm2Sm3, Message::Digest(&[0; 31])),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            key.verify(SignatureAlgorithm::Sm2Sm3, Message::Digest(&[0; 33]), b"x"),
            Err(CryptoError::Malformed(_))
        ));
        assert_eq!(
            key.sign(SignatureAlgorithm::EcdsaSha256, Message::Raw(b"x")).unwrap_err(),
            CryptoError::KeyAlgorithmMismatch
        );
    }
}
