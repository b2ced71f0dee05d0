//! SHA-256 in lowercase hex, as the request signatures of both clouds spell it, on the stack;
//! and domain-separated fingerprints of secrets, compared in constant time.

use aws_lc_rs::digest;

/// The lowercase hex of a SHA-256: 64 ASCII digits, no allocation.
#[derive(Clone, Copy)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        let mut out = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(digest::digest(&digest::SHA256, data), &mut out);
        Self(out)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// SHA-256 of `domain ‖ (len ‖ part)*`: a fingerprint that identifies a secret without revealing
/// it (the secrets fingerprinted are random keys of 128 bits or more, beyond any search).
pub fn fingerprint(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(domain);
    for p in parts {
        ctx.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Whether two byte strings are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_gives_the_known_digest() {
        assert_eq!(Sha256Hex::of(b"").as_str(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn fingerprints_separate_domains_and_parts() {
        let a = fingerprint(b"d1", &[b"ab", b"c"]);
        assert_eq!(a, fingerprint(b"d1", &[b"ab", b"c"]));
        assert_ne!(a, fingerprint(b"d2", &[b"ab", b"c"]));
        assert_ne!(a, fingerprint(b"d1", &[b"a", b"bc"]), "part boundaries count");
        assert!(constant_time_eq(&a, &a));
        assert!(!constant_time_eq(&a, &a[..31]));
    }
}
