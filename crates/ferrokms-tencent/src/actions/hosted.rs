//! Hosted data keys: ImportDataKey, Describe/List, GetDataKeyPlaintext/CiphertextBlob, state,
//! deletion, name and description.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferrokms_core::model::{DataKeyRecord, KeyState, parse_data_key_id, parse_key_id};
use ferrokms_core::service::{HostedSpec, ImportDataKey};
use ferrokms_core::store::DataKeyFilter;
use ferrokms_core::{Error, validate};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::render::data_key_metadata;
use crate::request::{
    TagFilterIn, TagIn, data_key_id, decode, id_list, no_member_account, order_type, origin_filter, paging,
    pending_window, public_key_wrap, required, required_str, tag_filters, tags,
};

/// DataKeyMetadata needs the CMK's alias (KeyName); a deleted CMK has none.
async fn render(ctx: &Ctx<'_>, keys: &[DataKeyRecord]) -> Result<Vec<Value>, ApiError> {
    let mut names: Vec<(Uuid, String)> = Vec::new();
    let mut out = Vec::with_capacity(keys.len());
    let hsm = ctx.hsm_cluster();
    for d in keys {
        let name = match names.iter().find(|(id, _)| *id == d.key_id) {
            Some((_, n)) => n.clone(),
            None => {
                let n = match ctx.kms.describe_key(&ctx.scope, d.key_id).await {
                    Ok(k) => k.alias,
                    Err(Error::KeyNotFound) => String::new(),
                    Err(e) => return Err(e.into()),
                };
                names.push((d.key_id, n.clone()));
                n
            }
        };
        out.push(data_key_metadata(d, &name, &hsm));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportIn {
    data_key_name: Option<String>,
    import_key_material: Option<String>,
    import_type: Option<u64>,
    description: Option<String>,
    key_id: Option<String>,
    hsm_cluster_id: Option<String>,
    tags: Option<Vec<TagIn>>,
}

pub(super) async fn import_data_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ImportIn = decode(body)?;
    let name = required_str(&r.data_key_name, "DataKeyName")?.to_owned();
    validate::data_key_name(&name)?;
    let material = required_str(&r.import_key_material, "ImportKeyMaterial")?;
    let kind = required(r.import_type, "ImportType")?;
    let key_id = match r.key_id.as_deref() {
        None | Some("") => None,
        Some(k) => Some(parse_key_id(k)?),
    };
    ctx.check_hsm_cluster(&r.hsm_cluster_id)?;
    let description = r.description.unwrap_or_default();
    validate::description("Description", &description, ferrokms_core::service::MAX_DATA_KEY_DESCRIPTION)?;
    let tags = tags(&r.tags)?;
    let bad_material = |_| Error::InvalidImportKeyMaterial("ImportKeyMaterial must be base64".into());
    let req = match kind {
        1 => ImportDataKey::Ciphertext { blob: STANDARD.decode(material.trim()).map_err(bad_material)?, key_id },
        2 => ImportDataKey::Plaintext {
            material: Zeroizing::new(STANDARD.decode(material.trim()).map_err(bad_material)?),
            key_id: key_id.ok_or_else(|| ApiError::missing("KeyId"))?,
        },
        _ => return Err(ApiError::invalid_value("ImportType", "must be 1 or 2")),
    };
    let with_tags = !tags.is_empty();
    let (id, key_id) = ctx.kms.import_data_key(&ctx.scope, req, HostedSpec { name, description, tags }).await?;
    Ok(json!({
        "KeyId": key_id.to_string(),
        "DataKeyId": id.to_string(),
        "TagCode": 0,
        "TagMsg": if with_tags { "ok" } else { "" },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyIdIn {
    data_key_id: Option<String>,
    member_account: Option<Value>,
}

fn one_id(r: &DataKeyIdIn) -> Result<Uuid, ApiError> {
    no_member_account(&r.member_account)?;
    data_key_id(&r.data_key_id)
}

pub(super) async fn describe_data_key(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DataKeyIdIn = decode(body)?;
    let d = ctx.kms.describe_data_key(&ctx.scope, one_id(&r)?).await?;
    let rendered = render(ctx, std::slice::from_ref(&d)).await?;
    Ok(json!({ "DataKeyMetadata": rendered.into_iter().next() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyIdsIn {
    data_key_ids: Option<Vec<String>>,
    member_account: Option<Value>,
}

fn ids(r: &DataKeyIdsIn) -> Result<Vec<Uuid>, ApiError> {
    no_member_account(&r.member_account)?;
    id_list(&r.data_key_ids, "DataKeyIds", parse_data_key_id, Error::DuplicateDataKeyId)
}

pub(super) async fn describe_data_keys(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DataKeyIdsIn = decode(body)?;
    let found = ctx.kms.describe_data_keys(&ctx.scope, &ids(&r)?).await?;
    Ok(json!({ "DataKeyMetadatas": render(ctx, &found).await? }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    offset: Option<u64>,
    limit: Option<u64>,
    role: Option<u64>,
    hsm_cluster_id: Option<String>,
}

pub(super) async fn list_data_keys(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ListIn = decode(body)?;
    let (offset, limit) = paging(r.offset, r.limit)?;
    ctx.check_hsm_cluster(&r.hsm_cluster_id)?;
    if r.role.unwrap_or(0) > 1 {
        return Err(ApiError::invalid_value("Role", "must be 0 or 1"));
    }
    if r.role == Some(1) {
        return Ok(json!({ "DataKeys": [], "TotalCount": 0 }));
    }
    let filter = DataKeyFilter { offset, limit, ..DataKeyFilter::default() };
    let (keys, total) = ctx.kms.list_data_keys(&ctx.scope, &filter).await?;
    Ok(json!({
        "DataKeys": keys.iter().map(|d| json!({"DataKeyId": d.id.to_string()})).collect::<Vec<_>>(),
        "TotalCount": total,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListDetailIn {
    offset: Option<u64>,
    limit: Option<u64>,
    role: Option<u64>,
    order_type: Option<u64>,
    key_state: Option<u64>,
    search_key_alias: Option<String>,
    origin: Option<String>,
    hsm_cluster_id: Option<String>,
    key_id: Option<String>,
    data_key_len: Option<u64>,
    tag_filters: Option<Vec<TagFilterIn>>,
    member_accounts: Option<Value>,
}

pub(super) async fn list_data_key_detail(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ListDetailIn = decode(body)?;
    no_member_account(&r.member_accounts)?;
    let (offset, limit) = paging(r.offset, r.limit)?;
    let order = order_type(r.order_type)?;
    let states = match r.key_state.unwrap_or(0) {
        0 => vec![],
        1 => vec![KeyState::Enabled],
        2 => vec![KeyState::Disabled],
        3 => vec![KeyState::PendingDelete],
        _ => return Err(ApiError::invalid_value("KeyState", "must be 0 to 3")),
    };
    let origin = origin_filter(r.origin.as_deref())?;
    let key_id = match r.key_id.as_deref() {
        None | Some("") => None,
        Some(k) => Some(parse_key_id(k)?),
    };
    let number_of_bytes = match r.data_key_len {
        None | Some(0) => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| ApiError::invalid_value("DataKeyLen", "too large"))?),
    };
    let empty = json!({ "DataKeyMetadatas": [], "TotalCount": 0 });
    if !ctx.lists_all_clusters(&r.hsm_cluster_id) || r.role == Some(1) {
        return Ok(empty);
    }
    if r.role.unwrap_or(0) > 1 {
        return Err(ApiError::invalid_value("Role", "must be 0 or 1"));
    }
    let filter = DataKeyFilter {
        states,
        origin,
        search: r.search_key_alias,
        key_id,
        number_of_bytes,
        tags: tag_filters(&r.tag_filters)?,
        order,
        offset,
        limit,
    };
    let (keys, total) = ctx.kms.list_data_keys(&ctx.scope, &filter).await?;
    Ok(json!({ "DataKeyMetadatas": render(ctx, &keys).await?, "TotalCount": total }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlaintextIn {
    data_key_id: Option<String>,
    encryption_public_key: Option<String>,
    encryption_algorithm: Option<String>,
}

pub(super) async fn get_data_key_plaintext(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: PlaintextIn = decode(body)?;
    let id = data_key_id(&r.data_key_id)?;
    let wrap = public_key_wrap(&r.encryption_public_key, &r.encryption_algorithm)?;
    let plaintext = ctx.kms.data_key_plaintext(&ctx.scope, id, wrap.as_ref()).await?;
    Ok(json!({ "Plaintext": STANDARD.encode(&*plaintext) }))
}

pub(super) async fn get_data_key_ciphertext_blob(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DataKeyIdIn = decode(body)?;
    let d = ctx.kms.data_key_ciphertext(&ctx.scope, one_id(&r)?).await?;
    Ok(json!({ "CiphertextBlob": STANDARD.encode(&d.ciphertext) }))
}

pub(super) async fn enable_data_key(ctx: &Ctx<'_>, body: &[u8], enable: bool) -> Outcome {
    let r: DataKeyIdIn = decode(body)?;
    ctx.kms.set_data_keys_enabled(&ctx.scope, &[one_id(&r)?], enable).await?;
    Ok(json!({}))
}

pub(super) async fn enable_data_keys(ctx: &Ctx<'_>, body: &[u8], enable: bool) -> Outcome {
    let r: DataKeyIdsIn = decode(body)?;
    ctx.kms.set_data_keys_enabled(&ctx.scope, &ids(&r)?, enable).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleIn {
    data_key_id: Option<String>,
    pending_window_in_days: Option<u64>,
    member_account: Option<Value>,
}

pub(super) async fn schedule_data_key_deletion(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: ScheduleIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = data_key_id(&r.data_key_id)?;
    let days = pending_window(r.pending_window_in_days)?;
    let d = ctx.kms.schedule_data_key_deletion(&ctx.scope, id, days).await?;
    Ok(json!({ "DeletionDate": d.deletion_date, "DataKeyId": d.id.to_string() }))
}

pub(super) async fn cancel_data_key_deletion(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DataKeyIdIn = decode(body)?;
    let d = ctx.kms.cancel_data_key_deletion(&ctx.scope, one_id(&r)?).await?;
    Ok(json!({ "DataKeyId": d.id.to_string() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameIn {
    data_key_id: Option<String>,
    data_key_name: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn update_data_key_name(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: NameIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = data_key_id(&r.data_key_id)?;
    let name = required_str(&r.data_key_name, "DataKeyName")?;
    ctx.kms.update_data_key_name(&ctx.scope, id, name).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescriptionIn {
    data_key_id: Option<String>,
    description: Option<String>,
    member_account: Option<Value>,
}

pub(super) async fn update_data_key_description(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let r: DescriptionIn = decode(body)?;
    no_member_account(&r.member_account)?;
    let id = data_key_id(&r.data_key_id)?;
    let text = required(r.description, "Description")?;
    ctx.kms.update_data_key_description(&ctx.scope, id, &text).await?;
    Ok(json!({}))
}
