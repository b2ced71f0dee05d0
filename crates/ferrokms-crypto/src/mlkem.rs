//! ML-KEM-768 keys (FIPS 203) and the hybrid encryption built on them: a fresh encapsulation per
//! message, then AES-256-GCM under the shared secret. The body is documented in
//! `docs/ciphertext-format.md` ("Post-quantum hybrid body").
//!
//! Material is the 64-byte FIPS 203 seed d ‖ z (ML-KEM.KeyGen_internal's inputs). aws-lc-rs 1.19
//! cannot build a decapsulation key from a seed (its `DecapsulationKey::new` takes only the
//! 2400-byte expanded key, and its generated keys do not reveal their seed), so preparing a key
//! runs the seed expansion with RustCrypto `ml-kem` 0.3 (`DecapsulationKey::from_seed`, once per
//! prepared key), hands the expanded key dk = dk_PKE ‖ ek ‖ H(ek) ‖ z to aws-lc-rs, and keeps only
//! aws-lc-rs's keys: every encapsulation and decapsulation is aws-lc-rs's, 5-7x faster than
//! `ml-kem`'s. The expanded bytes are wiped as soon as aws-lc has them, and the transient `ml-kem`
//! key wipes itself (feature `zeroize`). The ACVP keyGen vector checks the expansion; the ACVP
//! encapDecap vector checks aws-lc-rs's decapsulation from the expanded key.
//!
//! The public key's SPKI is the IETF LAMPS encoding (draft-ietf-lamps-kyber-certificates):
//! `SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.4.2 } , BIT STRING ek }`, 1206 bytes, as written
//! by `ml-kem`'s `pkcs8` feature (aws-lc-rs 1.19 has no SPKI for KEM keys).
//!
//! The AES-256-GCM key is the shared secret itself: FIPS 203 (section 3.3) says K may be used
//! directly as a symmetric key, and each K is fresh and used for exactly one message, so a KDF
//! would add a step for other implementations without adding security.

use aws_lc_rs::kem::{AlgorithmId, Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768};
use ml_kem::pkcs8::EncodePublicKey;
use ml_kem::{KeyExport, MlKem768, Seed};
use zeroize::{Zeroize, Zeroizing};

use crate::aead::{NONCE_LEN, SymmetricAlgorithm, SymmetricKey, TAG_LEN};
use crate::{CryptoError, random};

/// Length of the seed d ‖ z.
pub(crate) const SEED_LEN: usize = 64;
/// Length of an ML-KEM-768 ciphertext.
pub const KEM_CIPHERTEXT_LEN: usize = 1088;
/// Bytes a hybrid body has besides the encrypted message: KEM ciphertext, nonce, tag.
pub const HYBRID_OVERHEAD: usize = KEM_CIPHERTEXT_LEN + NONCE_LEN + TAG_LEN;

/// Generates a seed d ‖ z: 64 random bytes (FIPS 203 draws d and z independently).
pub(crate) fn generate() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random::secret_bytes(SEED_LEN)
}

/// A prepared ML-KEM-768 decapsulation key.
pub(crate) struct MlKemKey {
    decapsulation: DecapsulationKey<AlgorithmId>,
    encapsulation: EncapsulationKey<AlgorithmId>,
    spki: Vec<u8>,
}

/// What a seed expands to.
struct Expanded {
    /// The FIPS 203 expanded decapsulation key dk_PKE ‖ ek ‖ H(ek) ‖ z.
    dk: Zeroizing<Vec<u8>>,
    /// The encapsulation key.
    ek: Vec<u8>,
    /// The encapsulation key's SPKI.
    spki: Vec<u8>,
}

/// Expands a seed d ‖ z with RustCrypto `ml-kem`.
fn expand(seed: &[u8]) -> Result<Expanded, CryptoError> {
    let seed =
        Zeroizing::new(Seed::try_from(seed).map_err(|_| CryptoError::InvalidKey("an ML-KEM-768 seed is 64 bytes"))?);
    let key = ml_kem::DecapsulationKey::<MlKem768>::from_seed(*seed);
    #[allow(deprecated)] // The expanded form is what aws-lc-rs reads; ml-kem marks it legacy.
    let mut expanded = ml_kem::ExpandedKeyEncoding::to_expanded_bytes(&key);
    let dk = Zeroizing::new(expanded.to_vec());
    expanded.as_mut_slice().zeroize();
    let ek = key.encapsulation_key();
    let spki = ek.to_public_key_der().map_err(|_| CryptoError::Failure)?.as_bytes().to_vec();
    Ok(Expanded { dk, ek: ek.to_bytes().to_vec(), spki })
}

/// aws-lc-rs's decapsulation key from the 2400-byte expanded form.
fn decapsulation_key(expanded: &[u8]) -> Result<DecapsulationKey<AlgorithmId>, CryptoError> {
    DecapsulationKey::new(&ML_KEM_768, expanded).map_err(|_| CryptoError::InvalidKey("ML-KEM-768 key rejected"))
}

impl MlKemKey {
    /// Prepares a 64-byte seed d ‖ z.
    pub(crate) fn new(seed: &[u8]) -> Result<Self, CryptoError> {
        if seed.len() != SEED_LEN {
            return Err(CryptoError::InvalidKey("an ML-KEM-768 seed is 64 bytes"));
        }
        let Expanded { dk, ek, spki } = expand(seed)?;
        Ok(Self {
            decapsulation: decapsulation_key(&dk)?,
            encapsulation: EncapsulationKey::new(&ML_KEM_768, &ek)
                .map_err(|_| CryptoError::InvalidKey("ML-KEM-768 key rejected"))?,
            spki,
        })
    }

    /// The SubjectPublicKeyInfo DER of the encapsulation key (IETF LAMPS encoding).
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// Seals `plaintext`: KEM ciphertext ‖ nonce ‖ AES-256-GCM ciphertext ‖ tag, `aad` bound.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (kem_ct, shared) = self.encapsulation.encapsulate().map_err(|_| CryptoError::Failure)?;
        let key = SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, shared.as_ref())?;
        let nonce = random::array::<NONCE_LEN>()?;
        let sealed = key.seal(&nonce, aad, plaintext)?;
        let mut body = Vec::with_capacity(HYBRID_OVERHEAD + plaintext.len());
        body.extend_from_slice(kem_ct.as_ref());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(body)
    }

    /// Opens a body made by [`MlKemKey::seal`] with the same `aad`.
    pub(crate) fn open(&self, aad: &[u8], body: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if body.len() < HYBRID_OVERHEAD {
            return Err(CryptoError::Malformed("hybrid body shorter than its KEM ciphertext, nonce and tag"));
        }
        let (kem_ct, rest) = body.split_at(KEM_CIPHERTEXT_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        // A tampered KEM ciphertext decapsulates (implicit rejection) to a key that fails the tag.
        let shared =
            self.decapsulation.decapsulate(Ciphertext::from(kem_ct)).map_err(|_| CryptoError::AuthenticationFailed)?;
        let key = SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, shared.as_ref())?;
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed("nonce"))?;
        key.open(nonce, aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    #[allow(deprecated)]
    use ml_kem::ExpandedKeyEncoding;
    use ml_kem::{Decapsulate, TryKeyInit};

    use super::*;
    use crate::test_vectors::{ml_kem, unhex};

    /// ACVP ML-KEM-keyGen-FIPS203, ML-KEM-768 tcId 26: the seed d ‖ z expands to ACVP's ek and dk.
    #[test]
    fn acvp_keygen() {
        let v = &ml_kem()["keyGen"];
        let seed = [unhex(&v["d"]), unhex(&v["z"])].concat();
        let Expanded { dk, ek, spki } = expand(&seed).unwrap();
        assert_eq!(ek, unhex(&v["ek"]));
        assert_eq!(&dk[..], &unhex(&v["dk"])[..]);
        let key = MlKemKey::new(&seed).unwrap();
        assert_eq!(key.public_key_der(), spki);
        // SEQUENCE(1202) { SEQUENCE(11) { OID 2.16.840.1.101.3.4.4.2 }, BIT STRING(1185) { 00, ek } }
        let prefix = hex::decode("308204b2300b0609608648016503040402038204a100").unwrap();
        assert_eq!(spki.len(), 1206);
        assert_eq!(&spki[..prefix.len()], &prefix[..]);
        assert_eq!(&spki[prefix.len()..], &ek[..]);
    }

    /// The LAMPS drafts' example seed gives the drafts' SPKI.
    #[test]
    fn lamps_example_spki() {
        let v = &ml_kem()["lampsExample"];
        let key = MlKemKey::new(&unhex(&v["seed"])).unwrap();
        assert_eq!(key.public_key_der(), unhex(&v["spki"]));
    }

    /// ACVP ML-KEM-encapDecap-FIPS203, ML-KEM-768 tcId 26: aws-lc-rs decapsulates ACVP's c under
    /// ACVP's expanded dk to ACVP's k (the path every prepared key takes), and a tampered c
    /// decapsulates to the same implicit-rejection key in aws-lc-rs and in RustCrypto.
    #[test]
    fn acvp_decapsulation_and_implicit_rejection() {
        let v = &ml_kem()["encapDecap"];
        let dk = unhex(&v["dk"]);
        let c = unhex(&v["c"]);
        let k = unhex(&v["k"]);
        let aws = decapsulation_key(&dk).unwrap();
        assert_eq!(aws.decapsulate(Ciphertext::from(&c[..])).unwrap().as_ref(), &k[..]);
        // The vector itself: RustCrypto's deterministic encapsulation with ACVP's m gives c and k.
        let ek = ml_kem::EncapsulationKey::<MlKem768>::new_from_slice(&unhex(&v["ek"])).unwrap();
        let m = unhex(&v["m"]);
        let (c2, k2) = ek.encapsulate_deterministic(m.as_slice().try_into().unwrap());
        assert_eq!(c2.as_slice(), &c[..]);
        assert_eq!(k2.as_slice(), &k[..]);
        let mut bad = c;
        bad[500] ^= 1;
        let rejected = aws.decapsulate(Ciphertext::from(&bad[..])).unwrap();
        assert_ne!(rejected.as_ref(), &k[..]);
        #[allow(deprecated)]
        let rc = ml_kem::DecapsulationKey::<MlKem768>::from_expanded_bytes(dk.as_slice().try_into().unwrap()).unwrap();
        let rc_rejected = rc.decapsulate(bad.as_slice().try_into().unwrap());
        assert_eq!(rejected.as_ref(), rc_rejected.as_slice());
    }

    /// Another implementation opens our body from the documented format alone: RustCrypto
    /// `ml-kem` decapsulates with a key made from the same seed, RustCrypto `aes-gcm` decrypts.
    #[test]
    fn rustcrypto_opens_our_hybrid_body() {
        let seed = generate().unwrap();
        let key = MlKemKey::new(&seed).unwrap();
        let aad = b"key-id:v1";
        let msg = b"post-quantum plaintext";
        let body = key.seal(aad, msg).unwrap();
        assert_eq!(body.len(), 1088 + 12 + msg.len() + 16);

        let rc = ml_kem::DecapsulationKey::<MlKem768>::from_seed(Seed::try_from(&seed[..]).unwrap());
        let shared = rc.decapsulate(body[..1088].try_into().unwrap());
        let gcm = Aes256Gcm::new_from_slice(shared.as_slice()).unwrap();
        let nonce = Nonce::try_from(&body[1088..1100]).unwrap();
        let opened = gcm.decrypt(&nonce, Payload { msg: &body[1100..], aad }).unwrap();
        assert_eq!(opened, msg);
        assert!(gcm.decrypt(&nonce, Payload { msg: &body[1100..], aad: b"other" }).is_err());
    }

    /// And the other way: a body built by RustCrypto from the SPKI's encapsulation key opens.
    #[test]
    fn we_open_a_rustcrypto_body() {
        use ml_kem::pkcs8::DecodePublicKey;

        let key = MlKemKey::new(&generate().unwrap()).unwrap();
        let ek = ml_kem::EncapsulationKey::<MlKem768>::from_public_key_der(&key.public_key_der()).unwrap();
        // Encaps with a fresh random m (FIPS 203 ML-KEM.Encaps = Encaps_internal(ek, random m)).
        let m = random::array::<32>().unwrap();
        let (c, shared) = ek.encapsulate_deterministic(&m.into());
        let nonce = [9u8; 12];
        let gcm = Aes256Gcm::new_from_slice(shared.as_slice()).unwrap();
        let sealed = gcm.encrypt(&Nonce::from(nonce), Payload { msg: b"from elsewhere", aad: b"ctx" }).unwrap();
        let body = [c.as_slice(), &nonce, &sealed].concat();
        assert_eq!(&key.open(b"ctx", &body).unwrap()[..], b"from elsewhere");
    }

    #[test]
    fn round_trip_tampering_and_lengths() {
        let key = MlKemKey::new(&generate().unwrap()).unwrap();
        let body = key.seal(b"aad", b"secret").unwrap();
        assert_eq!(&key.open(b"aad", &body).unwrap()[..], b"secret");
        assert_eq!(key.open(b"other", &body).unwrap_err(), CryptoError::AuthenticationFailed);
        for at in [0, 600, 1087, 1088, 1099, 1100, body.len() - 1] {
            let mut bad = body.clone();
            bad[at] ^= 1;
            assert_eq!(key.open(b"aad", &bad).unwrap_err(), CryptoError::AuthenticationFailed, "byte {at}");
        }
        assert!(matches!(key.open(b"aad", &body[..HYBRID_OVERHEAD - 1]), Err(CryptoError::Malformed(_))));
        let empty = key.seal(b"", b"").unwrap();
        assert_eq!(empty.len(), HYBRID_OVERHEAD);
        assert!(key.open(b"", &empty).unwrap().is_empty());
        // Two seals of the same message differ (fresh encapsulation and nonce).
        assert_ne!(key.seal(b"aad", b"secret").unwrap(), body);
        // Another key cannot open it.
        let other = MlKemKey::new(&generate().unwrap()).unwrap();
        assert_eq!(other.open(b"aad", &body).unwrap_err(), CryptoError::AuthenticationFailed);
        assert!(MlKemKey::new(&[0u8; 63]).is_err());
        assert!(MlKemKey::new(&[0u8; 2400]).is_err());
    }
}
