//! Encryption contexts: JSON objects of strings bound to a ciphertext as associated data.
//!
//! The canonical form is the compact JSON of the pairs with keys sorted, so `{"b":"2","a":"1"}`
//! and `{"a": "1", "b": "2"}` bind the same ciphertext. An absent, empty or `{}` context is the
//! empty byte string.

use std::collections::BTreeMap;

use crate::Error;

/// Longest context accepted, in characters (the Tencent limit).
pub const MAX_CONTEXT_CHARS: usize = 1024;

/// A parsed encryption context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// Parses the JSON text a caller sent in field `field`.
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        if text.chars().count() > MAX_CONTEXT_CHARS {
            return Err(Error::invalid(field, format!("longer than {MAX_CONTEXT_CHARS} characters")));
        }
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<StrictPairs>(text) {
            Ok(StrictPairs(pairs)) => Ok(Self(pairs)),
            Err(e) if e.is_data() && e.to_string().starts_with(DUPLICATE) => {
                Err(Error::invalid(field, "a key appears more than once"))
            }
            Err(e) if e.is_data() && e.to_string().starts_with(NOT_STRING) => {
                Err(Error::invalid(field, "values must be strings"))
            }
            Err(_) => Err(Error::invalid(field, "not a JSON object")),
        }
    }

    /// The canonical bytes bound as associated data.
    pub fn canonical(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    /// Builds a context from its canonical bytes (as stored with hosted data keys).
    pub fn from_canonical(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::default();
        }
        Self(serde_json::from_slice(bytes).unwrap_or_default())
    }
}

const DUPLICATE: &str = "duplicate key";
const NOT_STRING: &str = "value not a string";

/// A JSON object of strings, refusing a key given twice: a generic JSON map keeps the last value,
/// so `{"a":"1","a":"2"}` would silently bind as `{"a":"2"}` while the caller may have meant
/// either.
struct StrictPairs(BTreeMap<String, String>);

impl<'de> serde::Deserialize<'de> for StrictPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = StrictPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StrictPairs, A::Error> {
                use serde::de::Error as _;
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<serde_json::Value>()?;
                    let serde_json::Value::String(value) = value else {
                        return Err(A::Error::custom(NOT_STRING));
                    };
                    if out.insert(key, value).is_some() {
                        return Err(A::Error::custom(DUPLICATE));
                    }
                }
                Ok(StrictPairs(out))
            }
        }
        d.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_spacing_do_not_matter() {
        let a = EncryptionContext::parse("c", r#"{"b":"2","a":"1"}"#).unwrap();
        let b = EncryptionContext::parse("c", r#"{"a": "1", "b": "2"}"#).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.canonical(), br#"{"a":"1","b":"2"}"#);
        assert_eq!(EncryptionContext::from_canonical(&a.canonical()), a);
    }

    #[test]
    fn empty_forms_are_equal() {
        for t in ["", "  ", "{}"] {
            assert!(EncryptionContext::parse("c", t).unwrap().canonical().is_empty());
        }
    }

    #[test]
    fn rejects_what_is_not_an_object_of_strings() {
        for t in ["[]", "\"x\"", "{\"a\":1}", "{\"a\":{}}", "{", "null"] {
            assert!(EncryptionContext::parse("c", t).is_err(), "{t}");
        }
        for t in [r#"{"a":"1","a":"2"}"#, r#"{"a":"1","b":"x","a":"1"}"#] {
            let e = EncryptionContext::parse("c", t).unwrap_err();
            assert!(e.to_string().contains("more than once"), "{t}: {e}");
        }
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(1100));
        assert!(EncryptionContext::parse("c", &long).is_err());
    }
}
