//! Mapping between rows and domain records.

use ferrokms_core::model::{
    AccessKeyRecord, AccountId, AccountRecord, AliasRecord, DataKeyRecord, KeyRecord, KeySpec, KeyState, KeyUsage,
    Origin, Region, Tag, VersionRecord,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use ferrokms_core::store::StoreError;

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!("corrupt row: {what}"))
}

fn u64_of(row: &SqliteRow, col: &str) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(col).map_err(|_| bad(col))?;
    u64::try_from(v).map_err(|_| bad(col))
}

fn uuid_of(row: &SqliteRow, col: &str) -> Result<Uuid, StoreError> {
    let v: String = row.try_get(col).map_err(|_| bad(col))?;
    Uuid::parse_str(&v).map_err(|_| bad(col))
}

fn string_of(row: &SqliteRow, col: &str) -> Result<String, StoreError> {
    row.try_get(col).map_err(|_| bad(col))
}

fn state_of(row: &SqliteRow) -> Result<KeyState, StoreError> {
    KeyState::parse(&string_of(row, "state")?).ok_or_else(|| bad("state"))
}

fn origin_of(row: &SqliteRow) -> Result<Origin, StoreError> {
    Origin::parse(&string_of(row, "origin")?).ok_or_else(|| bad("origin"))
}

pub(super) fn key(row: &SqliteRow, tags: Vec<Tag>) -> Result<KeyRecord, StoreError> {
    let algorithm: i64 = row.try_get("algorithm").map_err(|_| bad("algorithm"))?;
    Ok(KeyRecord {
        id: uuid_of(row, "id")?,
        account: AccountId(u64_of(row, "account_id")?),
        region: Region(string_of(row, "region")?),
        alias: string_of(row, "alias")?,
        description: string_of(row, "description")?,
        usage: KeyUsage::parse(&string_of(row, "usage")?).ok_or_else(|| bad("usage"))?,
        spec: u8::try_from(algorithm).ok().and_then(KeySpec::from_code).ok_or_else(|| bad("algorithm"))?,
        origin: origin_of(row)?,
        state: state_of(row)?,
        created_at: u64_of(row, "created_at")?,
        deletion_date: u64_of(row, "deletion_date")?,
        rotation_enabled: u64_of(row, "rotation_enabled")? != 0,
        rotation_interval: u64_of(row, "rotation_interval")?,
        last_rotated_at: u64_of(row, "last_rotated_at")?,
        next_rotation_at: u64_of(row, "next_rotation_at")?,
        current_version: u32::try_from(u64_of(row, "current_version")?).map_err(|_| bad("current_version"))?,
        deletion_protection: u64_of(row, "deletion_protection")? != 0,
        deletion_protection_description: string_of(row, "deletion_protection_description")?,
        policy: string_of(row, "policy")?,
        revision: u64_of(row, "revision")?,
        material_expires_at: u64_of(row, "material_expires_at")?,
        material_fingerprint: row.try_get("material_fingerprint").map_err(|_| bad("material_fingerprint"))?,
        tags,
    })
}

pub(super) fn version(row: &SqliteRow) -> Result<VersionRecord, StoreError> {
    Ok(VersionRecord {
        key_id: uuid_of(row, "key_id")?,
        version: u32::try_from(u64_of(row, "version")?).map_err(|_| bad("version"))?,
        version_id: uuid_of(row, "version_id")?,
        sealed_material: row.try_get("sealed_material").map_err(|_| bad("sealed_material"))?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(super) fn data_key(row: &SqliteRow, tags: Vec<Tag>) -> Result<DataKeyRecord, StoreError> {
    Ok(DataKeyRecord {
        id: uuid_of(row, "id")?,
        account: AccountId(u64_of(row, "account_id")?),
        region: Region(string_of(row, "region")?),
        key_id: uuid_of(row, "key_id")?,
        name: string_of(row, "name")?,
        description: string_of(row, "description")?,
        number_of_bytes: u32::try_from(u64_of(row, "number_of_bytes")?).map_err(|_| bad("number_of_bytes"))?,
        origin: origin_of(row)?,
        state: state_of(row)?,
        created_at: u64_of(row, "created_at")?,
        deletion_date: u64_of(row, "deletion_date")?,
        ciphertext: row.try_get("ciphertext").map_err(|_| bad("ciphertext"))?,
        context: row.try_get("context").map_err(|_| bad("context"))?,
        revision: u64_of(row, "revision")?,
        tags,
    })
}

pub(super) fn alias(row: &SqliteRow) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: AccountId(u64_of(row, "account_id")?),
        region: Region(string_of(row, "region")?),
        name: string_of(row, "name")?,
        key_id: uuid_of(row, "key_id")?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(super) fn account(row: &SqliteRow) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: AccountId(u64_of(row, "id")?),
        name: string_of(row, "name")?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(super) fn access_key(row: &SqliteRow) -> Result<AccessKeyRecord, StoreError> {
    Ok(AccessKeyRecord {
        id: string_of(row, "id")?,
        account: AccountId(u64_of(row, "account_id")?),
        sealed_secret: row.try_get("sealed_secret").map_err(|_| bad("sealed_secret"))?,
        active: u64_of(row, "active")? != 0,
        created_at: u64_of(row, "created_at")?,
    })
}

/// Converts a u64 to the i64 SQLite stores (values here are far below i64::MAX).
pub(super) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
