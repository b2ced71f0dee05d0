//! SHA-256 in lowercase hex, as the request signatures of both clouds spell it, on the stack.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_gives_the_known_digest() {
        assert_eq!(Sha256Hex::of(b"").as_str(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
