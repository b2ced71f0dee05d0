//! The Alibaba renderers: `render::body` and `render::error_body`, JSON and XML, over arbitrary
//! `serde_json` maps. JSON must read back to the same value; XML must be well-formed XML 1.0 (a
//! small independent checker below) whose text is the values' text, for element names such as
//! the actions use.
//!
//! No allocation meter here: the input is a response, not a request, and XML repeats an
//! element's name once per list item, so output size is not linear in the map's size by design
//! (libFuzzer's -malloc_limit_mb still applies).
#![no_main]

use arbitrary::Arbitrary;
use ferrokms_alibaba::render::{self, Format};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// A JSON value as the actions build them (no floats: no response carries one).
#[derive(Arbitrary, Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    xml: bool,
    error: bool,
    action: String,
    request_id: String,
    fields: Vec<(String, Node)>,
}

const MAX_DEPTH: usize = 16;

fn value(node: &Node, depth: usize) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::from(*i),
        Node::UInt(u) => Value::from(*u),
        Node::Str(s) => Value::String(s.clone()),
        _ if depth >= MAX_DEPTH => Value::Null,
        Node::Arr(items) => Value::Array(items.iter().map(|n| value(n, depth + 1)).collect()),
        Node::Obj(pairs) => Value::Object(object(pairs, depth + 1)),
    }
}

fn object(pairs: &[(String, Node)], depth: usize) -> Map<String, Value> {
    pairs.iter().map(|(k, n)| (k.clone(), value(n, depth))).collect()
}

/// A name of the kind the actions use (`KeyMetadata`, `Tag`, `DKMSInstanceId`...).
fn simple_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn names_are_simple(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(names_are_simple),
        Value::Object(m) => m.iter().all(|(k, v)| simple_name(k) && names_are_simple(v)),
        _ => true,
    }
}

/// The text XML carries for `v`, in document order (what a reader would see).
fn expected_text(out: &mut String, v: &Value) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| expected_text(out, i)),
        Value::Object(m) => m.values().for_each(|i| expected_text(out, i)),
        Value::Null => {}
        Value::String(s) => {
            out.extend(s.chars().filter(|c| xml_char(*c) && (*c as u32 >= 0x20 || "\t\n\r".contains(*c))))
        }
        other => out.push_str(&other.to_string()),
    }
}

/// XML 1.0 `Char`.
fn xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Checks that `doc` is `<?xml ...?>` then one element of nested elements, text and the five
/// predefined entities, with only XML `Char`s; returns the text content.
fn check_xml(doc: &str) -> String {
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
    let mut rest = doc.strip_prefix(decl).expect("XML declaration");
    let mut stack: Vec<&str> = Vec::new();
    let mut text = String::new();
    let mut seen_root = false;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').expect("tag closed");
            let inner = &tag[..end];
            rest = &tag[end + 1..];
            if let Some(name) = inner.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "end tag matches");
            } else {
                assert!(!(stack.is_empty() && seen_root), "one root element");
                seen_root = true;
                let (name, empty) = match inner.strip_suffix('/') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                assert!(simple_name(name), "element name {name:?}");
                if !empty {
                    stack.push(name);
                }
            }
        } else {
            assert!(!stack.is_empty(), "text inside the root element");
            let end = rest.find('<').unwrap_or(rest.len());
            let mut chunk = &rest[..end];
            rest = &rest[end..];
            while let Some(amp) = chunk.find('&') {
                text.push_str(&chunk[..amp]);
                let semi = chunk[amp..].find(';').expect("entity closed") + amp;
                text.push(match &chunk[amp + 1..semi] {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    other => panic!("unknown entity &{other};"),
                });
                chunk = &chunk[semi + 1..];
            }
            text.push_str(chunk);
        }
    }
    assert!(stack.is_empty() && seen_root, "document complete");
    assert!(text.chars().all(xml_char), "only XML 1.0 characters in {text:?}");
    text
}

fuzz_target!(|input: Input| {
    let fields = object(&input.fields, 0);
    let format = if input.xml { Format::Xml } else { Format::Json };
    {
        let (out, mut expected) = if input.error {
            let out = render::error_body(format, &input.request_id, &input.action, "Code", "Message");
            let mut m = Map::new();
            for (k, v) in [("RequestId", &input.request_id), ("HostId", &input.action)] {
                m.insert(k.into(), Value::String(v.clone()));
            }
            (out, m)
        } else {
            let out = render::body(format, &input.action, fields.clone(), &input.request_id);
            let mut m = fields.clone();
            m.insert("RequestId".into(), Value::String(input.request_id.clone()));
            (out, m)
        };
        match format {
            Format::Json => {
                let back: Map<String, Value> = serde_json::from_slice(&out).expect("JSON output parses");
                if input.error {
                    expected.insert("Code".into(), "Code".into());
                    expected.insert("Message".into(), "Message".into());
                    expected.insert("Recommend".into(), "https://api.aliyun.com/troubleshoot?q=Code".into());
                }
                assert_eq!(back, expected, "JSON round trip");
            }
            Format::Xml => {
                let doc = std::str::from_utf8(&out).expect("UTF-8");
                let root_simple = input.error || simple_name(&input.action);
                if root_simple && names_are_simple(&Value::Object(expected.clone())) {
                    let text = check_xml(doc);
                    if !input.error {
                        let mut want = String::new();
                        expected_text(&mut want, &Value::Object(expected));
                        assert_eq!(text, want, "XML text is the values' text");
                    }
                }
            }
        }
    }
});
