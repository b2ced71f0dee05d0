//! GenerateDataKey (the seed action), with every parameter of the 2019-01-18 API.

use ferrokms_core::service::{GenerateDataKey, HostedSpec};
use ferrokms_core::validate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Answered, Ctx};
use crate::answer::{Answer, Base64, Shown};
use crate::error::ApiError;
use crate::request::{TagIn, context, decode, key_id, public_key_wrap, tags};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyIn {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<u64>,
    encryption_context: Option<String>,
    encryption_public_key: Option<String>,
    encryption_algorithm: Option<String>,
    is_hosted_by_kms: Option<u64>,
    data_key_name: Option<String>,
    description: Option<String>,
    hsm_cluster_id: Option<String>,
    tags: Option<Vec<TagIn>>,
}

/// Data key length: NumberOfBytes wins over KeySpec; one of them is required.
fn data_key_len(number_of_bytes: Option<u64>, key_spec: Option<&str>) -> Result<usize, ApiError> {
    if let Some(n) = number_of_bytes {
        if !(1..=1024).contains(&n) {
            return Err(ApiError::invalid_value("NumberOfBytes", "must be between 1 and 1024"));
        }
        return Ok(usize::try_from(n).unwrap_or(0));
    }
    match key_spec {
        Some("AES_256") => Ok(32),
        Some("AES_128") => Ok(16),
        None | Some("") => Err(ApiError::invalid_parameter("Either KeySpec or NumberOfBytes must be specified.")),
        Some(_) => Err(ApiError::invalid_value("KeySpec", "must be AES_128 or AES_256")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyOut<'a> {
    key_id: Shown<Uuid>,
    plaintext: Base64<'a>,
    ciphertext_blob: Base64<'a>,
    #[serde(flatten)]
    hosted: Option<HostedOut>,
}

/// What a hosted data key's answer adds.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostedOut {
    data_key_id: Shown<Uuid>,
    tag_code: u8,
    tag_msg: &'static str,
}

pub(super) async fn generate_data_key(ctx: &Ctx<'_>, body: &[u8]) -> Answered {
    let r: GenerateDataKeyIn = decode(body)?;
    let key_id = key_id(&r.key_id)?;
    let len = data_key_len(r.number_of_bytes, r.key_spec.as_deref())?;
    let context = context(&r.encryption_context, "EncryptionContext")?;
    let wrap = public_key_wrap(&r.encryption_public_key, &r.encryption_algorithm)?;
    ctx.check_hsm_cluster(&r.hsm_cluster_id)?;
    let description = r.description.unwrap_or_default();
    validate::description("Description", &description, ferrokms_core::service::MAX_DATA_KEY_DESCRIPTION)?;
    let tags = tags(&r.tags)?;
    let hosted = match r.is_hosted_by_kms.unwrap_or(0) {
        0 => None,
        1 => {
            let name = r.data_key_name.filter(|n| !n.is_empty()).ok_or_else(|| ApiError::missing("DataKeyName"))?;
            validate::data_key_name(&name)?;
            Some(HostedSpec { name, description, tags: tags.clone() })
        }
        _ => return Err(ApiError::invalid_value("IsHostedByKms", "must be 0 or 1")),
    };
    let hosted_with_tags = hosted.as_ref().is_some_and(|h| !h.tags.is_empty());
    let out = ctx.kms.generate_data_key(&ctx.scope, GenerateDataKey { key_id, len, context, wrap, hosted }).await?;
    ctx.used_key(out.key_id, Some(out.key_version));
    let hosted = out.data_key_id.map(|id| HostedOut {
        data_key_id: Shown(id),
        tag_code: 0,
        tag_msg: if hosted_with_tags { "ok" } else { "" },
    });
    Ok(Answer::of(&GenerateDataKeyOut {
        key_id: Shown(out.key_id),
        plaintext: Base64(&out.plaintext),
        ciphertext_blob: Base64(&out.blob),
        hosted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_of_bytes_wins_over_key_spec() {
        assert_eq!(data_key_len(Some(7), Some("AES_256")).unwrap(), 7);
        assert_eq!(data_key_len(None, Some("AES_128")).unwrap(), 16);
        assert_eq!(data_key_len(None, Some("AES_256")).unwrap(), 32);
        assert_eq!(data_key_len(Some(0), Some("AES_256")).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(data_key_len(Some(1025), None).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(data_key_len(None, Some("AES_512")).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(data_key_len(None, None).unwrap_err().code, "InvalidParameter");
        assert_eq!(data_key_len(Some(1024), None).unwrap(), 1024);
    }
}
