//! DescribeRegions, DescribeAccountKmsStatus, OpenKmsService, GetRandomPassword.

use ferrokms_core::model::Region;
use serde_json::json;

use crate::error::ApiError;
use crate::request::{Ctx, Outcome, object, ok};

pub(super) fn describe_regions(_: &Ctx<'_>) -> Outcome {
    let regions: Vec<_> = Region::alibaba_names().map(|r| json!({"RegionId": r})).collect();
    object(json!({ "Regions": {"Region": regions} }))
}

pub(super) fn describe_account_kms_status(_: &Ctx<'_>) -> Outcome {
    object(json!({ "AccountStatus": "Enabled" }))
}

pub(super) fn open_kms_service(_: &Ctx<'_>) -> Outcome {
    ok()
}

const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// One uniformly random index below `n` (rejection sampling: no modulo bias).
fn uniform(ctx: &Ctx<'_>, n: usize) -> Result<usize, ApiError> {
    let n = u32::try_from(n).map_err(|_| ApiError::invalid("PasswordLength", "too long"))?;
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let bytes = ctx.kms.generate_random(4)?;
        let v = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if v < zone {
            return Ok((v % n) as usize);
        }
    }
}

pub(super) fn get_random_password(ctx: &Ctx<'_>) -> Outcome {
    let length = ctx.int("PasswordLength", 8..=128)?.unwrap_or(32) as usize;
    let excluded: Vec<char> = ctx.opt("ExcludeCharacters").unwrap_or_default().chars().collect();
    let mut classes: Vec<Vec<char>> = Vec::new();
    for (flag, chars) in [
        ("ExcludeLowercase", ('a'..='z').collect::<String>()),
        ("ExcludeUppercase", ('A'..='Z').collect::<String>()),
        ("ExcludeNumbers", ('0'..='9').collect::<String>()),
        ("ExcludePunctuation", PUNCTUATION.to_owned()),
    ] {
        if !ctx.bool(flag)?.unwrap_or(false) {
            let class: Vec<char> = chars.chars().filter(|c| !excluded.contains(c)).collect();
            if !class.is_empty() {
                classes.push(class);
            }
        }
    }
    if classes.is_empty() {
        return Err(ApiError::invalid("ExcludeCharacters", "every character class is excluded"));
    }
    let each = ctx.bool("RequireEachIncludedType")?.unwrap_or(false);
    if each && length < classes.len() {
        return Err(ApiError::invalid("PasswordLength", "too short to include every character type"));
    }
    let all: Vec<char> = classes.concat();
    loop {
        let mut password = String::with_capacity(length);
        for _ in 0..length {
            password.push(all[uniform(ctx, all.len())?]);
        }
        // Drawing again until every class appears keeps every such password equally likely.
        if !each || classes.iter().all(|class| password.chars().any(|c| class.contains(&c))) {
            return object(json!({ "RandomPassword": password }));
        }
    }
}
