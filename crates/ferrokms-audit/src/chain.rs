//! The line format and the chain.
//!
//! A record is one line:
//!
//! ```text
//! {"seq":N,<fields>,"prev":"<hex SHA-256 of record N-1>","hash":"<hex SHA-256 of this line up to ,"hash">"}
//! ```
//!
//! The hash covers the bytes of the line before `,"hash":` exactly as written (no
//! re-serialization, so the verifier needs no canonical form), and with them the previous hash:
//! editing, removing, inserting or swapping a record breaks the chain at that place. The first
//! record's `prev` is 64 zeros.
//!
//! Anyone who can write the files can also recompute every hash after an edit; what they cannot
//! forge are the checkpoints: a checkpoint record (`"kind":"checkpoint"`) carries an Ed25519
//! signature by the service's key over its own sequence number and the hash of the record
//! before it, so everything up to the last checkpoint is bound to a key they do not hold.

use std::time::SystemTime;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// A record's hash.
pub type Hash = [u8; 32];

/// The `prev` of the first record.
pub const GENESIS: Hash = [0; 32];

/// Length of `,"hash":"` + 64 hex digits + `"}`.
const HASH_SUFFIX: usize = 9 + 64 + 2;

/// `2025-01-02T03:04:05.123456Z` (UTC, microseconds).
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let dt = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (y, mo, day) = (dt.year(), u8::from(dt.month()), dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}.{:06}Z", d.subsec_micros())
}

/// Appends record `seq` (its `fields`: JSON object members, no braces) after `prev` to `out`,
/// newline included; returns its hash.
pub fn append(out: &mut Vec<u8>, seq: u64, fields: &[u8], prev: &Hash) -> Hash {
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    let _ = std::io::Write::write_fmt(out, format_args!("{seq}")); // a Vec's write cannot fail
    out.push(b',');
    out.extend_from_slice(fields);
    out.extend_from_slice(b",\"prev\":\"");
    push_hex(out, prev);
    out.push(b'"');
    let hash = sha256(&out[start..]);
    out.extend_from_slice(b",\"hash\":\"");
    push_hex(out, &hash);
    out.extend_from_slice(b"\"}\n");
    hash
}

/// Lowercase hex of `hash`, without the String that `hex::encode` builds char by char (this is
/// the writer thread's hot loop).
fn push_hex(out: &mut Vec<u8>, hash: &Hash) {
    let mut digits = [0u8; 64];
    // Cannot fail: 64 digits for 32 bytes.
    if hex::encode_to_slice(hash, &mut digits).is_ok() {
        out.extend_from_slice(&digits);
    }
}

fn sha256(bytes: &[u8]) -> Hash {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

/// What a checkpoint signs: its sequence number and the chain's head before it.
pub fn checkpoint_message(seq: u64, prev: &Hash) -> Vec<u8> {
    format!("ferrokms-audit/v1 checkpoint {seq} {}", hex::encode(prev)).into_bytes()
}

/// A checkpoint's fields (JSON members), given its signature and the signer's public key.
pub fn checkpoint_fields(time: SystemTime, public_key: &[u8], signature: &[u8]) -> Vec<u8> {
    format!(
        r#""kind":"checkpoint","time":"{}","public_key":"{}","signature":"{}""#,
        timestamp(time),
        hex::encode(public_key),
        STANDARD.encode(signature)
    )
    .into_bytes()
}

/// A line read back.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Its sequence number.
    pub seq: u64,
    /// `request` or `checkpoint`.
    pub kind: String,
    /// The previous record's hash, as this record names it.
    pub prev: Hash,
    /// This record's hash (checked against its bytes).
    pub hash: Hash,
    /// A checkpoint's public key.
    pub public_key: Option<Vec<u8>>,
    /// A checkpoint's signature.
    pub signature: Option<Vec<u8>>,
    /// Whether `hash` is the hash of the line's bytes (false: the record was edited).
    pub intact: bool,
}

#[derive(Deserialize)]
struct Head {
    seq: u64,
    kind: String,
    prev: String,
    hash: String,
    public_key: Option<String>,
    signature: Option<String>,
}

fn hash_of_hex(s: &str, what: &str) -> Result<Hash, String> {
    let bytes = hex::decode(s).map_err(|_| format!("{what} is not hex"))?;
    bytes.try_into().map_err(|_| format!("{what} is not 32 bytes"))
}

/// Parses one line (without its newline) and checks that its hash matches its bytes.
pub fn parse(line: &[u8]) -> Result<Parsed, String> {
    let p = read(line)?;
    if !p.intact {
        return Err(format!("record {} was edited: its hash does not match its contents", p.seq));
    }
    Ok(p)
}

/// Parses one line (without its newline); [`Parsed::intact`] tells whether its hash holds.
pub fn read(line: &[u8]) -> Result<Parsed, String> {
    let head: Head = serde_json::from_slice(line).map_err(|e| format!("not a record ({e})"))?;
    if line.len() < HASH_SUFFIX || !line[line.len() - HASH_SUFFIX..].starts_with(b",\"hash\":\"") {
        return Err("the hash is not the record's last field".into());
    }
    let hash = hash_of_hex(&head.hash, "hash")?;
    let intact = sha256(&line[..line.len() - HASH_SUFFIX]) == hash;
    let decode = |s: Option<String>, hexed: bool| -> Result<Option<Vec<u8>>, String> {
        s.map(|s| if hexed { hex::decode(s).map_err(|_| ()) } else { STANDARD.decode(s).map_err(|_| ()) })
            .transpose()
            .map_err(|()| "a checkpoint field is not well-formed".to_string())
    };
    Ok(Parsed {
        seq: head.seq,
        prev: hash_of_hex(&head.prev, "prev")?,
        hash,
        public_key: decode(head.public_key, true)?,
        signature: decode(head.signature, false)?,
        kind: head.kind,
        intact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_parses_back_and_its_hash_covers_prev_and_fields() {
        let mut out = Vec::new();
        let h1 = append(&mut out, 1, br#""kind":"request","code":"OK""#, &GENESIS);
        let h2 = append(&mut out, 2, br#""kind":"request","code":"OK""#, &h1);
        assert_ne!(h1, h2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let p1 = parse(lines[0].as_bytes()).unwrap();
        let p2 = parse(lines[1].as_bytes()).unwrap();
        assert_eq!((p1.seq, p1.prev, p1.hash), (1, GENESIS, h1));
        assert_eq!((p2.seq, p2.prev, p2.hash), (2, h1, h2));
        let edited = lines[1].replace("\"OK\"", "\"NO\"");
        assert!(parse(edited.as_bytes()).unwrap_err().contains("edited"));
        assert!(parse(b"{\"seq\":1}").is_err());
    }
}
