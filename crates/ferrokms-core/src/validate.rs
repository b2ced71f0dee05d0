//! Field rules shared by the cloud APIs.

use std::collections::HashSet;

use crate::Error;
use crate::model::Tag;
use crate::store::TagFilter;

/// Most tags one key or hosted data key holds, whichever dialect set them (the limit of
/// Tencent's tag service; Alibaba requests carry at most 20 each, as its API documents).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

/// Most tag filters in one listing request.
pub const MAX_TAG_FILTERS: usize = 20;

/// Most accepted values in one tag filter.
pub const MAX_TAG_FILTER_VALUES: usize = 20;

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

/// Longest data key (GenerateDataKey, ImportDataKey, GenerateRandom), the same in both clouds.
pub const MAX_DATA_KEY_LEN: usize = 1024;

/// Checks a data key length: 1 to [`MAX_DATA_KEY_LEN`] bytes.
pub fn data_key_len(field: &str, len: usize) -> Result<(), Error> {
    if len == 0 || len > MAX_DATA_KEY_LEN {
        return Err(Error::invalid(field, format!("must be 1 to {MAX_DATA_KEY_LEN} bytes")));
    }
    Ok(())
}

/// Checks text a client gives to be stored or searched for (descriptions, tags, policies,
/// search strings): no NUL character. PostgreSQL cannot store one in a text column, so it is
/// refused here, for both dialects and every store, before anything is written.
pub fn text(field: &str, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::invalid(field, "must not contain the NUL character (U+0000)"));
    }
    Ok(())
}

/// Checks a description against a byte limit.
pub fn description(field: &str, text: &str, max_bytes: usize) -> Result<(), Error> {
    if text.len() > max_bytes {
        return Err(Error::invalid(field, format!("longer than {max_bytes} bytes")));
    }
    self::text(field, text)
}

/// Checks tags: at most [`MAX_TAGS_PER_RESOURCE`], no duplicate keys, keys 1-128 and values
/// 0-256 characters.
pub fn tags(tags: &[Tag]) -> Result<(), Error> {
    tag_count(tags.len())?;
    let mut seen = HashSet::new();
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(Error::invalid("Tags", "tag keys take 1-128 characters and values at most 256"));
        }
        text("Tags", &t.key)?;
        text("Tags", &t.value)?;
        if !seen.insert(t.key.as_str()) {
            return Err(Error::DuplicateTagKeys);
        }
    }
    Ok(())
}

/// Checks the number of tags a resource would hold.
pub fn tag_count(n: usize) -> Result<(), Error> {
    if n > MAX_TAGS_PER_RESOURCE {
        return Err(Error::LimitExceeded(format!("a resource holds at most {MAX_TAGS_PER_RESOURCE} tags")));
    }
    Ok(())
}

/// Checks listing tag filters: at most [`MAX_TAG_FILTERS`] of them, each with at most
/// [`MAX_TAG_FILTER_VALUES`] values, no tag key twice (every filter must match, so a key twice
/// would ask for one tag to hold two values at once).
pub fn tag_filters(filters: &[TagFilter]) -> Result<(), Error> {
    if filters.len() > MAX_TAG_FILTERS {
        return Err(Error::invalid("TagFilters", format!("at most {MAX_TAG_FILTERS} filters")));
    }
    let mut seen = HashSet::new();
    for f in filters {
        if f.values.len() > MAX_TAG_FILTER_VALUES {
            return Err(Error::invalid("TagFilters", format!("at most {MAX_TAG_FILTER_VALUES} values per filter")));
        }
        if f.key.is_empty() || f.key.chars().count() > 128 || f.values.iter().any(|v| v.chars().count() > 256) {
            return Err(Error::invalid("TagFilters", "tag keys take 1-128 characters and values at most 256"));
        }
        text("TagFilters", &f.key)?;
        for v in &f.values {
            text("TagFilters", v)?;
        }
        if !seen.insert(f.key.as_str()) {
            return Err(Error::invalid("TagFilters", "a tag key appears in more than one filter"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_refuses_nul() {
        assert!(text("Description", "a\nb\tc é").is_ok());
        assert!(text("Description", "a\0b").is_err());
        assert!(description("Description", "x\0", 100).is_err());
        let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        assert!(tags(&[tag("k", "v\0")]).is_err());
        assert!(tags(&[tag("k\0", "v")]).is_err());
        let filter = TagFilter { key: "k".into(), values: vec!["\0".into()] };
        assert!(tag_filters(&[filter]).is_err());
    }

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

    #[test]
    fn tag_and_filter_caps() {
        let many = |n: usize| (0..n).map(|i| Tag { key: format!("k{i}"), value: "v".into() }).collect::<Vec<_>>();
        assert!(tags(&many(MAX_TAGS_PER_RESOURCE)).is_ok());
        assert!(matches!(tags(&many(MAX_TAGS_PER_RESOURCE + 1)), Err(Error::LimitExceeded(_))));
        let f = |k: &str, n: usize| TagFilter { key: k.into(), values: (0..n).map(|i| i.to_string()).collect() };
        let filters: Vec<_> = (0..MAX_TAG_FILTERS).map(|i| f(&format!("k{i}"), 1)).collect();
        assert!(tag_filters(&filters).is_ok());
        let mut more = filters;
        more.push(f("extra", 0));
        assert!(matches!(tag_filters(&more), Err(Error::InvalidValue { .. })));
        assert!(tag_filters(&[f("a", MAX_TAG_FILTER_VALUES)]).is_ok());
        assert!(tag_filters(&[f("a", MAX_TAG_FILTER_VALUES + 1)]).is_err());
        assert!(tag_filters(&[f("a", 1), f("a", 2)]).is_err(), "one key twice");
        assert!(tag_filters(&[f("", 1)]).is_err());
    }
}
