//! The values sealed under the root key, walked in pages and replaced one by one when the root
//! is rotated.

use ferrokms_core::store::{SealedPlace, SealedValue, StoreError};
use sqlx::PgPool;

use super::map_err;
use crate::rows;

/// Up to `limit` sealed values after `after`: key versions by (key id, version), then access
/// keys by id (both in byte order: the columns are `COLLATE "C"`).
pub(super) async fn page(
    pool: &PgPool,
    after: Option<&SealedPlace>,
    limit: u32,
) -> Result<Vec<SealedValue>, StoreError> {
    let mut out = Vec::new();
    let then_access_keys = match after {
        None => {
            versions(pool, "", -1, limit, &mut out).await?;
            true
        }
        Some(SealedPlace::KeyVersion { key_id, version }) => {
            versions(pool, &key_id.to_string(), i64::from(*version), limit, &mut out).await?;
            true
        }
        Some(SealedPlace::AccessKey { id }) => {
            access_keys(pool, id, limit, &mut out).await?;
            false
        }
    };
    if then_access_keys && out.len() < limit as usize {
        let left = limit - u32::try_from(out.len()).unwrap_or(limit);
        access_keys(pool, "", left, &mut out).await?;
    }
    Ok(out)
}

async fn versions(
    pool: &PgPool,
    key_id: &str,
    version: i64,
    limit: u32,
    out: &mut Vec<SealedValue>,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT v.key_id, v.version, v.sealed_material, k.account_id FROM key_versions v \
         JOIN keys k ON k.id = v.key_id WHERE v.key_id > $1 OR (v.key_id = $1 AND v.version > $2) \
         ORDER BY v.key_id, v.version LIMIT $3",
    )
    .bind(key_id)
    .bind(version)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    for row in rows {
        out.push(rows::sealed_version(&row)?);
    }
    Ok(())
}

async fn access_keys(pool: &PgPool, after: &str, limit: u32, out: &mut Vec<SealedValue>) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT id, account_id, sealed_secret FROM access_keys WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(map_err)?;
    for row in rows {
        out.push(rows::sealed_access_key(&row)?);
    }
    Ok(())
}

/// Replaces the value at `place` if it still is `expected`.
pub(super) async fn replace(
    pool: &PgPool,
    place: &SealedPlace,
    expected: &[u8],
    sealed: &[u8],
) -> Result<bool, StoreError> {
    let done = match place {
        SealedPlace::KeyVersion { key_id, version } => {
            sqlx::query(
                "UPDATE key_versions SET sealed_material = $1 \
                 WHERE key_id = $2 AND version = $3 AND sealed_material = $4",
            )
            .bind(sealed)
            .bind(key_id.to_string())
            .bind(i64::from(*version))
            .bind(expected)
            .execute(pool)
            .await
        }
        SealedPlace::AccessKey { id } => {
            sqlx::query("UPDATE access_keys SET sealed_secret = $1 WHERE id = $2 AND sealed_secret = $3")
                .bind(sealed)
                .bind(id)
                .bind(expected)
                .execute(pool)
                .await
        }
    }
    .map_err(map_err)?;
    Ok(done.rows_affected() > 0)
}
