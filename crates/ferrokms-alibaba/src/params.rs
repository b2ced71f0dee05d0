//! Request parameters: the URL query and an `application/x-www-form-urlencoded` body, merged for
//! lookup, plus the percent-encoding (`PE`) every Alibaba signature scheme canonicalises with.
//!
//! The Tea SDK puts a few parameters (`Recipient`, `SecretData`) in the form body and everything
//! else in the query, while the old RPC SDK puts everything in the query, so actions look every
//! parameter up in both (spec section 2). The two sources stay separate because ACS3/ACS4 sign
//! only the query while RPC v1 signs both.

use std::collections::BTreeMap;

/// Most parameters accepted in one request (query and form together).
pub const MAX_PARAMS: usize = 1000;

/// Longest accepted parameter name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Percent-encodes `s` the way all Alibaba signature schemes do (spec 3.2): the UTF-8 bytes
/// `A-Z a-z 0-9 - _ . ~` stay, every other byte becomes `%XY` with upper-case hex.
///
/// Unlike form encoding, a space becomes `%20` (never `+`), and `*` becomes `%2A`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    percent_encode_into(&mut out, s);
    out
}

/// [`percent_encode`], appended to `out`.
pub fn percent_encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XY` a byte), keeping the
/// pairs in order. Used for the URL query as well as a form body: the Tea SDK form-encodes its
/// query (`+` for space) and the old SDK uses `%20`, and both decode the same way.
///
/// Invalid UTF-8 after decoding is replaced with U+FFFD. There is no size limit here; use
/// [`Params::new`] for untrusted input.
pub fn parse_form(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Appends the pairs of `raw` to `out`, refusing (before allocating more) once the request holds
/// more than [`MAX_PARAMS`] parameters or a name longer than [`MAX_NAME_LEN`].
fn parse_bounded(raw: &[u8], out: &mut Vec<(String, String)>, total: &mut usize) -> Result<(), String> {
    for (k, v) in form_urlencoded::parse(raw) {
        *total += 1;
        if *total > MAX_PARAMS {
            return Err(format!("too many parameters (more than {MAX_PARAMS})"));
        }
        if k.len() > MAX_NAME_LEN {
            return Err(format!("parameter name longer than {MAX_NAME_LEN} bytes"));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(())
}

/// Parses a positive decimal list index without sign or leading zeros, so that each index has
/// exactly one spelling (`Name.01` does not alias `Name.1`).
fn parse_index(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// The parameters of one request: the decoded URL query and the decoded form body, kept apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
}

impl Params {
    /// Decodes the raw (still encoded) URL query and, when `content_type` is
    /// `application/x-www-form-urlencoded` (any parameters after `;` ignored), the body.
    ///
    /// Errors when the request has more than [`MAX_PARAMS`] parameters in total or a parameter
    /// name longer than [`MAX_NAME_LEN`] bytes; this bounds the work of every later lookup and
    /// of signature canonicalisation.
    pub fn new(raw_query: &str, form_body: &[u8], content_type: Option<&str>) -> Result<Params, String> {
        let mut total = 0;
        let mut query = Vec::new();
        parse_bounded(raw_query.as_bytes(), &mut query, &mut total)?;
        let mut form = Vec::new();
        if content_type.is_some_and(is_form_content_type) {
            parse_bounded(form_body, &mut form, &mut total)?;
        }
        Ok(Params { query, form })
    }

    /// The value of `name`: the first occurrence in the query, else the first in the form body.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The decoded query parameters, in the order received.
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    /// The decoded form-body parameters, in the order received (empty if the body is not a form).
    pub fn form(&self) -> &[(String, String)] {
        &self.form
    }

    /// Every parameter name, query first, then form; repeated names appear repeatedly.
    /// A parameter name given more than once (in the query, the form, or both), if any.
    pub fn duplicate_name(&self) -> Option<&str> {
        let names = || self.query.iter().chain(self.form.iter()).map(|(k, _)| k.as_str());
        if self.query.len() + self.form.len() <= 32 {
            // The usual handful: compared pairwise, without a set to allocate.
            return names().enumerate().find(|(i, k)| names().take(*i).any(|earlier| earlier == *k)).map(|(_, k)| k);
        }
        let mut seen = std::collections::HashSet::new();
        names().find(|k| !seen.insert(*k))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k.as_str())
    }

    /// A list of scalars sent as `prefix.1`, `prefix.2`, ...: the values in index order.
    ///
    /// Gaps are skipped; for an index given twice the first occurrence (query before form) wins.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: BTreeMap<u64, &str> = BTreeMap::new();
        for (k, v) in self.iter() {
            let Some(idx) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')).and_then(parse_index) else {
                continue;
            };
            items.entry(idx).or_insert(v.as_str());
        }
        items.into_values().map(str::to_owned).collect()
    }

    /// A list of objects sent as `prefix.N.Field` (e.g. `Tag.1.Key`, `Tag.1.Value`): one entry per
    /// index, in index order, each holding the value of every name in `fields` (same order) or
    /// `None` when that field was not sent. Names with other fields are ignored.
    ///
    /// For a field given twice under one index the first occurrence (query before form) wins.
    pub fn object_list(&self, prefix: &str, fields: &[&str]) -> Vec<Vec<Option<String>>> {
        let mut items: BTreeMap<u64, Vec<Option<String>>> = BTreeMap::new();
        for (k, v) in self.iter() {
            let Some((idx, field)) = k
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.split_once('.'))
                .and_then(|(i, f)| Some((parse_index(i)?, f)))
            else {
                continue;
            };
            let Some(pos) = fields.iter().position(|f| *f == field) else {
                continue;
            };
            let slot = &mut items.entry(idx).or_insert_with(|| vec![None; fields.len()])[pos];
            if slot.is_none() {
                *slot = Some(v.clone());
            }
        }
        items.into_values().collect()
    }

    /// All pairs, query first.
    fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.query.iter().chain(self.form.iter())
    }
}

/// Whether a Content-Type denotes a form body (case-insensitive, parameters such as
/// `; charset=utf-8` allowed).
fn is_form_content_type(ct: &str) -> bool {
    const FORM: &str = "application/x-www-form-urlencoded";
    let ct = ct.trim_start().as_bytes();
    ct.len() >= FORM.len() && ct[..FORM.len()].eq_ignore_ascii_case(FORM.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn pe_special_characters() {
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("~"), "~");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("{\"k\":1}"), "%7B%22k%22%3A1%7D");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn parse_form_plus_and_escapes() {
        assert_eq!(
            parse_form("SecretData=p%40ss+word%2B1&a=&b&c=x%20y"),
            pairs(&[("SecretData", "p@ss word+1"), ("a", ""), ("b", ""), ("c", "x y")])
        );
        assert_eq!(parse_form(""), Vec::<(String, String)>::new());
        // Order is preserved, duplicates kept.
        assert_eq!(parse_form("z=1&a=2&z=3"), pairs(&[("z", "1"), ("a", "2"), ("z", "3")]));
    }

    #[test]
    fn lookups_in_both_sources() {
        let p = Params::new("KeyId=alias%2Fdemo&Dup=q", b"Recipient=r%2B1&Dup=f", FORM).unwrap();
        assert_eq!(p.get("KeyId"), Some("alias/demo"));
        assert_eq!(p.get("Recipient"), Some("r+1"));
        assert_eq!(p.get("Dup"), Some("q"), "query wins");
        assert_eq!(p.get("Missing"), None);
        assert_eq!(p.query(), pairs(&[("KeyId", "alias/demo"), ("Dup", "q")]).as_slice());
        assert_eq!(p.form(), pairs(&[("Recipient", "r+1"), ("Dup", "f")]).as_slice());
        assert_eq!(p.names().collect::<Vec<_>>(), ["KeyId", "Dup", "Recipient", "Dup"]);
    }

    #[test]
    fn form_body_only_for_form_content_type() {
        let body = b"SecretData=x";
        assert_eq!(Params::new("", body, None).unwrap().get("SecretData"), None);
        assert_eq!(Params::new("", body, Some("application/json")).unwrap().get("SecretData"), None);
        let ct = Some("Application/X-WWW-Form-Urlencoded; charset=utf-8");
        assert_eq!(Params::new("", body, ct).unwrap().get("SecretData"), Some("x"));
    }

    #[test]
    fn limits() {
        let many: String = (0..MAX_PARAMS).map(|i| format!("p{i}=v&")).collect();
        assert!(Params::new(&many, b"", FORM).is_ok());
        assert!(Params::new(&many, b"one=more", FORM).is_err());
        assert!(Params::new(&format!("{many}x=1"), b"", None).is_err());
        let long = "n".repeat(MAX_NAME_LEN);
        assert!(Params::new(&format!("{long}=1"), b"", None).is_ok());
        assert!(Params::new(&format!("{long}n=1"), b"", None).is_err());
        assert!(Params::new("", format!("{long}n=1").as_bytes(), FORM).is_err());
    }

    #[test]
    fn scalar_list() {
        let p = Params::new(
            "ResourceId.2=k2&ResourceId.1=k1&ResourceId.10=k10&ResourceId.x=no&ResourceId.01=no&ResourceIdX.3=no",
            b"ResourceId.3=k3&ResourceId.1=dup",
            FORM,
        )
        .unwrap();
        assert_eq!(p.list("ResourceId"), ["k1", "k2", "k3", "k10"]);
        assert!(p.list("TagKey").is_empty());
    }

    #[test]
    fn object_list_groups_fields() {
        let p = Params::new(
            "Tag.2.Value=v2&Tag.1.Key=a&Tag.1.Value=b&Tag.2.Key=c&Tag.3.Key=only&Tag.4.Other=x&Tag.1.Key=dup",
            b"",
            None,
        )
        .unwrap();
        assert_eq!(
            p.object_list("Tag", &["Key", "Value"]),
            vec![
                vec![Some("a".to_owned()), Some("b".to_owned())],
                vec![Some("c".to_owned()), Some("v2".to_owned())],
                vec![Some("only".to_owned()), None],
            ]
        );
        assert!(p.object_list("Nope", &["Key"]).is_empty());
    }
}
