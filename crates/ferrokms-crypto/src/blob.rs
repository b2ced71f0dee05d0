//! The ciphertext blob returned by Encrypt, GenerateDataKey and ReEncrypt.
//!
//! Decrypt takes no key id, so the blob names its key and version. Layout (all integers
//! big-endian), documented in `docs/ciphertext-format.md`. New blobs are format 3:
//!
//! ```text
//! offset size
//!  0     2   magic "FK"
//!  2     1   format version (3)
//!  3     1   algorithm (SymmetricAlgorithm code)
//!  4     1   payload kind (0 = bytes, 1 = text; see PayloadKind)
//!  5    16   key id (UUID)
//! 21     4   key version
//! 25    24   nonce (random)
//! 49     n   ciphertext
//! 49+n  16   tag
//! ```
//! sealed with the extended-nonce AEAD of the key's algorithm ([`crate::extended`]: XAES-256-GCM
//! for AES-256 keys; a key derived from the key and nonce[..12], then GCM with nonce[12..], for
//! the others), which random nonces keep safe for far more than 2^64 messages per key version.
//!
//! Format 1, which ferrokms wrote before, is still read: the same fields with a 12-byte nonce
//! (a 37-byte header), sealed with AES-GCM or SM4-GCM under the key version's key itself.
//!
//! The AEAD's associated data is the whole header, the owning account and the canonical
//! encryption context (see [`associated_data`]), so no header byte can be changed unnoticed and
//! a blob is bound to its account and context.
//!
//! A post-quantum blob (PostQuantumCryptoEncrypt) has format version 2 and a 25-byte header;
//! what follows is the ML-KEM-768 + AES-256-GCM hybrid body of
//! [`crate::key::PreparedKey::hybrid_seal`], whose associated data is that header, the account
//! and the context, as above:
//!
//! ```text
//! offset size
//!  0     2   magic "FK"
//!  2     1   format version (2)
//!  3     1   KEM (1 = ML-KEM-768 with AES-256-GCM)
//!  4     1   payload kind
//!  5    16   key id
//! 21     4   key version
//! 25     n   hybrid body
//! ```

use uuid::Uuid;

use crate::aead::{NONCE_LEN, SymmetricAlgorithm, SymmetricKey, TAG_LEN};
use crate::extended::EXTENDED_NONCE_LEN;
use crate::{CryptoError, random};

const MAGIC: &[u8; 2] = b"FK";
const FORMAT_HYBRID: u8 = 2;
const KEM_ML_KEM_768_AES_256_GCM: u8 = 1;
/// Length of a post-quantum blob's header.
pub const HYBRID_HEADER_LEN: usize = 25;
/// Length of a format-1 header (everything before the ciphertext).
pub const HEADER_LEN_V1: usize = 37;
/// Length of a format-3 header (everything before the ciphertext).
pub const HEADER_LEN_V3: usize = 25 + EXTENDED_NONCE_LEN;
/// What a format-3 blob adds to its plaintext: the header and the tag (a 32-byte data key makes
/// a 97-byte blob).
pub const OVERHEAD: usize = HEADER_LEN_V3 + TAG_LEN;

/// The format of a symmetric blob (byte 2). The values are on the wire: never reuse one (2 is
/// the post-quantum blob, [`HybridHeader`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BlobFormat {
    /// 12-byte random nonce, GCM under the key version's key. Read, no longer written.
    V1 = 1,
    /// 24-byte random nonce, the extended-nonce AEADs of [`crate::extended`]. What
    /// [`BlobHeader::seal`] writes.
    V3 = 3,
}

impl BlobFormat {
    /// The format new blobs are sealed in.
    pub const CURRENT: Self = Self::V3;

    /// Length of this format's header (everything before the ciphertext).
    pub fn header_len(self) -> usize {
        match self {
            Self::V1 => HEADER_LEN_V1,
            Self::V3 => HEADER_LEN_V3,
        }
    }
}

/// What the sealed bytes are, so each API dialect can give back what it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PayloadKind {
    /// Raw bytes (Tencent Encrypt decodes its base64 Plaintext; data keys).
    Bytes = 0,
    /// A text string sealed verbatim (Alibaba Encrypt's Plaintext).
    Text = 1,
}

/// The parsed header of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// Algorithm of the key version.
    pub algorithm: SymmetricAlgorithm,
    /// What the payload is.
    pub payload: PayloadKind,
    /// The key (CMK) id.
    pub key_id: Uuid,
    /// The key version that sealed the blob.
    pub key_version: u32,
}

/// A parsed blob: header plus the raw bytes needed to open it.
#[derive(Debug, Clone)]
pub struct Blob<'a> {
    /// The header fields.
    pub header: BlobHeader,
    /// Its format (1 or 3).
    pub format: BlobFormat,
    raw: &'a [u8],
}

/// The AEAD associated data: header ‖ account ‖ u32 length ‖ canonical context.
pub fn associated_data(header: &[u8], account: u64, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + 12 + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&account.to_be_bytes());
    aad.extend_from_slice(&u32::try_from(context.len()).unwrap_or(u32::MAX).to_be_bytes());
    aad.extend_from_slice(context);
    aad
}

impl BlobHeader {
    /// The fields every symmetric format shares: bytes 0 to 24.
    fn encode_fields(&self, format: BlobFormat, out: &mut [u8]) {
        out[0..2].copy_from_slice(MAGIC);
        out[2] = format as u8;
        out[3] = self.algorithm as u8;
        out[4] = self.payload as u8;
        out[5..21].copy_from_slice(self.key_id.as_bytes());
        out[21..25].copy_from_slice(&self.key_version.to_be_bytes());
    }

    /// Seals `plaintext` under `key` (which must be the material of this header's key version)
    /// as a format-3 blob with a fresh random 24-byte nonce.
    pub fn seal(
        &self,
        key: &SymmetricKey,
        account: u64,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_nonce(&random::array::<EXTENDED_NONCE_LEN>()?, key, account, context, plaintext)
    }

    fn seal_with_nonce(
        &self,
        nonce: &[u8; EXTENDED_NONCE_LEN],
        key: &SymmetricKey,
        account: u64,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut header = [0u8; HEADER_LEN_V3];
        self.encode_fields(BlobFormat::V3, &mut header);
        header[25..].copy_from_slice(nonce);
        let sealed = key.seal_extended(nonce, &associated_data(&header, account, context), plaintext)?;
        let mut out = Vec::with_capacity(HEADER_LEN_V3 + sealed.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

impl<'a> Blob<'a> {
    /// Parses the header of a format-1 or format-3 blob; the payload stays unauthenticated until
    /// [`Blob::open`].
    pub fn parse(raw: &'a [u8]) -> Result<Self, CryptoError> {
        let format = match raw {
            [b'F', b'K', 1, ..] => BlobFormat::V1,
            [b'F', b'K', 3, ..] => BlobFormat::V3,
            _ => return Err(CryptoError::Malformed("not a ferrokms ciphertext")),
        };
        if raw.len() < format.header_len() + TAG_LEN {
            return Err(CryptoError::Malformed("blob too short"));
        }
        let algorithm = SymmetricAlgorithm::from_code(raw[3]).ok_or(CryptoError::Malformed("unknown algorithm"))?;
        let payload = payload_kind(raw[4])?;
        let key_id = Uuid::from_slice(&raw[5..21]).map_err(|_| CryptoError::Malformed("key id"))?;
        let key_version = u32::from_be_bytes([raw[21], raw[22], raw[23], raw[24]]);
        Ok(Self { header: BlobHeader { algorithm, payload, key_id, key_version }, format, raw })
    }

    /// Authenticates and decrypts with the key version's material, by the blob's format.
    pub fn open(
        &self,
        key: &SymmetricKey,
        account: u64,
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let (header, body) = self.raw.split_at(self.format.header_len());
        let aad = associated_data(header, account, context);
        let nonce = &header[25..];
        match self.format {
            BlobFormat::V1 => {
                let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed("nonce"))?;
                key.open(nonce, &aad, body)
            }
            BlobFormat::V3 => {
                let nonce: &[u8; EXTENDED_NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed("nonce"))?;
                key.open_extended(nonce, &aad, body)
            }
        }
    }
}

/// The header of a post-quantum (hybrid KEM) blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridHeader {
    /// What the payload is.
    pub payload: PayloadKind,
    /// The key (CMK) id.
    pub key_id: Uuid,
    /// The key version whose ML-KEM key sealed the blob.
    pub key_version: u32,
}

impl HybridHeader {
    /// The header's bytes: the start of the blob and part of the associated data.
    pub fn encode(&self) -> [u8; HYBRID_HEADER_LEN] {
        let mut h = [0u8; HYBRID_HEADER_LEN];
        h[0..2].copy_from_slice(MAGIC);
        h[2] = FORMAT_HYBRID;
        h[3] = KEM_ML_KEM_768_AES_256_GCM;
        h[4] = self.payload as u8;
        h[5..21].copy_from_slice(self.key_id.as_bytes());
        h[21..25].copy_from_slice(&self.key_version.to_be_bytes());
        h
    }

    /// Splits a post-quantum blob into its header and its hybrid body (still unauthenticated).
    pub fn parse(raw: &[u8]) -> Result<(Self, &[u8]), CryptoError> {
        if raw.len() <= HYBRID_HEADER_LEN {
            return Err(CryptoError::Malformed("blob too short"));
        }
        if &raw[0..2] != MAGIC || raw[2] != FORMAT_HYBRID || raw[3] != KEM_ML_KEM_768_AES_256_GCM {
            return Err(CryptoError::Malformed("not a ferrokms post-quantum ciphertext"));
        }
        let payload = payload_kind(raw[4])?;
        let key_id = Uuid::from_slice(&raw[5..21]).map_err(|_| CryptoError::Malformed("key id"))?;
        let key_version = u32::from_be_bytes([raw[21], raw[22], raw[23], raw[24]]);
        Ok((Self { payload, key_id, key_version }, &raw[HYBRID_HEADER_LEN..]))
    }
}

fn payload_kind(code: u8) -> Result<PayloadKind, CryptoError> {
    match code {
        0 => Ok(PayloadKind::Bytes),
        1 => Ok(PayloadKind::Text),
        _ => Err(CryptoError::Malformed("unknown payload kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BlobHeader {
        BlobHeader {
            algorithm: SymmetricAlgorithm::Aes256Gcm,
            payload: PayloadKind::Bytes,
            key_id: Uuid::new_v4(),
            key_version: 3,
        }
    }

    const ALL: [SymmetricAlgorithm; 4] = [
        SymmetricAlgorithm::Aes256Gcm,
        SymmetricAlgorithm::Sm4Gcm,
        SymmetricAlgorithm::Aes128Gcm,
        SymmetricAlgorithm::Aes192Gcm,
    ];

    /// A format-1 blob, built as `BlobHeader::seal` built it before format 3 (the blobs of
    /// `tests/vectors/blob-format-1.json` are real ones).
    fn seal_v1(h: &BlobHeader, key: &SymmetricKey, account: u64, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = random::array::<NONCE_LEN>().unwrap();
        let mut header = [0u8; HEADER_LEN_V1];
        h.encode_fields(BlobFormat::V1, &mut header);
        header[25..].copy_from_slice(&nonce);
        let mut out = header.to_vec();
        out.extend_from_slice(&key.seal(&nonce, &associated_data(&header, account, context), plaintext).unwrap());
        out
    }

    #[test]
    fn seal_parse_open_round_trip() {
        for algorithm in ALL {
            let h = BlobHeader { algorithm, ..header() };
            let material = h.algorithm.generate().unwrap();
            let key = SymmetricKey::new(h.algorithm, &material).unwrap();
            let blob = h.seal(&key, 42, b"{\"a\":\"b\"}", b"data key").unwrap();
            assert_eq!(blob.len(), HEADER_LEN_V3 + 8 + TAG_LEN);
            assert_eq!(blob[..3], *b"FK\x03");
            let parsed = Blob::parse(&blob).unwrap();
            assert_eq!((parsed.header, parsed.format), (h, BlobFormat::V3));
            assert_eq!(&*parsed.open(&key, 42, b"{\"a\":\"b\"}").unwrap(), b"data key");
            // a 32-byte data key: 97 bytes, 132 characters of base64
            assert_eq!(h.seal(&key, 42, b"", &[0u8; 32]).unwrap().len(), 97);
            assert_eq!(OVERHEAD, 65);
        }
    }

    #[test]
    fn every_bound_value_is_checked() {
        for algorithm in ALL {
            let h = BlobHeader { algorithm, ..header() };
            let material = h.algorithm.generate().unwrap();
            let key = SymmetricKey::new(h.algorithm, &material).unwrap();
            for (format, blob) in [
                (BlobFormat::V3, h.seal(&key, 42, b"ctx", b"data key").unwrap()),
                (BlobFormat::V1, seal_v1(&h, &key, 42, b"ctx", b"data key")),
            ] {
                let parsed = Blob::parse(&blob).unwrap();
                assert_eq!(parsed.format, format);
                assert_eq!(&*parsed.open(&key, 42, b"ctx").unwrap(), b"data key");
                assert!(parsed.open(&key, 43, b"ctx").is_err(), "other account");
                assert!(parsed.open(&key, 42, b"").is_err(), "other context");
                for i in 0..blob.len() {
                    for bit in [0x01, 0x80] {
                        let mut t = blob.clone();
                        t[i] ^= bit;
                        let opened = Blob::parse(&t).and_then(|b| b.open(&key, 42, b"ctx"));
                        assert!(opened.is_err(), "{format:?} {algorithm:?}: flipping byte {i} went unnoticed");
                    }
                }
                for len in 0..blob.len() {
                    let opened = Blob::parse(&blob[..len]).and_then(|b| b.open(&key, 42, b"ctx"));
                    assert!(opened.is_err(), "{format:?}: truncation to {len} went unnoticed");
                }
                // relabelled as the other format it does not open
                let mut relabelled = blob.clone();
                relabelled[2] = if format == BlobFormat::V1 { 3 } else { 1 };
                assert!(Blob::parse(&relabelled).and_then(|b| b.open(&key, 42, b"ctx")).is_err());
            }
        }
    }

    #[test]
    fn minimum_lengths_and_unknown_formats() {
        let h = header();
        let key = SymmetricKey::new(h.algorithm, &[5u8; 32]).unwrap();
        let empty_v3 = h.seal(&key, 1, b"", b"").unwrap();
        assert_eq!(empty_v3.len(), 65);
        assert!(Blob::parse(&empty_v3).is_ok());
        assert!(Blob::parse(&empty_v3[..64]).is_err(), "a format-3 blob has at least 65 bytes");
        let empty_v1 = seal_v1(&h, &key, 1, b"", b"");
        assert_eq!(empty_v1.len(), 53);
        assert!(Blob::parse(&empty_v1).is_ok());
        assert!(Blob::parse(&empty_v1[..52]).is_err(), "a format-1 blob has at least 53 bytes");
        for format in [0u8, 2, 4, 0xFF] {
            let mut other = empty_v3.clone();
            other[2] = format;
            assert!(matches!(Blob::parse(&other), Err(CryptoError::Malformed("not a ferrokms ciphertext"))));
        }
        for short in [&b""[..], b"F", b"FK", b"FK\x03", b"FK\x01"] {
            assert!(Blob::parse(short).is_err());
        }
    }

    /// Whole format-3 blobs made by scripts/extended_nonce_vectors.py (Python `cryptography`),
    /// from the layout and AAD of docs/ciphertext-format.md: ferrokms makes the same bytes from
    /// the same nonce, and opens them.
    #[test]
    fn format_3_blobs_match_an_independent_implementation() {
        for v in crate::extended_nonce_vectors::BLOBS {
            let algorithm = SymmetricAlgorithm::from_code(v.algorithm).unwrap();
            let payload = payload_kind(v.payload).unwrap();
            let h = BlobHeader {
                algorithm,
                payload,
                key_id: Uuid::parse_str(v.key_id).unwrap(),
                key_version: v.key_version,
            };
            let key = SymmetricKey::new(algorithm, &hex::decode(v.key).unwrap()).unwrap();
            let nonce: [u8; EXTENDED_NONCE_LEN] = hex::decode(v.nonce).unwrap().try_into().unwrap();
            let plaintext = hex::decode(v.plaintext).unwrap();
            let blob = h.seal_with_nonce(&nonce, &key, v.account, v.context.as_bytes(), &plaintext).unwrap();
            assert_eq!(hex::encode(&blob), v.blob, "{algorithm:?}");
            let expected = hex::decode(v.blob).unwrap();
            let parsed = Blob::parse(&expected).unwrap();
            assert_eq!((parsed.header, parsed.format), (h, BlobFormat::V3));
            assert_eq!(*parsed.open(&key, v.account, v.context.as_bytes()).unwrap(), plaintext);
        }
    }

    /// The format-3 header byte for byte as `docs/ciphertext-format.md` documents it.
    #[test]
    fn format_3_header_layout_is_the_documented_one() {
        let key_id = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let h = BlobHeader {
            algorithm: SymmetricAlgorithm::Aes256Gcm,
            payload: PayloadKind::Bytes,
            key_id,
            key_version: 1,
        };
        let key = SymmetricKey::new(h.algorithm, &[1u8; 32]).unwrap();
        let nonce: [u8; 24] = core::array::from_fn(|i| 0xA0 + i as u8);
        let blob = h.seal_with_nonce(&nonce, &key, 7, b"", b"").unwrap();
        let documented = [
            0x46, 0x4B, 0x03, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC,
            0xDD, 0xEE, 0xFF, 0x00, 0x00, 0x00, 0x01,
        ];
        assert_eq!(blob[..25], documented);
        assert_eq!(blob[25..49], nonce);
        assert_eq!(blob.len(), 49 + 16);
        // the tag is XAES-256-GCM's over the 49-byte header, the account and the empty context
        let aad = associated_data(&blob[..49], 7, b"");
        assert_eq!(aad.len(), 49 + 12);
        assert_eq!(key.seal_extended(&nonce, &aad, b"").unwrap(), blob[49..]);
    }

    /// The format-1 blobs of `tests/vectors/blob-format-1.json`, sealed by the code that wrote
    /// format 1 (before format 3), still parse to their header and open with their material,
    /// account and context; with another account or context they do not.
    #[test]
    fn format_1_blobs_of_the_fixture_still_open() {
        use base64::Engine;
        let cases = crate::test_vectors::blob_format_1()["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 5);
        for c in cases {
            let raw = base64::engine::general_purpose::STANDARD.decode(c["blob"].as_str().unwrap()).unwrap();
            let algorithm = SymmetricAlgorithm::from_code(c["algorithm"].as_u64().unwrap() as u8).unwrap();
            let material = crate::test_vectors::unhex(&c["material"]);
            let key = SymmetricKey::new(algorithm, &material).unwrap();
            let account = c["account"].as_u64().unwrap();
            let context = c["context"].as_str().unwrap().as_bytes();
            let plaintext = crate::test_vectors::unhex(&c["plaintext"]);
            assert_eq!(raw[..3], *b"FK\x01");
            assert_eq!(raw.len(), 37 + plaintext.len() + 16);
            let parsed = Blob::parse(&raw).unwrap();
            assert_eq!(parsed.format, BlobFormat::V1);
            let payload = if c["payload"] == 1 { PayloadKind::Text } else { PayloadKind::Bytes };
            let key_id = Uuid::parse_str(c["key_id"].as_str().unwrap()).unwrap();
            let key_version = c["key_version"].as_u64().unwrap() as u32;
            assert_eq!(parsed.header, BlobHeader { algorithm, payload, key_id, key_version });
            assert_eq!(*parsed.open(&key, account, context).unwrap(), plaintext, "{c}");
            assert!(parsed.open(&key, account + 1, context).is_err());
            assert!(parsed.open(&key, account, b"{\"other\":\"1\"}").is_err());
        }
    }

    /// The format-2 header and its associated data, byte for byte as `docs/ciphertext-format.md`
    /// documents them (section "Post-quantum blob (format 2)").
    #[test]
    fn hybrid_header_layout_is_the_documented_one() {
        let key_id = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let h = HybridHeader { payload: PayloadKind::Bytes, key_id, key_version: 1 };
        let documented = [
            0x46, 0x4B, 0x02, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC,
            0xDD, 0xEE, 0xFF, 0x00, 0x00, 0x00, 0x01,
        ];
        assert_eq!(HYBRID_HEADER_LEN, 25);
        assert_eq!(h.encode(), documented);
        // offset 4: payload kind; offsets 21-24: the version, big-endian
        let text = HybridHeader { payload: PayloadKind::Text, key_id, key_version: 0x0102_0304 }.encode();
        assert_eq!(text[4], 1);
        assert_eq!(text[21..25], [1, 2, 3, 4]);
        assert_eq!(text[..4], documented[..4]);
        assert_eq!(text[5..21], documented[5..21]);
        // header ‖ account (u64) ‖ len(context) (u32) ‖ context; Tencent's empty context: 37 bytes
        let aad = associated_data(&documented, 0x0A0B, b"");
        assert_eq!(aad.len(), 37);
        assert_eq!(aad[..25], documented);
        assert_eq!(aad[25..33], [0, 0, 0, 0, 0, 0, 0x0A, 0x0B]);
        assert_eq!(aad[33..], [0, 0, 0, 0]);
        let aad = associated_data(&documented, 7, b"{\"a\":\"b\"}");
        assert_eq!(aad[33..37], [0, 0, 0, 9]);
        assert_eq!(&aad[37..], b"{\"a\":\"b\"}");
        // a documented header parses back to its fields; the body is what follows byte 25
        let mut blob = documented.to_vec();
        blob.extend_from_slice(&[0xEE; 1116]);
        let (parsed, body) = HybridHeader::parse(&blob).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(body.len(), 1116);
        // each of the first four bytes and the payload kind is checked
        for (at, value) in [(0, b'G'), (1, b'L'), (2, 1), (3, 2), (4, 2)] {
            let mut bad = blob.clone();
            bad[at] = value;
            assert!(HybridHeader::parse(&bad).is_err(), "byte {at} = {value} accepted");
        }
    }

    #[test]
    fn hybrid_headers_round_trip_and_are_not_v1_blobs() {
        let h = HybridHeader { payload: PayloadKind::Text, key_id: Uuid::new_v4(), key_version: 7 };
        let mut blob = h.encode().to_vec();
        blob.extend_from_slice(&[9u8; 1200]);
        let (parsed, body) = HybridHeader::parse(&blob).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(body, &[9u8; 1200][..]);
        assert!(Blob::parse(&blob).is_err(), "a hybrid blob is not a symmetric one");
        assert!(HybridHeader::parse(&blob[..HYBRID_HEADER_LEN]).is_err());
        let sym = header().seal(&SymmetricKey::new(SymmetricAlgorithm::Aes256Gcm, &[1u8; 32]).unwrap(), 1, b"", b"x");
        assert!(HybridHeader::parse(&sym.unwrap()).is_err(), "a symmetric blob is not a hybrid one");
    }
}
