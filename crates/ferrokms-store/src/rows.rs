//! Mapping between rows and domain records, shared by the backends: each column type a backend
//! stores is read through [`Cols`], the one place the backends differ (SQLite keeps flags as
//! integers, PostgreSQL as booleans).

use ferrokms_core::model::{
    AccessKeyRecord, AccountId, AccountRecord, AliasRecord, DataKeyRecord, KeyRecord, KeySpec, KeyState, KeyUsage,
    Origin, Region, Tag, VersionRecord,
};
use sqlx::Row;
use uuid::Uuid;

use ferrokms_core::store::{SealedPlace, SealedValue, StoreError};

pub(crate) fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!("corrupt row: {what}"))
}

/// Typed column reads of a backend's rows.
pub(crate) trait Cols {
    /// An integer column.
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    /// A text column.
    fn text(&self, col: &str) -> Result<String, StoreError>;
    /// A binary column.
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError>;
    /// A yes/no column.
    fn flag(&self, col: &str) -> Result<bool, StoreError>;
}

impl Cols for sqlx::sqlite::SqliteRow {
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn text(&self, col: &str) -> Result<String, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn flag(&self, col: &str) -> Result<bool, StoreError> {
        Ok(self.int(col)? != 0)
    }
}

impl Cols for sqlx::postgres::PgRow {
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn text(&self, col: &str) -> Result<String, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
    fn flag(&self, col: &str) -> Result<bool, StoreError> {
        self.try_get(col).map_err(|_| bad(col))
    }
}

fn u64_of(row: &impl Cols, col: &str) -> Result<u64, StoreError> {
    u64::try_from(row.int(col)?).map_err(|_| bad(col))
}

fn u32_of(row: &impl Cols, col: &str) -> Result<u32, StoreError> {
    u32::try_from(row.int(col)?).map_err(|_| bad(col))
}

pub(crate) fn uuid_of(row: &impl Cols, col: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&row.text(col)?).map_err(|_| bad(col))
}

fn string_of(row: &impl Cols, col: &str) -> Result<String, StoreError> {
    row.text(col)
}

fn state_of(row: &impl Cols) -> Result<KeyState, StoreError> {
    KeyState::parse(&string_of(row, "state")?).ok_or_else(|| bad("state"))
}

fn origin_of(row: &impl Cols) -> Result<Origin, StoreError> {
    Origin::parse(&string_of(row, "origin")?).ok_or_else(|| bad("origin"))
}

/// The account of a row (column `account_id`).
pub(crate) fn account_of(row: &impl Cols) -> Result<AccountId, StoreError> {
    Ok(AccountId(u64_of(row, "account_id")?))
}

pub(crate) fn key<R: Cols>(row: &R, tags: Vec<Tag>) -> Result<KeyRecord, StoreError> {
    let algorithm = row.int("algorithm")?;
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
        rotation_enabled: row.flag("rotation_enabled")?,
        rotation_interval: u64_of(row, "rotation_interval")?,
        last_rotated_at: u64_of(row, "last_rotated_at")?,
        next_rotation_at: u64_of(row, "next_rotation_at")?,
        current_version: u32_of(row, "current_version")?,
        deletion_protection: row.flag("deletion_protection")?,
        deletion_protection_description: string_of(row, "deletion_protection_description")?,
        policy: string_of(row, "policy")?,
        revision: u64_of(row, "revision")?,
        material_expires_at: u64_of(row, "material_expires_at")?,
        material_fingerprint: row.bytes("material_fingerprint")?,
        tags,
    })
}

pub(crate) fn version<R: Cols>(row: &R) -> Result<VersionRecord, StoreError> {
    Ok(VersionRecord {
        key_id: uuid_of(row, "key_id")?,
        version: u32_of(row, "version")?,
        version_id: uuid_of(row, "version_id")?,
        sealed_material: row.bytes("sealed_material")?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(crate) fn data_key<R: Cols>(row: &R, tags: Vec<Tag>) -> Result<DataKeyRecord, StoreError> {
    Ok(DataKeyRecord {
        id: uuid_of(row, "id")?,
        account: AccountId(u64_of(row, "account_id")?),
        region: Region(string_of(row, "region")?),
        key_id: uuid_of(row, "key_id")?,
        name: string_of(row, "name")?,
        description: string_of(row, "description")?,
        number_of_bytes: u32_of(row, "number_of_bytes")?,
        origin: origin_of(row)?,
        state: state_of(row)?,
        created_at: u64_of(row, "created_at")?,
        deletion_date: u64_of(row, "deletion_date")?,
        ciphertext: row.bytes("ciphertext")?,
        context: row.bytes("context")?,
        revision: u64_of(row, "revision")?,
        tags,
    })
}

pub(crate) fn alias<R: Cols>(row: &R) -> Result<AliasRecord, StoreError> {
    Ok(AliasRecord {
        account: AccountId(u64_of(row, "account_id")?),
        region: Region(string_of(row, "region")?),
        name: string_of(row, "name")?,
        key_id: uuid_of(row, "key_id")?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(crate) fn account<R: Cols>(row: &R) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: AccountId(u64_of(row, "id")?),
        name: string_of(row, "name")?,
        created_at: u64_of(row, "created_at")?,
    })
}

pub(crate) fn access_key<R: Cols>(row: &R) -> Result<AccessKeyRecord, StoreError> {
    Ok(AccessKeyRecord {
        id: string_of(row, "id")?,
        account: AccountId(u64_of(row, "account_id")?),
        sealed_secret: row.bytes("sealed_secret")?,
        active: row.flag("active")?,
        created_at: u64_of(row, "created_at")?,
    })
}

/// Converts a u64 to the i64 the databases store (values here are far below i64::MAX).
/// A key version's sealed material (columns key_id, version, sealed_material, account_id).
pub(crate) fn sealed_version<R: Cols>(row: &R) -> Result<SealedValue, StoreError> {
    Ok(SealedValue {
        place: SealedPlace::KeyVersion {
            key_id: uuid_of(row, "key_id")?,
            version: u32::try_from(row.int("version")?).map_err(|_| bad("version"))?,
        },
        account: account_of(row)?,
        sealed: row.bytes("sealed_material")?,
    })
}

/// An access key's sealed secret (columns id, account_id, sealed_secret).
pub(crate) fn sealed_access_key<R: Cols>(row: &R) -> Result<SealedValue, StoreError> {
    Ok(SealedValue {
        place: SealedPlace::AccessKey { id: row.text("id")? },
        account: account_of(row)?,
        sealed: row.bytes("sealed_secret")?,
    })
}

pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
