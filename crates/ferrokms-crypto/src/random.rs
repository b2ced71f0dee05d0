//! The CSPRNG: the operating system's generator, reached through aws-lc-rs.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Fills `out` with cryptographically secure random bytes.
pub fn fill(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(out).map_err(|_| CryptoError::Failure)
}

/// Returns `len` random bytes in a buffer that is wiped on drop.
pub fn secret_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    fill(&mut out)?;
    Ok(out)
}

/// Returns a random array (nonces, salts).
pub fn array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ_and_have_the_asked_length() {
        let a = secret_bytes(32).unwrap();
        let b = secret_bytes(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(*a, *b);
        assert_eq!(secret_bytes(0).unwrap().len(), 0);
    }
}
