//! Field rules shared by the cloud APIs.

use std::collections::HashSet;

use crate::Error;
use crate::model::Tag;

/// Tencent alias / data key name rule: 1-60 of `[A-Za-z0-9_-]`, first a letter or digit.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    name.len() <= 60
        && first.is_ascii_alphanumeric()
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks a CMK alias.
pub fn alias(name: &str) -> Result<(), Error> {
    if !is_valid_name(name) {
        return Err(Error::InvalidAlias("1-60 characters of A-Z a-z 0-9 _ -, starting with a letter or digit".into()));
    }
    if name.starts_with("kms-") {
        return Err(Error::InvalidAlias("the prefix kms- is reserved".into()));
    }
    Ok(())
}

/// Checks a hosted data key name.
pub fn data_key_name(name: &str) -> Result<(), Error> {
    if !is_valid_name(name) {
        return Err(Error::InvalidDataKeyName(
            "1-60 characters of A-Z a-z 0-9 _ -, starting with a letter or digit".into(),
        ));
    }
    Ok(())
}

/// Checks a description against a byte limit.
pub fn description(field: &str, text: &str, max_bytes: usize) -> Result<(), Error> {
    if text.len() > max_bytes {
        return Err(Error::invalid(field, format!("longer than {max_bytes} bytes")));
    }
    Ok(())
}

/// Checks tags: no duplicate keys, keys 1-128 and values 0-256 characters.
pub fn tags(tags: &[Tag]) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(Error::invalid("Tags", "tag keys take 1-128 characters and values at most 256"));
        }
        if !seen.insert(t.key.as_str()) {
            return Err(Error::DuplicateTagKeys);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert!(is_valid_name("a"));
        assert!(is_valid_name("Key_1-x"));
        assert!(is_valid_name(&"a".repeat(60)));
        assert!(!is_valid_name(&"a".repeat(61)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("_a"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("ключ"));
        assert!(alias("kms-x").is_err());
    }

    #[test]
    fn duplicate_tag_keys_are_refused() {
        let t = |k: &str| Tag { key: k.into(), value: "v".into() };
        assert!(tags(&[t("a"), t("b")]).is_ok());
        assert!(matches!(tags(&[t("a"), t("a")]), Err(Error::DuplicateTagKeys)));
        assert!(tags(&[t("")]).is_err());
    }
}
