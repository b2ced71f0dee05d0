//! The ciphertext blob: `Blob::parse` on arbitrary bytes (formats 1 and 3), `Blob::open` of
//! whatever parses (with a fixed key of the blob's algorithm: it must fail cleanly), and seal →
//! parse → open round trips (format 3, what `seal` writes) with the input as plaintext and
//! context.
#![no_main]

use ferrokms_crypto::aead::{SymmetricAlgorithm, SymmetricKey};
use ferrokms_crypto::blob::{Blob, BlobFormat, BlobHeader, PayloadKind};
use ferrokms_fuzz::bounded;
use libfuzzer_sys::fuzz_target;

fn key(algorithm: SymmetricAlgorithm) -> SymmetricKey {
    SymmetricKey::new(algorithm, &[7u8; 32][..algorithm.key_len()]).expect("a key of the right length")
}

fuzz_target!(|data: &[u8]| {
    bounded(data.len(), || {
        if let Ok(blob) = Blob::parse(data) {
            assert!(data.len() >= blob.format.header_len() + 16, "a parsed blob has a whole header and a tag");
            let opened = blob.open(&key(blob.header.algorithm), 42, b"");
            // Only a blob sealed under the fixed key (never in this corpus) could open.
            let _ = opened;
        }
        // Round trip: first byte picks the algorithm and payload kind, the rest is split into
        // context and plaintext.
        let Some((&selector, rest)) = data.split_first() else { return };
        let Some(algorithm) = SymmetricAlgorithm::from_code(selector % 5) else { return };
        let payload = if selector & 0x80 == 0 { PayloadKind::Bytes } else { PayloadKind::Text };
        let (context, plaintext) = rest.split_at(rest.len().min(usize::from(selector >> 3)));
        let header = BlobHeader { algorithm, payload, key_id: uuid_from(rest), key_version: rest.len() as u32 };
        let k = key(algorithm);
        let sealed = header.seal(&k, 42, context, plaintext).expect("sealing works");
        let parsed = Blob::parse(&sealed).expect("a sealed blob parses");
        assert_eq!(parsed.header, header);
        assert_eq!(parsed.format, BlobFormat::V3);
        assert_eq!(sealed.len(), BlobFormat::V3.header_len() + plaintext.len() + 16);
        assert_eq!(parsed.open(&k, 42, context).expect("opens").as_slice(), plaintext);
        assert!(parsed.open(&k, 43, context).is_err(), "bound to the account");
    });
});

fn uuid_from(bytes: &[u8]) -> uuid::Uuid {
    let mut b = [0u8; 16];
    for (i, x) in bytes.iter().take(16).enumerate() {
        b[i] = *x;
    }
    uuid::Uuid::from_bytes(b)
}
