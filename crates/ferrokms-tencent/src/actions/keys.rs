//! CMK lifecycle actions.

use ferrokms_core::model::{KeySpec, KeyState, KeyUsage, parse_key_id};
use ferrokms_core::service::{CreateKey, DeletionRules};
use ferrokms_core::store::KeyFilter;
use ferrokms_core::{Error, validate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::render::key_metadata;
use crate::request::{
    TagFilterIn, TagIn, decode, id_list, key_id, no_member_account, order_type, origin_filter, paging, pending_window,
    required, required_str, tag_filters, tags,
};

const MAX_DESCRIPTION: usize = 1024;

/// Tencent: only a Disabled key is scheduled for deletion, and a cancelled deletion leaves it
/// Disabled.
const DELETION: DeletionRules = DeletionRules { require_disabled: true, restore_to: KeyState::Disabled };

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyIn {
    alias: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<u64>,
    tags: Option<Vec<TagIn>>,
    hsm_cluster_id: Option<String>,
}

pub(super) async fn create_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: CreateKeyIn = decode(body)?;
    let alias = required_str(&r.alias, "Alias")?.to_owned();
    validate::alias(&alias)?;
    let description = r.description.unwrap_or_default();
    validate::description("Description", &description, MAX_DESCRIPTION)?;
    let (spec, usage) = match r.key_usage.as_deref().unwrap_or_default() {
        "" | "ENCRYPT_DECRYPT" => (None, KeyUsage::EncryptDecrypt),
        other => match KeySpec::from_tencent_usage(other) {
            Some((spec, usage)) => (Some(spec), usage),
            None => return Err(Error::InvalidKeyUsage(other.to_owned()).into()),
        },
    };
    let external = match r.kind.unwrap_or(1) {
        1 => false,
        // The key waits in PendingImport; ImportKeyMaterial comes with the BYOK step.
        2 => true,
        _ => {
            return Err(ApiError::new("InvalidParameterValue.InvalidType", "Type must be 1 or 2."));
        }
    };
    let tags = tags(&r.tags)?;
    ctx.check_hsm_cluster(&r.hsm_cluster_id)?;
    let k = ctx
        .kms
        .create_key(
            &ctx.scope,
            CreateKey {
                alias: Some(alias),
                description,
                usage: Some(usage),
                spec,
                external,
                tags: tags.clone(),
                rotation_interval: None,
                policy: None,
            },
        )
        .await?;
    Ok(json!({
        "KeyId": k.id.to_string(),
        "Alias": k.alias,
        "CreateTime": k.created_at,
        "Description": k.description,
        "KeyState": k.state.as_str(),
        "KeyUsage": k.spec.tencent_usage(k.usage),
        "TagCode": 0,
        "TagMsg": if tags.is_empty() { "" } else { "ok" },
        "HsmClusterId": ctx.hsm_cluster(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdIn {
    key_id: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn describe_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let k = ctx.kms.describe_key(&ctx.scope, key_id(&r.key_id)?).await?;
    Ok(json!({ "KeyMetadata": key_metadata(&k, &ctx.hsm_cluster()) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdsIn {
    key_ids: Option<Vec<String>>,
    member_account: Option<Value>,
}

fn key_ids(r: &KeyIdsIn) -> Result<Vec<uuid::Uuid>, ApiError> {
    no_member_account(&r.member_account)?;
    id_list(&r.key_ids, "KeyIds", parse_key_id, Error::DuplicateKeyId)
}

pub(super) async fn describe_keys(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIdsIn = decode(body)?;
    let keys = ctx.kms.describe_keys(&ctx.scope, &key_ids(&r)?).await?;
    let hsm = ctx.hsm_cluster();
    Ok(json!({ "KeyMetadatas": keys.iter().map(|k| key_metadata(k, &hsm)).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeysIn {
    offset: Option<u64>,
    limit: Option<u64>,
    role: Option<u64>,
    hsm_cluster_id: Option<String>,
}

/// Role 1 lists keys that cloud products created on the user's behalf: ferrokms has none.
fn only_user_role(role: Option<u64>) -> Result<bool, ApiError> {
    match role.unwrap_or(0) {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(ApiError::invalid_value("Role", "must be 0 or 1")),
    }
}

pub(super) async fn list_keys(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ListKeysIn = decode(body)?;
    let (offset, limit) = paging(r.offset, r.limit)?;
    ctx.check_hsm_cluster(&r.hsm_cluster_id)?;
    if !only_user_role(r.role)? {
        return Ok(json!({ "Keys": [], "TotalCount": 0 }));
    }
    let filter = KeyFilter {
        states: vec![KeyState::Enabled, KeyState::Disabled, KeyState::PendingImport],
        offset,
        limit,
        ..KeyFilter::default()
    };
    let (keys, total) = ctx.kms.list_keys(&ctx.scope, &filter).await?;
    Ok(json!({
        "Keys": keys.iter().map(|k| json!({"KeyId": k.id.to_string()})).collect::<Vec<_>>(),
        "TotalCount": total,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyDetailIn {
    offset: Option<u64>,
    limit: Option<u64>,
    role: Option<u64>,
    order_type: Option<u64>,
    key_state: Option<u64>,
    search_key_alias: Option<String>,
    origin: Option<String>,
    key_usage: Option<String>,
    tag_filters: Option<Vec<TagFilterIn>>,
    hsm_cluster_id: Option<String>,
    member_accounts: Option<Value>,
}

pub(super) async fn list_key_detail(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ListKeyDetailIn = decode(body)?;
    no_member_account(&r.member_accounts)?;
    let (offset, limit) = paging(r.offset, r.limit)?;
    let order = order_type(r.order_type)?;
    let states = match r.key_state.unwrap_or(0) {
        0 => vec![],
        1 => vec![KeyState::Enabled],
        2 => vec![KeyState::Disabled],
        3 => vec![KeyState::PendingDelete],
        4 => vec![KeyState::PendingImport],
        5 => vec![KeyState::Archived],
        _ => return Err(ApiError::invalid_value("KeyState", "must be 0 to 5")),
    };
    let origin = origin_filter(r.origin.as_deref())?;
    let (usages, specs) = match r.key_usage.as_deref().unwrap_or_default() {
        "" | "ENCRYPT_DECRYPT" => (vec![KeyUsage::EncryptDecrypt], symmetric_specs()),
        "ALL" => (vec![], vec![]),
        other => match KeySpec::from_tencent_usage(other) {
            Some((spec, usage)) => (vec![usage], vec![spec]),
            None => return Err(Error::InvalidKeyUsage(other.to_owned()).into()),
        },
    };
    if !ctx.lists_all_clusters(&r.hsm_cluster_id) {
        return Ok(json!({ "TotalCount": 0, "KeyMetadatas": [] }));
    }
    if !only_user_role(r.role)? {
        return Ok(json!({ "TotalCount": 0, "KeyMetadatas": [] }));
    }
    let filter = KeyFilter {
        states,
        origin,
        usages,
        search: r.search_key_alias,
        tags: tag_filters(&r.tag_filters)?,
        order,
        offset,
        limit,
        specs,
    };
    let (keys, total) = ctx.kms.list_keys(&ctx.scope, &filter).await?;
    let hsm = ctx.hsm_cluster();
    Ok(json!({ "TotalCount": total, "KeyMetadatas": keys.iter().map(|k| key_metadata(k, &hsm)).collect::<Vec<_>>() }))
}

pub(super) async fn enable_key(ctx: &Ctx<'_>, body: &[u8], enable: bool) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = key_id(&r.key_id)?;
    if enable {
        ctx.kms.enable_key(&ctx.scope, id).await?;
    } else {
        ctx.kms.disable_key(&ctx.scope, id).await?;
    }
    Ok(json!({}))
}

pub(super) async fn enable_keys(ctx: &Ctx<'_>, body: &[u8], enable: bool) -> Outcome {
    let r: KeyIdsIn = decode(body)?;
    ctx.kms.set_keys_enabled(&ctx.scope, &key_ids(&r)?, enable).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleIn {
    key_id: Option<String>,
    pending_window_in_days: Option<u64>,
    member_account: Option<Value>,
}

pub(super) async fn schedule_key_deletion(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ScheduleIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = key_id(&r.key_id)?;
    let days = pending_window(r.pending_window_in_days)?;
    let k = ctx.kms.schedule_key_deletion(&ctx.scope, id, days, DELETION).await?;
    Ok(json!({ "DeletionDate": k.deletion_date, "KeyId": k.id.to_string() }))
}

pub(super) async fn cancel_key_deletion(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let k = ctx.kms.cancel_key_deletion(&ctx.scope, key_id(&r.key_id)?, DELETION).await?;
    Ok(json!({ "KeyId": k.id.to_string() }))
}

pub(super) async fn archive_key(ctx: &Ctx<'_>, body: &[u8], archive: bool) -> Outcome {
    let r: KeyIdIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = key_id(&r.key_id)?;
    if archive {
        ctx.kms.archive_key(&ctx.scope, id).await?;
    } else {
        ctx.kms.cancel_key_archive(&ctx.scope, id).await?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateAliasIn {
    alias: Option<String>,
    key_id: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn update_alias(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: UpdateAliasIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let alias = required_str(&r.alias, "Alias")?;
    let id = key_id(&r.key_id)?;
    ctx.kms.update_alias(&ctx.scope, id, alias).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateDescriptionIn {
    description: Option<String>,
    key_id: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn update_key_description(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: UpdateDescriptionIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let description = required(r.description, "Description")?;
    validate::description("Description", &description, MAX_DESCRIPTION)?;
    let id = key_id(&r.key_id)?;
    ctx.kms.update_key_description(&ctx.scope, id, &description).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BindIn {
    key_id: Option<String>,
    product_id: Option<String>,
    resource_id: Option<String>,
}

pub(super) async fn bind_cloud_resource(ctx: &Ctx<'_>, body: &[u8], bind: bool) -> Outcome {
    let r: BindIn = decode(body)?;
    let id = key_id(&r.key_id)?;
    let product = required_str(&r.product_id, "ProductId")?;
    let resource = required_str(&r.resource_id, "ResourceId")?;
    for (name, v) in [("ProductId", product), ("ResourceId", resource)] {
        if v.len() > 256 {
            return Err(ApiError::invalid_value(name, "at most 256 bytes"));
        }
    }
    if bind {
        ctx.kms.bind_cloud_resource(&ctx.scope, id, product, resource).await?;
    } else if !ctx.kms.unbind_cloud_resource(&ctx.scope, id, product, resource).await? {
        return Err(ApiError::new(
            "ResourceUnavailable.CloudResourceBindingNotFound",
            "The key is not bound to this cloud resource.",
        ));
    }
    Ok(json!({}))
}

/// The specs of Tencent's `ENCRYPT_DECRYPT` usage: every symmetric one.
fn symmetric_specs() -> Vec<KeySpec> {
    ferrokms_core::keyspec::SPECS.iter().filter(|s| s.spec.symmetric().is_some()).map(|s| s.spec).collect()
}
