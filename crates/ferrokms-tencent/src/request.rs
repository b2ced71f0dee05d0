//! Decoding a request body: a JSON object whose fields are checked against the action's request
//! type (unknown field → `UnknownParameter`, wrong JSON type → `InvalidParameter`), then the
//! common field parsers (ids, base64, contexts, public keys, tags).

use ferrokms_core::context::EncryptionContext;
use ferrokms_core::keyspec::EncryptionAlgorithm;
use ferrokms_core::model::{Tag, parse_data_key_id, parse_key_id};
use ferrokms_core::service::PublicKeyWrap;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use uuid::Uuid;

use crate::error::ApiError;

/// The field names of a request type, as serde sees them (after renaming).
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("probe"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Parses the body as the request type `T`: a JSON object whose keys are `T`'s fields, each at
/// most once (`null` means absent, as the SDKs' optional fields do: every field is an `Option`).
/// The keys are checked in one walk that keeps nothing, then the body is decoded straight into
/// `T`, with no JSON tree in between.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let fields = field_names::<T>();
    let mut de = serde_json::Deserializer::from_slice(body);
    let shape = de::DeserializeSeed::deserialize(TopLevel { fields }, &mut de)
        .and_then(|shape| de.end().map(|()| shape))
        .map_err(|e| ApiError::invalid_parameter(format!("The body is not a valid JSON object: {e}.")))?;
    match shape {
        Shape::Object => {}
        Shape::NotObject => return Err(ApiError::invalid_parameter("The body must be a JSON object.")),
        Shape::Unknown(name) => {
            return Err(ApiError::new("UnknownParameter", format!("The parameter `{name}` is not recognized.")));
        }
        Shape::Twice(name) => {
            return Err(ApiError::invalid_parameter(format!("The parameter `{name}` is given more than once.")));
        }
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_parameter(format!("A parameter has the wrong type: {e}.")))
}

/// What the walk of a body's top level found.
enum Shape {
    Object,
    NotObject,
    Unknown(String),
    Twice(&'static str),
}

/// Walks a body's top level: an object, and each of its keys one of `fields`, once.
struct TopLevel {
    fields: &'static [&'static str],
}

impl<'de> de::DeserializeSeed<'de> for TopLevel {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

/// A key, borrowed from the body unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a parameter name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut seen = 0u128;
        let mut shape = Shape::Object;
        while let Some(Key(key)) = map.next_key()? {
            map.next_value::<de::IgnoredAny>()?;
            if !matches!(shape, Shape::Object) {
                continue;
            }
            shape = match self.fields.iter().position(|f| *f == key) {
                None => Shape::Unknown(key.into_owned()),
                Some(i) => {
                    // Request types have a few dozen fields at most.
                    let bit = 1u128 << (i % 128);
                    if seen & bit != 0 {
                        Shape::Twice(self.fields[i])
                    } else {
                        seen |= bit;
                        Shape::Object
                    }
                }
            };
        }
        Ok(shape)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Shape::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::NotObject)
    }
}

/// A required field's value.
pub fn required<T>(value: Option<T>, name: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::missing(name))
}

/// A required, non-empty string field.
pub fn required_str<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    match value.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::missing(name)),
    }
}

/// A required KeyId.
pub fn key_id(value: &Option<String>) -> Result<Uuid, ApiError> {
    Ok(parse_key_id(required_str(value, "KeyId")?)?)
}

/// A required DataKeyId.
pub fn data_key_id(value: &Option<String>) -> Result<Uuid, ApiError> {
    Ok(parse_data_key_id(required_str(value, "DataKeyId")?)?)
}

/// A list of ids: 1 to 100, no duplicates.
pub fn id_list(
    values: &Option<Vec<String>>,
    name: &str,
    parse: fn(&str) -> Result<Uuid, ferrokms_core::Error>,
    duplicate: fn(String) -> ferrokms_core::Error,
) -> Result<Vec<Uuid>, ApiError> {
    let values = values.as_ref().filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing(name))?;
    if values.len() > 100 {
        return Err(ApiError::invalid_value(name, "at most 100 ids"));
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let id = parse(v)?;
        if out.contains(&id) {
            return Err(duplicate(v.clone()).into());
        }
        out.push(id);
    }
    Ok(out)
}

/// An optional encryption context.
pub fn context(value: &Option<String>, name: &str) -> Result<EncryptionContext, ApiError> {
    Ok(EncryptionContext::parse(name, value.as_deref().unwrap_or_default())?)
}

/// `EncryptionPublicKey` + `EncryptionAlgorithm` (default SM2 raw); none without a public key.
pub fn public_key_wrap(key: &Option<String>, algorithm: &Option<String>) -> Result<Option<PublicKeyWrap>, ApiError> {
    let Some(pem) = key.as_deref().filter(|k| !k.trim().is_empty()) else {
        return Ok(None);
    };
    let algorithm = match algorithm.as_deref().unwrap_or_default() {
        "" | "SM2" => EncryptionAlgorithm::Sm2Raw,
        "SM2_C1C3C2_ASN1" => EncryptionAlgorithm::Sm2Der,
        "RSAES_PKCS1_V1_5" => EncryptionAlgorithm::RsaPkcs1V15,
        "RSAES_OAEP_SHA_1" => EncryptionAlgorithm::RsaOaepSha1,
        "RSAES_OAEP_SHA_256" => EncryptionAlgorithm::RsaOaepSha256,
        _ => {
            return Err(ApiError::invalid_value(
                "EncryptionAlgorithm",
                "expected SM2, SM2_C1C3C2_ASN1, RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256",
            ));
        }
    };
    let wrap = PublicKeyWrap::parse(Some(pem), None, algorithm).ok_or_else(|| {
        ApiError::invalid_value(
            "EncryptionPublicKey",
            "not a PEM RSA (2048-4096 bits) or SM2 public key that fits EncryptionAlgorithm",
        )
    })?;
    Ok(Some(wrap))
}

/// A Tencent `Tag` structure.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagIn {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

/// Tags, checked for duplicates by the core.
pub fn tags(values: &Option<Vec<TagIn>>) -> Result<Vec<Tag>, ApiError> {
    let mut out = Vec::new();
    for t in values.iter().flatten() {
        let key = t.tag_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| ApiError::missing("Tags.TagKey"))?;
        out.push(Tag { key, value: t.tag_value.clone().unwrap_or_default() });
    }
    ferrokms_core::validate::tags(&out)?;
    Ok(out)
}

/// A Tencent `TagFilter` structure.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagFilterIn {
    tag_key: Option<String>,
    tag_value: Option<Vec<String>>,
}

/// Tag filters for listings.
pub fn tag_filters(values: &Option<Vec<TagFilterIn>>) -> Result<Vec<ferrokms_core::store::TagFilter>, ApiError> {
    values
        .iter()
        .flatten()
        .map(|f| {
            let key =
                f.tag_key.clone().filter(|k| !k.is_empty()).ok_or_else(|| ApiError::missing("TagFilters.TagKey"))?;
            Ok(ferrokms_core::store::TagFilter { key, values: f.tag_value.clone().unwrap_or_default() })
        })
        .collect()
}

/// `MemberAccount(s)`: the multi-account trusted service is not offered.
pub fn no_member_account<T>(value: &Option<T>) -> Result<(), ApiError> {
    match value {
        None => Ok(()),
        Some(_) => Err(ApiError::new(
            "UnsupportedOperation",
            "MemberAccount (multi-account trusted service) is not supported.",
        )),
    }
}

/// PendingWindowInDays: required, 7-30.
pub fn pending_window(days: Option<u64>) -> Result<u64, ApiError> {
    let days = required(days, "PendingWindowInDays")?;
    if !(7..=30).contains(&days) {
        return Err(ferrokms_core::Error::InvalidPendingWindow { min: 7, max: 30 }.into());
    }
    Ok(days)
}

/// Listing order: OrderType 0 (default) newest first, 1 oldest first.
pub fn order_type(value: Option<u64>) -> Result<ferrokms_core::store::Order, ApiError> {
    match value.unwrap_or(0) {
        0 => Ok(ferrokms_core::store::Order::NewestFirst),
        1 => Ok(ferrokms_core::store::Order::OldestFirst),
        _ => Err(ApiError::invalid_value("OrderType", "must be 0 or 1")),
    }
}

/// Listing filter on Origin: `TENCENT_KMS`, `EXTERNAL`, or `ALL`/empty for both.
pub fn origin_filter(value: Option<&str>) -> Result<Option<ferrokms_core::model::Origin>, ApiError> {
    match value.unwrap_or_default() {
        "" | "ALL" => Ok(None),
        "TENCENT_KMS" => Ok(Some(ferrokms_core::model::Origin::Generated)),
        "EXTERNAL" => Ok(Some(ferrokms_core::model::Origin::External)),
        _ => Err(ApiError::invalid_value("Origin", "must be TENCENT_KMS, EXTERNAL or ALL")),
    }
}

/// Paging: Offset (default 0) and Limit (default 10, at most 200).
pub fn paging(offset: Option<u64>, limit: Option<u64>) -> Result<(u64, u64), ApiError> {
    let limit = limit.unwrap_or(10);
    if limit == 0 || limit > 200 {
        return Err(ApiError::invalid_value("Limit", "must be between 1 and 200"));
    }
    Ok((offset.unwrap_or(0), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        key_id: Option<String>,
        number_of_bytes: Option<u64>,
    }

    #[test]
    fn unknown_fields_and_wrong_types_get_their_codes() {
        let ok: Req = decode(br#"{"KeyId": "a", "NumberOfBytes": 3}"#).unwrap();
        assert_eq!(ok.key_id.as_deref(), Some("a"));
        assert_eq!(ok.number_of_bytes, Some(3));
        assert_eq!(decode::<Req>(br#"{"KeyID": "a"}"#).unwrap_err().code, "UnknownParameter");
        assert_eq!(decode::<Req>(br#"{"NumberOfBytes": "3"}"#).unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(br#"{"NumberOfBytes": -1}"#).unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(b"[1]").unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(b"{").unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(b"").unwrap_err().code, "InvalidParameter");
        assert!(decode::<Req>(b"{}").unwrap().key_id.is_none());
        assert!(decode::<Req>(br#"{"KeyId": null}"#).unwrap().key_id.is_none());
        assert_eq!(decode::<Req>(br#"{"Key\u0049d": "b"}"#).unwrap().key_id.as_deref(), Some("b"));
        let twice = decode::<Req>(br#"{"KeyId": "a", "KeyId": "b"}"#).unwrap_err();
        assert_eq!((twice.code, twice.message.contains("KeyId")), ("InvalidParameter", true));
        assert_eq!(decode::<Req>(br#"{"KeyId": "a"} x"#).unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(br#""KeyId""#).unwrap_err().code, "InvalidParameter");
        assert_eq!(decode::<Req>(br#"{"NumberOfBytes": 0}"#).unwrap().number_of_bytes, Some(0));
    }
}
