//! GetServiceStatus, GetRegions, ListAlgorithms.

use ferrokms_core::keyspec::SPECS;
use ferrokms_core::model::{KeyUsage, Region};
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
    // CreateKey has no algorithm field: ENCRYPT_DECRYPT keys use the configured spec. HMAC keys
    // have no Tencent actions, so they are not listed here.
    let default = ctx.kms.config().default_spec;
    let symmetric = [json!({"KeyUsage": "ENCRYPT_DECRYPT", "Algorithm": default.info().tencent_algorithm})];
    let (mut encryption, mut signing) = (vec![], vec![]);
    for info in SPECS.iter().filter(|s| s.spec.is_asymmetric()) {
        for (usage, name) in info.tencent {
            let entry = json!({"KeyUsage": name, "Algorithm": info.tencent_algorithm});
            match usage {
                KeyUsage::SignVerify => signing.push(entry),
                _ => encryption.push(entry),
            }
        }
    }
    Ok(json!({
        "SymmetricAlgorithms": symmetric,
        "AsymmetricAlgorithms": encryption,
        "AsymmetricSignVerifyAlgorithms": signing,
    }))
}
