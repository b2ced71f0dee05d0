//! Keys and their lifecycle.

use ferrokms_core::model::{KeySpec, KeyState, KeyUsage};
use ferrokms_core::service::{CreateKey, DeletionRules};
use ferrokms_core::store::KeyFilter;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::render::{key_arn, key_metadata};
use crate::request::{Ctx, Outcome, object, ok, rotation_interval};

/// Alibaba: Enabled keys may be scheduled too, and a cancelled deletion re-enables the key.
const DELETION: DeletionRules = DeletionRules { require_disabled: false, restore_to: KeyState::Enabled };
const MAX_DESCRIPTION: usize = 8192;
const MAX_POLICY: usize = 32_768;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagIn {
    pub(super) tag_key: String,
    #[serde(default)]
    pub(super) tag_value: String,
}

/// The `Tags` JSON of CreateKey and TagResource: `[{"TagKey":"k","TagValue":"v"}]`.
pub(super) fn tags_json(text: &str) -> Result<Vec<ferrokms_core::model::Tag>, ApiError> {
    let items: Vec<TagIn> =
        serde_json::from_str(text).map_err(|_| ApiError::invalid("Tags", "a JSON array of {TagKey, TagValue}"))?;
    let tags: Vec<_> =
        items.into_iter().map(|t| ferrokms_core::model::Tag { key: t.tag_key, value: t.tag_value }).collect();
    check_tags(&tags)?;
    Ok(tags)
}

/// Most tags one Alibaba request carries (the API's documented limit).
const MAX_TAGS_PER_REQUEST: usize = 20;

/// Alibaba's tag rules: at most 20, keys 1-128 characters not starting with `aliyun` or `acs:`.
pub(super) fn check_tags(tags: &[ferrokms_core::model::Tag]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS_PER_REQUEST {
        return Err(ApiError::invalid("Tags", "at most 20 tags"));
    }
    for t in tags {
        let k = t.key.to_ascii_lowercase();
        if k.starts_with("aliyun") || k.starts_with("acs:") || t.value.chars().count() > 128 {
            return Err(ApiError::invalid(
                "Tags",
                "tag keys may not start with aliyun or acs:, values take at most 128 characters",
            ));
        }
    }
    ferrokms_core::validate::tags(tags)?;
    Ok(())
}

/// The id of the key's current version; none for a key without material (an EXTERNAL key
/// before its import, or after DeleteKeyMaterial or expiry, which keep the version number for
/// the next import of the same material but remove the version).
pub(super) async fn primary_version(
    ctx: &Ctx<'_>,
    k: &ferrokms_core::model::KeyRecord,
) -> Result<Option<uuid::Uuid>, ApiError> {
    if k.current_version == 0 || k.state == KeyState::PendingImport {
        return Ok(None);
    }
    Ok(Some(ctx.kms.version_id(&ctx.scope, k.id, k.current_version).await?))
}

pub(super) async fn create_key(ctx: &Ctx<'_>) -> Outcome {
    let spec = match ctx.opt("KeySpec") {
        None => KeySpec::Aes256,
        Some(name) => KeySpec::from_alibaba(name).ok_or_else(|| ApiError::invalid("KeySpec", "unknown key spec"))?,
    };
    let usage = match ctx.opt("KeyUsage") {
        None => None,
        Some(name) => match KeyUsage::from_alibaba(name) {
            Some(u) if spec.allows(u) => Some(u),
            Some(_) => return Err(ApiError::invalid("KeyUsage", "not a usage of this KeySpec")),
            None => {
                return Err(ApiError::invalid(
                    "KeyUsage",
                    "must be ENCRYPT/DECRYPT, SIGN/VERIFY or GENERATE/VERIFY_MAC",
                ));
            }
        },
    };
    let external = match ctx.opt("Origin") {
        None | Some("Aliyun_KMS") => false,
        Some("EXTERNAL") => true,
        Some(_) => {
            return Err(ApiError::new(
                http::StatusCode::BAD_REQUEST,
                "Unsupported.Origin",
                "Origin must be Aliyun_KMS or EXTERNAL.",
            ));
        }
    };
    match ctx.opt("ProtectionLevel") {
        None | Some("SOFTWARE") => {}
        Some(_) => {
            return Err(ApiError::new(
                http::StatusCode::BAD_REQUEST,
                "Unsupported.ProtectionLevel",
                "Only the SOFTWARE protection level is offered (the root key may itself live in an HSM).",
            ));
        }
    }
    if ctx.opt("DKMSInstanceId").is_some() || ctx.opt("KeyStorageMechanism").is_some() {
        return Err(ApiError::unsupported("DKMSInstanceId (KMS instances)"));
    }
    let description = ctx.opt("Description").unwrap_or_default().to_owned();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid("Description", "at most 8192 characters"));
    }
    let rotation = match ctx.bool("EnableAutomaticRotation")? {
        Some(true) => Some(rotation_interval(ctx.req("RotationInterval")?, 7, 365)?),
        _ => None,
    };
    if rotation.is_some() && external {
        return Err(ApiError::invalid("EnableAutomaticRotation", "EXTERNAL keys do not rotate"));
    }
    let policy = ctx.opt("Policy").map(str::to_owned);
    if policy.as_ref().is_some_and(|p| p.len() > MAX_POLICY) {
        return Err(ApiError::invalid("Policy", "at most 32768 bytes"));
    }
    let tags = match ctx.opt("Tags") {
        Some(t) => tags_json(t)?,
        None => vec![],
    };
    let req = CreateKey {
        alias: None,
        description,
        usage,
        spec: Some(spec),
        external,
        tags,
        rotation_interval: rotation,
        policy,
    };
    let k = ctx.kms.create_key(&ctx.scope, req).await?;
    let primary = primary_version(ctx, &k).await?;
    object(json!({ "KeyMetadata": key_metadata(&k, primary) }))
}

pub(super) async fn describe_key(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let k = ctx.kms.describe_key(&ctx.scope, id).await?;
    let primary = primary_version(ctx, &k).await?;
    object(json!({ "KeyMetadata": key_metadata(&k, primary) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterIn {
    key: String,
    values: Vec<String>,
}

pub(super) async fn list_keys(ctx: &Ctx<'_>) -> Outcome {
    let (offset, limit, number, size) = ctx.paging(1, 100)?;
    let mut filter = KeyFilter { offset, limit, ..KeyFilter::default() };
    let mut nothing = false;
    if let Some(text) = ctx.opt("Filters") {
        let filters: Vec<FilterIn> =
            serde_json::from_str(text).map_err(|_| ApiError::invalid("Filters", "a JSON array of {Key, Values}"))?;
        if filters.len() > 10 {
            return Err(ApiError::invalid("Filters", "at most 10 filters"));
        }
        for f in filters {
            let bad = || ApiError::invalid("Filters", &format!("unknown value for {}", f.key));
            match f.key.as_str() {
                "KeyState" => {
                    for v in &f.values {
                        filter.states.extend(match v.as_str() {
                            "Enabled" => vec![KeyState::Enabled],
                            "Disabled" => vec![KeyState::Disabled, KeyState::Archived],
                            "PendingDeletion" => vec![KeyState::PendingDelete],
                            "PendingImport" => vec![KeyState::PendingImport],
                            _ => return Err(bad()),
                        });
                    }
                }
                "KeySpec" => {
                    for v in &f.values {
                        filter.specs.push(KeySpec::from_alibaba(v).ok_or_else(bad)?);
                    }
                }
                "KeyUsage" => {
                    for v in &f.values {
                        filter.usages.push(KeyUsage::from_alibaba(v).ok_or_else(bad)?);
                    }
                    nothing |= f.values.is_empty();
                }
                "ProtectionLevel" => nothing |= !f.values.iter().any(|v| v == "SOFTWARE"),
                "CreatorType" => nothing |= !f.values.iter().any(|v| v == "User"),
                "DKMSInstanceId" => nothing |= !f.values.iter().any(String::is_empty),
                _ => return Err(ApiError::invalid("Filters", &format!("unknown filter key {}", f.key))),
            }
        }
    }
    let (keys, total) = if nothing { (vec![], 0) } else { ctx.kms.list_keys(&ctx.scope, &filter).await? };
    let items: Vec<_> = keys.iter().map(|k| json!({"KeyId": k.id.to_string(), "KeyArn": key_arn(k)})).collect();
    object(json!({ "Keys": {"Key": items}, "PageNumber": number, "PageSize": size, "TotalCount": total }))
}

pub(super) async fn update_key_description(ctx: &Ctx<'_>) -> Outcome {
    let description = ctx.params.get("Description").ok_or_else(|| ApiError::missing("Description"))?;
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid("Description", "at most 8192 characters"));
    }
    let id = ctx.key("KeyId").await?;
    ctx.kms.update_key_description(&ctx.scope, id, description).await?;
    ok()
}

pub(super) async fn enable_key(ctx: &Ctx<'_>, enable: bool) -> Outcome {
    let id = ctx.key("KeyId").await?;
    if enable {
        ctx.kms.enable_key(&ctx.scope, id).await?;
    } else {
        ctx.kms.disable_key(&ctx.scope, id).await?;
    }
    ok()
}

pub(super) async fn schedule_key_deletion(ctx: &Ctx<'_>) -> Outcome {
    let days = ctx.int("PendingWindowInDays", 7..=366)?.ok_or_else(|| ApiError::missing("PendingWindowInDays"))?;
    let id = ctx.key("KeyId").await?;
    ctx.kms.schedule_key_deletion(&ctx.scope, id, days, DELETION).await?;
    ok()
}

pub(super) async fn cancel_key_deletion(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    ctx.kms.cancel_key_deletion(&ctx.scope, id, DELETION).await?;
    ok()
}

pub(super) async fn set_deletion_protection(ctx: &Ctx<'_>) -> Outcome {
    let on = ctx.bool("EnableDeletionProtection")?.ok_or_else(|| ApiError::missing("EnableDeletionProtection"))?;
    if ctx.opt("KmsInstanceId").is_some() {
        return Err(ApiError::unsupported("KmsInstanceId (KMS instances)"));
    }
    let Some(reference) = ctx.opt("KeyId").or_else(|| ctx.opt("ProtectedResourceArn")) else {
        return Err(ApiError::missing("ProtectedResourceArn"));
    };
    let id = crate::request::resolve(ctx.kms, &ctx.scope, reference).await?;
    let description = ctx.opt("DeletionProtectionDescription").unwrap_or_default();
    ctx.kms.set_deletion_protection(&ctx.scope, id, on, description).await?;
    ok()
}

fn policy_name(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match ctx.opt("PolicyName") {
        None | Some("default") => Ok(()),
        Some(_) => Err(ApiError::invalid("PolicyName", "only `default`")),
    }
}

pub(super) async fn get_key_policy(ctx: &Ctx<'_>) -> Outcome {
    policy_name(ctx)?;
    let id = ctx.key("KeyId").await?;
    let k = ctx.kms.describe_key(&ctx.scope, id).await?;
    object(json!({ "Policy": k.policy }))
}

pub(super) async fn set_key_policy(ctx: &Ctx<'_>) -> Outcome {
    policy_name(ctx)?;
    let policy = ctx.req("Policy")?;
    if policy.len() > MAX_POLICY {
        return Err(ApiError::invalid("Policy", "at most 32768 bytes"));
    }
    let parsed: serde_json::Value =
        serde_json::from_str(policy).map_err(|_| ApiError::invalid("Policy", "not a JSON document"))?;
    if parsed.get("Version").and_then(|v| v.as_str()) != Some("1") {
        return Err(ApiError::invalid("Policy", "Version must be \"1\""));
    }
    let id = ctx.key("KeyId").await?;
    ctx.kms.set_key_policy(&ctx.scope, id, policy).await?;
    ok()
}
