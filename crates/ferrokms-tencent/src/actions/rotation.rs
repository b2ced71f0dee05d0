//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKey.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::request::{decode, key_id, no_member_account};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableIn {
    key_id: Option<String>,
    rotate_days: Option<u64>,
    member_account: Option<Value>,
}

pub(super) async fn enable_key_rotation(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: EnableIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = key_id(&r.key_id)?;
    let days = r.rotate_days.unwrap_or(365);
    if !(7..=365).contains(&days) {
        return Err(ApiError::invalid_value("RotateDays", "must be between 7 and 365"));
    }
    ctx.kms.enable_key_rotation(&ctx.scope, id, days * 86_400).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIn {
    key_id: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn disable_key_rotation(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIn = decode(body)?;
    no_member_account(&r.member_account)?;
    ctx.kms.disable_key_rotation(&ctx.scope, key_id(&r.key_id)?).await?;
    Ok(json!({}))
}

pub(super) async fn get_key_rotation_status(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let k = ctx.kms.describe_key(&ctx.scope, key_id(&r.key_id)?).await?;
    Ok(json!({ "KeyRotationEnabled": k.rotation_enabled }))
}

pub(super) async fn rotate_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: KeyIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = key_id(&r.key_id)?;
    // Tencent's asymmetric keys have one version, which every one of its asymmetric actions
    // uses; a new one would strand what was encrypted to (or verified with) the old public key.
    if ctx.kms.describe_key(&ctx.scope, id).await?.spec.symmetric().is_none() {
        return Err(ApiError::new(
            "UnsupportedOperation.RotateNotSupported",
            "Only symmetric keys rotate through this API.",
        ));
    }
    ctx.kms.rotate_key(&ctx.scope, id).await?;
    Ok(json!({ "TaskId": uuid::Uuid::new_v4().to_string() }))
}
