//! GetServiceStatus, GetRegions, ListAlgorithms.

use ferrokms_core::model::Region;
use ferrokms_crypto::aead::SymmetricAlgorithm;
use serde::Deserialize;
use serde_json::json;

use super::{Ctx, Outcome};
use crate::request::decode;

#[derive(Deserialize)]
struct Empty {}

pub(super) async fn get_service_status(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let Empty {} = decode(body)?;
    let stats = ctx.kms.service_stats(&ctx.scope).await?;
    Ok(json!({
        "ServiceEnabled": true,
        "InvalidType": 1,
        "UserLevel": 0,
        "ExclusiveVSMEnabled": false,
        "ExclusiveHSMEnabled": false,
        "SubscriptionInfo": "",
        "CmkUserCount": stats.keys,
        "CmkLimit": stats.key_limit,
        "ExclusiveHSMList": [],
        "IsAllowedDataKeyHosted": true,
        "DataKeyLimit": stats.data_key_limit,
        "FreeDataKeyLimit": stats.data_key_limit,
        "DataKeyUsedCount": stats.data_keys,
        "SyncTaskList": [],
        "IsAllowedSync": false,
    }))
}

pub(super) fn get_regions(_: &Ctx<'_>, body: &[u8]) -> Outcome {
    let Empty {} = decode(body)?;
    Ok(json!({ "Regions": Region::tencent_names().collect::<Vec<_>>() }))
}

pub(super) fn list_algorithms(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let Empty {} = decode(body)?;
    // CreateKey has no algorithm field: ENCRYPT_DECRYPT keys use the configured algorithm.
    let symmetric = match ctx.kms.config().default_algorithm {
        SymmetricAlgorithm::Sm4Gcm => "SM4",
        _ => "AES_256",
    };
    Ok(json!({
        "SymmetricAlgorithms": [{"KeyUsage": "ENCRYPT_DECRYPT", "Algorithm": symmetric}],
        "AsymmetricAlgorithms": [],
        "AsymmetricSignVerifyAlgorithms": [],
    }))
}
