//! Reading public keys as callers send them: PEM armour (`-----BEGIN PUBLIC KEY-----`) or bare
//! base64 of the DER, with any line breaks. Armour is text, so this is parsing, not crypto.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::CryptoError;

/// Decodes a PEM block with the given label (e.g. `PUBLIC KEY`), or bare base64, into DER.
pub fn decode(text: &str, label: &str) -> Result<Vec<u8>, CryptoError> {
    let text = text.trim();
    let body = if text.starts_with("-----BEGIN ") {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let start = text.strip_prefix(begin.as_str()).ok_or(CryptoError::Malformed("unexpected PEM label"))?;
        let at = start.find(end.as_str()).ok_or(CryptoError::Malformed("PEM end line missing"))?;
        if !start[at + end.len()..].trim().is_empty() {
            return Err(CryptoError::Malformed("data after the PEM end line"));
        }
        &start[..at]
    } else {
        text
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(CryptoError::Malformed("empty key"));
    }
    STANDARD.decode(compact.as_bytes()).map_err(|_| CryptoError::Malformed("PEM body is not base64"))
}

/// Encodes DER as PEM with 64-character lines.
pub fn encode(der: &[u8], label: &str) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_odd_wrapping() {
        let der = (0u8..=200).collect::<Vec<_>>();
        let pem = encode(&der, "PUBLIC KEY");
        assert_eq!(decode(&pem, "PUBLIC KEY").unwrap(), der);
        let one_line = pem.replace('\n', "");
        assert_eq!(decode(&one_line, "PUBLIC KEY").unwrap(), der);
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(decode(&crlf, "PUBLIC KEY").unwrap(), der);
        assert_eq!(decode(&STANDARD.encode(&der), "PUBLIC KEY").unwrap(), der);
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("", "PUBLIC KEY").is_err());
        assert!(decode("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "PUBLIC KEY").is_err());
        assert!(decode("-----BEGIN PUBLIC KEY-----\nAAAA", "PUBLIC KEY").is_err());
        assert!(decode("not base64 at all!", "PUBLIC KEY").is_err());
    }
}
