//! Aliases.

use ferrokms_core::model::AliasRecord;
use serde_json::{Value, json};

use crate::request::{Ctx, Outcome, object, ok};

fn alias(a: &AliasRecord) -> Value {
    json!({
        "AliasArn": format!("acs:kms:{}:{}:{}", a.region.alibaba_name(), a.account.0, a.name),
        "AliasName": a.name,
        "KeyId": a.key_id.to_string(),
    })
}

pub(super) async fn create_alias(ctx: &Ctx<'_>) -> Outcome {
    let name = ctx.req("AliasName")?;
    ferrokms_core::service::check_alias_name(name)?;
    let key = ctx.key("KeyId").await?;
    ctx.kms.create_alias(&ctx.scope, name, key).await?;
    ok()
}

pub(super) async fn update_alias(ctx: &Ctx<'_>) -> Outcome {
    let name = ctx.req("AliasName")?;
    let key = ctx.key("KeyId").await?;
    ctx.kms.update_alias_target(&ctx.scope, name, key).await?;
    ok()
}

pub(super) async fn delete_alias(ctx: &Ctx<'_>) -> Outcome {
    ctx.kms.delete_alias(&ctx.scope, ctx.req("AliasName")?).await?;
    ok()
}

pub(super) async fn list_aliases(ctx: &Ctx<'_>, by_key: bool) -> Outcome {
    let (offset, limit, number, size) = ctx.paging(0, if by_key { 101 } else { 100 })?;
    let key = if by_key { Some(ctx.key("KeyId").await?) } else { None };
    let (aliases, total) = ctx.kms.list_aliases(&ctx.scope, key, offset, limit).await?;
    let items: Vec<_> = aliases.iter().map(alias).collect();
    object(json!({ "Aliases": {"Alias": items}, "PageNumber": number, "PageSize": size, "TotalCount": total }))
}
