//! Tags on keys: the legacy one-resource actions and the generic tag API.

use std::collections::BTreeSet;

use ferrokms_core::model::Tag;
use serde_json::json;

use super::keys::{check_tags, tags_json};
use crate::error::ApiError;
use crate::request::{Ctx, Outcome, object, ok, resolve};

fn no_secrets(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    if ctx.opt("SecretName").is_some() || ctx.opt("CertificateId").is_some() {
        return Err(ApiError::unsupported("Tags on secrets and certificates"));
    }
    Ok(())
}

pub(super) async fn tag_resource(ctx: &Ctx<'_>) -> Outcome {
    no_secrets(ctx)?;
    let tags = tags_json(ctx.req("Tags")?)?;
    let id = ctx.key("KeyId").await?;
    ctx.kms.retag_key(&ctx.scope, id, &tags, &[]).await?;
    ok()
}

/// TagKeys: a JSON array of strings (docs), or a comma-separated list.
fn tag_keys(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_else(|_| text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

pub(super) async fn untag_resource(ctx: &Ctx<'_>) -> Outcome {
    no_secrets(ctx)?;
    let keys = tag_keys(ctx.req("TagKeys")?);
    let id = ctx.key("KeyId").await?;
    ctx.kms.retag_key(&ctx.scope, id, &[], &keys).await?;
    ok()
}

pub(super) async fn list_resource_tags(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let k = ctx.kms.describe_key(&ctx.scope, id).await?;
    let tags: Vec<_> =
        k.tags.iter().map(|t| json!({"KeyId": id.to_string(), "TagKey": t.key, "TagValue": t.value})).collect();
    object(json!({ "Tags": {"Tag": tags} }))
}

fn resource_type(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match ctx.req("ResourceType")? {
        "key" => Ok(()),
        "secret" => Err(ApiError::unsupported("ResourceType secret")),
        _ => Err(ApiError::invalid("ResourceType", "must be key or secret")),
    }
}

async fn resources(ctx: &Ctx<'_>, required: bool) -> Result<Vec<uuid::Uuid>, ApiError> {
    let ids = ctx.params.list("ResourceId");
    if required && ids.is_empty() {
        return Err(ApiError::missing("ResourceId.1"));
    }
    if ids.len() > 50 {
        return Err(ApiError::invalid("ResourceId", "at most 50"));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        out.push(resolve(ctx.kms, &ctx.scope, id).await?);
    }
    Ok(out)
}

fn tag_list(ctx: &Ctx<'_>) -> Result<Vec<Tag>, ApiError> {
    let mut tags = Vec::new();
    for fields in ctx.params.object_list("Tag", &["Key", "Value"]) {
        let key = fields.first().cloned().flatten().ok_or_else(|| ApiError::missing("Tag.N.Key"))?;
        tags.push(Tag { key, value: fields.get(1).cloned().flatten().unwrap_or_default() });
    }
    Ok(tags)
}

pub(super) async fn tag_resources(ctx: &Ctx<'_>) -> Outcome {
    resource_type(ctx)?;
    let tags = tag_list(ctx)?;
    if tags.is_empty() {
        return Err(ApiError::missing("Tag.1.Key"));
    }
    check_tags(&tags)?;
    let ids = resources(ctx, true).await?;
    for id in ids {
        ctx.kms.retag_key(&ctx.scope, id, &tags, &[]).await?;
    }
    ok()
}

pub(super) async fn untag_resources(ctx: &Ctx<'_>) -> Outcome {
    resource_type(ctx)?;
    let keys = ctx.params.list("TagKey");
    let all = ctx.bool("All")?.unwrap_or(false);
    if keys.len() > 20 {
        return Err(ApiError::invalid("TagKey", "at most 20"));
    }
    let ids = resources(ctx, true).await?;
    for id in ids {
        let remove = if all && keys.is_empty() {
            ctx.kms.describe_key(&ctx.scope, id).await?.tags.into_iter().map(|t| t.key).collect()
        } else {
            keys.clone()
        };
        ctx.kms.retag_key(&ctx.scope, id, &[], &remove).await?;
    }
    ok()
}

/// Keys per page of ListTagResources; `NextToken` is the offset of the next page.
const TAG_PAGE: u64 = 100;

pub(super) async fn list_tag_resources(ctx: &Ctx<'_>) -> Outcome {
    resource_type(ctx)?;
    let offset = match ctx.opt("NextToken") {
        None => 0,
        Some(t) => t.parse::<u64>().map_err(|_| ApiError::invalid("NextToken", "not a token of this server"))?,
    };
    let filters = tag_list(ctx)?;
    let wanted = |t: &Tag| {
        filters.is_empty() || filters.iter().any(|f| f.key == t.key && (f.value.is_empty() || f.value == t.value))
    };
    let named = resources(ctx, false).await?;
    let (keys, next) = if named.is_empty() {
        let filter = ferrokms_core::store::KeyFilter { offset, limit: TAG_PAGE, ..Default::default() };
        let (keys, total) = ctx.kms.list_keys(&ctx.scope, &filter).await?;
        let next = (offset + TAG_PAGE < total).then(|| (offset + TAG_PAGE).to_string());
        (keys, next)
    } else {
        let mut keys = Vec::with_capacity(named.len());
        for id in named {
            keys.push(ctx.kms.describe_key(&ctx.scope, id).await?);
        }
        (keys, None)
    };
    let mut rows = BTreeSet::new();
    for k in &keys {
        for t in k.tags.iter().filter(|t| wanted(t)) {
            rows.insert((k.id.to_string(), t.key.clone(), t.value.clone()));
        }
    }
    let items: Vec<_> = rows
        .into_iter()
        .map(|(id, k, v)| json!({"ResourceId": id, "ResourceType": "key", "TagKey": k, "TagValue": v}))
        .collect();
    object(json!({ "NextToken": next.unwrap_or_default(), "TagResources": {"TagResource": items} }))
}
