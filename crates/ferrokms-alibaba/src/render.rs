//! How things look on the Alibaba wire: JSON or XML envelopes, ISO 8601 times, key metadata.

use ferrokms_core::model::{KeyRecord, KeyState, Origin};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Response format asked for by `Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (default).
    Json,
    /// XML (`Format=XML`).
    Xml,
}

impl Format {
    /// The Content-Type of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json;charset=utf-8",
            Self::Xml => "text/xml;charset=utf-8",
        }
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` of Unix seconds.
pub fn iso(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Alibaba's name of a key state (Archived, a Tencent state, shows as Disabled: it cannot encrypt).
pub fn key_state(s: KeyState) -> &'static str {
    match s {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled | KeyState::Archived => "Disabled",
        KeyState::PendingDelete => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
    }
}

/// The ARN of a key.
pub fn key_arn(k: &KeyRecord) -> String {
    format!("acs:kms:{}:{}:key/{}", k.region.alibaba_name(), k.account.0, k.id)
}

/// `KeyMetadata` of DescribeKey and CreateKey; `primary` is the current version's id.
pub fn key_metadata(k: &KeyRecord, primary: Option<Uuid>) -> Value {
    let on = |b: bool| if b { "Enabled" } else { "Disabled" };
    json!({
        "Arn": key_arn(k),
        "AutomaticRotation": on(k.rotation_enabled),
        "CreationDate": iso(k.created_at),
        "Creator": k.account.0.to_string(),
        "DKMSInstanceId": "",
        "DeleteDate": if k.state == KeyState::PendingDelete { iso(k.deletion_date) } else { String::new() },
        "DeletionProtection": on(k.deletion_protection),
        "DeletionProtectionDescription": k.deletion_protection_description,
        "Description": k.description,
        "KeyId": k.id.to_string(),
        "KeySpec": k.spec.alibaba_name(),
        "KeyState": key_state(k.state),
        "KeyUsage": k.usage.alibaba_name(),
        "LastRotationDate": iso(if k.last_rotated_at > 0 { k.last_rotated_at } else { k.created_at }),
        "MaterialExpireTime": if k.material_expires_at > 0 { iso(k.material_expires_at) } else { String::new() },
        "NextRotationDate": if k.rotation_enabled { iso(k.next_rotation_at) } else { String::new() },
        "Origin": match k.origin { Origin::Generated => "Aliyun_KMS", Origin::External => "EXTERNAL" },
        "PrimaryKeyVersion": primary.map(|p| p.to_string()).unwrap_or_default(),
        "ProtectionLevel": "SOFTWARE",
        "RotationInterval": if k.rotation_enabled { format!("{}s", k.rotation_interval) } else { String::new() },
    })
}

/// The response body: `value` (an object) plus `RequestId`, as JSON or as XML under
/// `<{Action}Response>`.
pub fn body(format: Format, action: &str, mut value: Map<String, Value>, request_id: &str) -> Vec<u8> {
    match format {
        Format::Json => {
            // The fields, then the request id written after them (a later key wins in every
            // JSON decoder the SDKs use, should the fields hold one too).
            let mut out = Vec::with_capacity(512);
            if serde_json::to_writer(&mut out, &value).is_err() || out.last() != Some(&b'}') {
                out.clear();
                out.extend_from_slice(b"{}");
            }
            out.pop();
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(br#""RequestId":"#);
            // A string always serializes; escaped like every other one.
            let _ = serde_json::to_writer(&mut out, request_id);
            out.push(b'}');
            out
        }
        Format::Xml => {
            value.insert("RequestId".into(), Value::String(request_id.to_owned()));
            xml(&format!("{action}Response"), &value).into_bytes()
        }
    }
}

/// An error body.
pub fn error_body(format: Format, request_id: &str, host: &str, code: &str, message: &str) -> Vec<u8> {
    let mut v = Map::new();
    v.insert("RequestId".into(), json!(request_id));
    v.insert("HostId".into(), json!(host));
    v.insert("Code".into(), json!(code));
    v.insert("Message".into(), json!(message));
    v.insert("Recommend".into(), json!(format!("https://api.aliyun.com/troubleshoot?q={code}")));
    match format {
        Format::Json => serde_json::to_vec(&v).unwrap_or_default(),
        Format::Xml => xml("Error", &v).into_bytes(),
    }
}

fn xml(root: &str, value: &Map<String, Value>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    element(&mut out, root, &Value::Object(value.clone()));
    out
}

/// Writes `<name>value</name>`; an array repeats the element once per item (so the JSON
/// `{"Keys":{"Key":[a,b]}}` becomes `<Keys><Key>a</Key><Key>b</Key></Keys>`).
fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| element(out, name, item)),
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                element(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are left out (its `Char` production: no C0
            // control but tab and line ends, no U+FFFE or U+FFFF; a Rust char is never a
            // surrogate).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_repeats_list_items_inside_their_wrapper() {
        let v = json!({"Keys": {"Key": [{"KeyId": "a"}, {"KeyId": "b<&>"}]}, "TotalCount": 2});
        let Value::Object(map) = v else { unreachable!() };
        let out = String::from_utf8(body(Format::Xml, "ListKeys", map, "r1")).unwrap();
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListKeysResponse><Keys><Key><KeyId>a</KeyId></Key>\
             <Key><KeyId>b&lt;&amp;&gt;</KeyId></Key></Keys><RequestId>r1</RequestId><TotalCount>2</TotalCount>\
             </ListKeysResponse>"
        );
    }

    /// Found by the renderer fuzz target: U+FFFE and U+FFFF went out verbatim, and an XML
    /// parser refuses the whole document for them.
    #[test]
    fn xml_leaves_out_what_xml_cannot_carry() {
        let v = json!({"Description": "a\u{1}b\u{FFFE}c\u{FFFF}d\u{FFFD}\t\u{10FFFF}"});
        let Value::Object(map) = v else { unreachable!() };
        let out = String::from_utf8(body(Format::Xml, "DescribeKey", map, "r")).unwrap();
        assert!(out.contains("<Description>abcd\u{FFFD}\t\u{10FFFF}</Description>"), "{out}");
    }

    #[test]
    fn json_carries_the_fields_and_the_request_id() {
        let Value::Object(map) = json!({"KeyId": "k", "N": 2}) else { unreachable!() };
        let out: Value = serde_json::from_slice(&body(Format::Json, "DescribeKey", map, "r1")).unwrap();
        assert_eq!(out, json!({"KeyId": "k", "N": 2, "RequestId": "r1"}));
        let out: Value = serde_json::from_slice(&body(Format::Json, "TagResource", Map::new(), "r2")).unwrap();
        assert_eq!(out, json!({"RequestId": "r2"}));
        // Found by the renderer fuzz target: the request id is escaped like any string.
        let out: Value = serde_json::from_slice(&body(Format::Json, "TagResource", Map::new(), "a\u{0}\"b")).unwrap();
        assert_eq!(out, json!({"RequestId": "a\u{0}\"b"}));
    }

    #[test]
    fn times_are_iso_utc() {
        assert_eq!(iso(1_768_896_000), "2026-01-20T08:00:00Z");
    }
}
