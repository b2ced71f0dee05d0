//! How domain records look on the Tencent wire (KeyMetadata, DataKeyMetadata).

use ferrokms_core::model::{DataKeyRecord, KeyRecord, KeySpec, Origin};
use serde_json::{Value, json};

/// Tencent's Origin names.
pub fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Generated => "TENCENT_KMS",
        Origin::External => "EXTERNAL",
    }
}

/// KeyMetadata.Type: 4 for SM (GM/T) keys, 2 for FIPS keys.
fn compliance_type(spec: KeySpec) -> u64 {
    match spec {
        KeySpec::Sm4 | KeySpec::EcSm2 | KeySpec::HmacSm3 => 4,
        _ => 2,
    }
}

/// The fields KeyMetadata and DataKeyMetadata share: ferrokms keys are never sync replicas.
fn with_common(uin: u64, hsm_cluster: &str, mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, val) in [
            ("IsSyncReplica", json!(0)),
            ("SourceRegion", json!("")),
            ("SyncStatus", json!(0)),
            ("SyncMessages", json!("")),
            ("SyncStartTime", json!(0)),
            ("SyncEndTime", json!(0)),
            ("SourceHsmClusterId", json!("")),
            ("HsmClusterId", json!(hsm_cluster)),
            ("Owner", json!("user")),
            ("CreatorUin", json!(uin)),
            ("CreatorUinString", json!(uin.to_string())),
        ] {
            m.insert(k.into(), val);
        }
    }
    v
}

/// A CMK as `KeyMetadata`; `hsm_cluster` is the HSM holding the root key (or empty).
pub fn key_metadata(k: &KeyRecord, hsm_cluster: &str) -> Value {
    let uin = k.account.0;
    with_common(
        uin,
        hsm_cluster,
        json!({
            "KeyId": k.id.to_string(),
            "Alias": k.alias,
            "CreateTime": k.created_at,
            "Description": k.description,
            "KeyState": k.state.as_str(),
            "KeyUsage": k.spec.tencent_usage(k.usage),
            "Type": compliance_type(k.spec),
            "KeyRotationEnabled": k.rotation_enabled,
            "NextRotateTime": if k.rotation_enabled { k.next_rotation_at } else { 0 },
            "DeletionDate": k.deletion_date,
            "Origin": origin(k.origin),
            "ValidTo": k.material_expires_at,
            "ResourceId": format!("creatorUin/{uin}/{}", k.id),
            "RotateDays": if k.rotation_enabled { k.rotation_interval / 86_400 } else { 0 },
            "LastRotateTime": k.last_rotated_at,
        }),
    )
}

/// A hosted data key as `DataKeyMetadata`; `key_name` is its CMK's alias.
pub fn data_key_metadata(d: &DataKeyRecord, key_name: &str, hsm_cluster: &str) -> Value {
    let uin = d.account.0;
    with_common(
        uin,
        hsm_cluster,
        json!({
            "DataKeyId": d.id.to_string(),
            "KeyId": d.key_id.to_string(),
            "KeyName": key_name,
            "DataKeyName": d.name,
            "NumberOfBytes": d.number_of_bytes,
            "CreateTime": d.created_at,
            "Description": d.description,
            "KeyState": d.state.as_str(),
            "DeletionDate": d.deletion_date,
            "Origin": origin(d.origin),
            "ResourceId": format!("creatorUin/{uin}/{}", d.id),
        }),
    )
}
