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

pub(super) async fn list_tag_resources(ctx: &Ctx<'_>) -> Outcome {
    resource_type(ctx)?;
    if ctx.opt("NextToken").is_some() {
        // Every answer is one complete page, so no token is ever handed out.
        return Err(ApiError::invalid("NextToken", "unknown token"));
    }
    let filters = tag_list(ctx)?;
    let mut ids = resources(ctx, false).await?;
    if ids.is_empty() {
        let filter = ferrokms_core::store::KeyFilter { limit: 10_000, ..Default::default() };
        ids = ctx.kms.list_keys(&ctx.scope, &filter).await?.0.into_iter().map(|k| k.id).collect();
    }
    let mut rows = BTreeSet::new();
    for id in ids {
        let k = ctx.kms.describe_key(&ctx.scope, id).await?;
        for t in &k.tags {
            let wanted = filters.is_empty()
                || filters.iter().any(|f| f.key == t.key && (f.value.is_empty() || f.value == t.value));
            if wanted {
                rows.insert((id.to_string(), t.key.clone(), t.value.clone()));
            }
        }
    }
    let items: Vec<_> = rows
        .into_iter()
        .map(|(id, k, v)| json!({"ResourceId": id, "ResourceType": "key", "TagKey": k, "TagValue": v}))
        .collect();
    object(json!({ "NextToken": "", "TagResources": {"TagResource": items} }))
}
