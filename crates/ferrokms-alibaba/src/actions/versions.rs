//! Key versions and rotation.

use ferrokms_core::Error;
use ferrokms_core::model::VersionRecord;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::render::iso;
use crate::request::{Ctx, Outcome, object, ok, rotation_interval};

fn version(v: &VersionRecord) -> Value {
    json!({"CreationDate": iso(v.created_at), "KeyId": v.key_id.to_string(), "KeyVersionId": v.version_id.to_string()})
}

pub(super) async fn create_key_version(ctx: &Ctx<'_>) -> Outcome {
    let id = ctx.key("KeyId").await?;
    let k = ctx.kms.rotate_key(&ctx.scope, id).await?;
    let version_id = ctx.kms.version_id(&ctx.scope, id, k.current_version).await?;
    object(
        json!({"KeyVersion": {"CreationDate": iso(k.last_rotated_at), "KeyId": id.to_string(), "KeyVersionId": version_id.to_string()}}),
    )
}

pub(super) async fn describe_key_version(ctx: &Ctx<'_>) -> Outcome {
    let version_id = ctx.req("KeyVersionId")?.to_owned();
    let id = ctx.key("KeyId").await?;
    let versions = ctx.kms.key_versions(&ctx.scope, id).await?;
    let v = versions
        .iter()
        .find(|v| v.version_id.to_string() == version_id)
        .ok_or_else(|| ApiError::from(Error::KeyVersionNotFound))?;
    object(json!({ "KeyVersion": version(v) }))
}

pub(super) async fn list_key_versions(ctx: &Ctx<'_>) -> Outcome {
    let (offset, limit, number, size) = ctx.paging(0, 101)?;
    let id = ctx.key("KeyId").await?;
    let versions = ctx.kms.key_versions(&ctx.scope, id).await?;
    let total = versions.len();
    let page: Vec<_> = versions
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(version)
        .collect();
    object(json!({ "KeyVersions": {"KeyVersion": page}, "PageNumber": number, "PageSize": size, "TotalCount": total }))
}

pub(super) async fn update_rotation_policy(ctx: &Ctx<'_>) -> Outcome {
    let enable = ctx.bool("EnableAutomaticRotation")?.ok_or_else(|| ApiError::missing("EnableAutomaticRotation"))?;
    let interval = if enable { Some(rotation_interval(ctx.req("RotationInterval")?, 7, 730)?) } else { None };
    let id = ctx.key("KeyId").await?;
    match interval {
        Some(secs) => ctx.kms.enable_key_rotation(&ctx.scope, id, secs).await?,
        None => ctx.kms.disable_key_rotation(&ctx.scope, id).await?,
    };
    ok()
}
