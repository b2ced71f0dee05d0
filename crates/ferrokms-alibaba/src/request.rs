//! What an action handler sees, and the parsers of the fields actions share: key references
//! (id, `alias/...`, ARN), booleans, paging, contexts, DryRun.

use ferrokms_core::context::EncryptionContext;
use ferrokms_core::model::{Region, Scope, parse_key_id};
use ferrokms_core::service::Kms;
use http::StatusCode;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::params::Params;

/// A handler's context: the service, the caller's scope and the request's parameters.
pub(crate) struct Ctx<'a> {
    pub(crate) kms: &'a Kms,
    pub(crate) scope: Scope,
    pub(crate) params: &'a Params,
}

pub(crate) type Outcome = Result<Map<String, Value>, ApiError>;

impl Ctx<'_> {
    /// A parameter, if present (empty counts as absent).
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        self.params.get(name).filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub(crate) fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| ApiError::missing(name))
    }

    /// A boolean (`true`/`false`, any case: the Python SDK sends `True`).
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(name, "must be true or false")),
        }
    }

    /// An integer within `range`.
    pub(crate) fn int(&self, name: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(
                    name,
                    &format!("must be an integer from {} to {}", range.start(), range.end()),
                )),
            },
        }
    }

    /// `DryRun=true`.
    pub(crate) fn dry_run(&self) -> Result<bool, ApiError> {
        Ok(self.bool("DryRun")?.unwrap_or(false))
    }

    /// An encryption context (a JSON object of strings).
    pub(crate) fn context(&self, name: &str) -> Result<EncryptionContext, ApiError> {
        EncryptionContext::parse(name, self.opt(name).unwrap_or_default()).map_err(ApiError::from)
    }

    /// PageNumber (from 1) and PageSize (`min..=max`, default 10) as offset and limit.
    pub(crate) fn paging(&self, min: u64, max: u64) -> Result<(u64, u64, u64, u64), ApiError> {
        let number = self.int("PageNumber", 1..=u64::from(u32::MAX))?.unwrap_or(1);
        let size = self.int("PageSize", min..=max)?.unwrap_or(10);
        let limit = if size == 0 { 10 } else { size };
        Ok(((number - 1).saturating_mul(limit), limit, number, limit))
    }

    /// The key named by parameter `name`: a key id, `alias/...`, or a key or alias ARN.
    pub(crate) async fn key(&self, name: &str) -> Result<Uuid, ApiError> {
        resolve(self.kms, &self.scope, self.req(name)?).await
    }
}

/// Resolves a key reference within the caller's scope.
pub(crate) async fn resolve(kms: &Kms, scope: &Scope, text: &str) -> Result<Uuid, ApiError> {
    if text.starts_with("alias/") {
        return Ok(kms.resolve_alias(scope, text).await?);
    }
    if let Some(arn) = text.strip_prefix("acs:kms:") {
        let not_found = || ApiError::from(ferrokms_core::Error::KeyNotFound);
        let mut parts = arn.splitn(3, ':');
        let (region, account, resource) = (parts.next(), parts.next(), parts.next());
        let (Some(region), Some(account), Some(resource)) = (region, account, resource) else {
            return Err(not_found());
        };
        let same_region =
            Region::from_alibaba(region).or_else(|| Region::from_tencent(region)).as_ref() == Some(&scope.region);
        if !same_region || account.parse::<u64>().ok() != Some(scope.account.0) {
            return Err(not_found());
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return parse_key_id(id).map_err(|_| not_found());
        }
        if let Some(alias) = resource.strip_prefix("alias/") {
            return Ok(kms.resolve_alias(scope, &format!("alias/{alias}")).await?);
        }
        return Err(not_found());
    }
    Ok(parse_key_id(text)?)
}

/// Parses `RotationInterval`: an integer and a unit (`d`, `h`, `m`, `s`), into seconds within
/// `min_days..=max_days` days.
pub(crate) fn rotation_interval(text: &str, min_days: u64, max_days: u64) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::invalid(
            "RotationInterval",
            &format!("must be between {min_days}d and {max_days}d, e.g. 30d or 2592000s"),
        )
    };
    let (digits, scale) = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)]
        .into_iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|d| (d, scale)))
        .ok_or_else(bad)?;
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    if secs < min_days * 86_400 || secs > max_days * 86_400 {
        return Err(bad());
    }
    Ok(secs)
}

/// An empty successful response.
pub(crate) fn ok() -> Outcome {
    Ok(Map::new())
}

/// A successful response from a JSON object.
pub(crate) fn object(v: Value) -> Outcome {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "bad response shape")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_intervals() {
        assert_eq!(rotation_interval("30d", 7, 365).unwrap(), 30 * 86_400);
        assert_eq!(rotation_interval("604800s", 7, 365).unwrap(), 604_800);
        assert_eq!(rotation_interval("168h", 7, 365).unwrap(), 604_800);
        assert!(rotation_interval("6d", 7, 365).is_err());
        assert!(rotation_interval("366d", 7, 365).is_err());
        assert!(rotation_interval("730d", 7, 730).is_ok());
        assert!(rotation_interval("30", 7, 365).is_err());
        assert!(rotation_interval("", 7, 365).is_err());
        assert!(rotation_interval("30é", 7, 365).is_err(), "a multi-byte last character is refused, not a panic");
        assert!(rotation_interval("99999999999999999999d", 7, 365).is_err());
    }
}
