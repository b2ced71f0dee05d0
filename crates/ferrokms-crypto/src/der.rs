//! Framing checks on DER that the crypto libraries read leniently. AWS-LC's PKCS#8 reader
//! ignores bytes after the `PrivateKeyInfo`; imported material must be exactly one document, so
//! this reads the outer structure with the `der`/`pkcs8` crates (parsing only; the key itself
//! is still checked by the library that uses it).

use sm2::pkcs8::der::Decode;
use sm2::pkcs8::{ObjectIdentifier, PrivateKeyInfoRef};

use crate::CryptoError;

/// rsaEncryption (PKCS #1).
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480).
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Checks that `material` is exactly one PKCS#8 `PrivateKeyInfo` for the algorithm `oid`.
pub(crate) fn exact_pkcs8(material: &[u8], oid: ObjectIdentifier) -> Result<(), CryptoError> {
    let info = PrivateKeyInfoRef::from_der(material).map_err(|_| CryptoError::InvalidKey("not one PKCS#8 document"))?;
    if info.algorithm.oid != oid {
        return Err(CryptoError::InvalidKey("PKCS#8 key of another algorithm"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vectors::{openssl, unhex};

    #[test]
    fn accepts_one_document_and_nothing_more() {
        let rsa = unhex(&openssl()["rsa2048"]["pkcs8"]);
        let ec = unhex(&openssl()["p256"]["pkcs8"]);
        assert!(exact_pkcs8(&rsa, RSA_ENCRYPTION).is_ok());
        assert!(exact_pkcs8(&ec, EC_PUBLIC_KEY).is_ok());
        assert!(exact_pkcs8(&rsa, EC_PUBLIC_KEY).is_err());
        let mut longer = rsa.clone();
        longer.push(0);
        assert!(exact_pkcs8(&longer, RSA_ENCRYPTION).is_err());
        assert!(exact_pkcs8(&rsa[..rsa.len() - 1], RSA_ENCRYPTION).is_err());
        assert!(exact_pkcs8(b"", RSA_ENCRYPTION).is_err());
    }
}
