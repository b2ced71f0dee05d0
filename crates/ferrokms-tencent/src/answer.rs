//! An action's answer, written once, straight into the response body: `{"Response":` and the
//! action's fields, then `RequestId` and the closing braces. Hot actions serialize their own
//! types (base64 and ids written in place, no JSON tree, no intermediate strings); the others
//! hand over a `serde_json::Value`.

use std::fmt::Display;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use serde_json::Value;

const PREFIX: &[u8] = br#"{"Response":"#;

/// An answer's fields, already serialized as one JSON object inside the envelope's prefix.
pub(crate) struct Answer(Vec<u8>);

impl Answer {
    /// The answer of `fields`, which serialize as a JSON object (anything else answers `{}`).
    pub(crate) fn of<T: Serialize + ?Sized>(fields: &T) -> Self {
        let mut body = Vec::with_capacity(384);
        body.extend_from_slice(PREFIX);
        if serde_json::to_writer(&mut body, fields).is_err() || body.last() != Some(&b'}') {
            body.truncate(PREFIX.len());
            body.extend_from_slice(b"{}");
        }
        Self(body)
    }

    /// The whole response body, with `request_id` added to the fields.
    pub(crate) fn finish(self, request_id: &str) -> Vec<u8> {
        let mut body = self.0;
        body.pop(); // the fields' closing brace
        if body.last() != Some(&b'{') {
            body.push(b',');
        }
        body.extend_from_slice(br#""RequestId":"#);
        // A string always serializes; escaped like every other one.
        let _ = serde_json::to_writer(&mut body, request_id);
        body.extend_from_slice(b"}}");
        body
    }
}

impl From<Value> for Answer {
    fn from(fields: Value) -> Self {
        Self::of(&fields)
    }
}

/// Bytes that serialize as their standard base64, written in place.
pub(crate) struct Base64<'a>(pub(crate) &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// A value that serializes as its `Display` form (ids), written in place.
pub(crate) struct Shown<T>(pub(crate) T);

impl<T: Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("valid JSON")
    }

    #[test]
    fn fields_and_request_id_in_the_envelope() {
        let body = Answer::from(json!({"KeyId": "k", "N": 1})).finish("r-1");
        assert_eq!(parsed(&body), json!({"Response": {"KeyId": "k", "N": 1, "RequestId": "r-1"}}));
        let body = Answer::from(json!({})).finish("r-2");
        assert_eq!(parsed(&body), json!({"Response": {"RequestId": "r-2"}}));
        // Not an object: only the request id.
        let body = Answer::from(json!([1, 2])).finish("r-3");
        assert_eq!(parsed(&body), json!({"Response": {"RequestId": "r-3"}}));
        let body = Answer::from(json!({})).finish("a\"\u{1}");
        assert_eq!(parsed(&body), json!({"Response": {"RequestId": "a\"\u{1}"}}));
    }

    #[test]
    fn base64_and_ids_are_written_as_strings() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out<'a> {
            plaintext: Base64<'a>,
            key_id: Shown<uuid::Uuid>,
        }
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let body = Answer::of(&Out { plaintext: Base64(b"\x00\xffab"), key_id: Shown(id) }).finish("r");
        assert_eq!(
            parsed(&body),
            json!({"Response": {"Plaintext": "AP9hYg==", "KeyId": "01234567-89ab-cdef-0123-456789abcdef", "RequestId": "r"}})
        );
    }
}
