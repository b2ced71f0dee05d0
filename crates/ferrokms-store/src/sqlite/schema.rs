//! The schema: sqlx migrations (`migrations/sqlite/`, embedded in the binary), tracked in
//! `_sqlx_migrations`.
//!
//! Databases made before the migrations moved to sqlx recorded their steps in
//! `ferrokms_schema` (versions 1 to 3); migrations 1 to 3 are those steps, unchanged, so such a
//! database is adopted: the steps it has are marked applied without running them, then the rest
//! run. Migration 4 leaves version 1000 in `ferrokms_schema`, which an older ferrokms refuses as
//! newer than it knows.

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{SqlSafeStr, SqlitePool};

use ferrokms_core::store::StoreError;

use super::map_err;

/// The migrations in order. Append, never edit: sqlx checks the applied ones' checksums.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/sqlite/0001_initial.sql")),
    (
        2,
        "tags account and listing indexes",
        include_str!("../../migrations/sqlite/0002_tags_account_and_listing_indexes.sql"),
    ),
    (3, "imported material", include_str!("../../migrations/sqlite/0003_imported_material.sql")),
    (4, "portable order and ids", include_str!("../../migrations/sqlite/0004_portable_order_and_ids.sql")),
];

/// The last version `ferrokms_schema` knew before sqlx took over.
const LAST_LEGACY_VERSION: i64 = 3;
/// What `ferrokms_schema` holds once sqlx tracks the schema.
const SQLX_MANAGED: i64 = 1000;

fn migrator() -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(*version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Brings the schema up to date, adopting a database of the hand-rolled migrations.
pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let migrator = migrator();
    let has_legacy: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ferrokms_schema')",
    )
    .fetch_one(pool)
    .await
    .map_err(map_err)?;
    let legacy: Option<i64> = if has_legacy {
        sqlx::query_scalar("SELECT MAX(version) FROM ferrokms_schema").fetch_one(pool).await.map_err(map_err)?
    } else {
        None
    };
    match legacy {
        Some(v) if v == SQLX_MANAGED => {}
        Some(v) if (1..=LAST_LEGACY_VERSION).contains(&v) => {
            // Idempotent: an adoption interrupted half-way is finished by the next start.
            migrator.skip(pool, Some(v)).await.map_err(migrate_err)?;
        }
        Some(v) => {
            return Err(StoreError::Unavailable(format!(
                "the database has schema version {v}, which this ferrokms does not know"
            )));
        }
        None => {}
    }
    migrator.run(pool).await.map_err(migrate_err)
}

fn migrate_err(e: MigrateError) -> StoreError {
    match e {
        MigrateError::VersionMissing(v) => StoreError::Unavailable(format!(
            "the database has schema migration {v}, newer than this ferrokms knows (a newer ferrokms made it)"
        )),
        other => StoreError::Unavailable(format!("schema migration failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;
    use crate::SqliteStore;
    use ferrokms_core::model::AccountId;
    use ferrokms_core::store::{KeyFilter, Order, Store};

    fn temp_db() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ferrokms-schema-{}.db", uuid::Uuid::new_v4()))
    }

    async fn pool(path: &std::path::Path) -> SqlitePool {
        let options = SqliteConnectOptions::from_str("sqlite:").unwrap().filename(path).create_if_missing(true);
        SqlitePool::connect_with(options).await.unwrap()
    }

    fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }

    /// A database as the hand-rolled migrations of an older ferrokms left it at `version`,
    /// with two accounts and three keys (two created in the same second).
    async fn legacy_db(path: &std::path::Path, version: i64) {
        let pool = pool(path).await;
        sqlx::query("CREATE TABLE IF NOT EXISTS ferrokms_schema (version BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        for (v, _, sql) in MIGRATIONS.iter().take(usize::try_from(version).unwrap()) {
            sqlx::raw_sql(*sql).execute(&pool).await.unwrap();
            sqlx::query("INSERT INTO ferrokms_schema (version) VALUES (?)").bind(v).execute(&pool).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO accounts (id, name, created_at) VALUES (100000000001, 'a', 1), (100000000002, 'b', 2)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for (id, alias, at) in [
            ("00000000-0000-4000-8000-00000000000c", "first", 10),
            ("00000000-0000-4000-8000-00000000000a", "second", 10),
            ("00000000-0000-4000-8000-00000000000b", "third", 5),
        ] {
            sqlx::query(
                "INSERT INTO keys (id, account_id, region, alias, description, usage, algorithm, origin, state, \
                 created_at, deletion_date, rotation_enabled, rotation_interval, last_rotated_at, next_rotation_at, \
                 current_version, deletion_protection, deletion_protection_description, policy, revision) \
                 VALUES (?, 100000000001, 'ap-guangzhou', ?, '', 'ENCRYPT_DECRYPT', 1, 'GENERATED', 'Enabled', ?, \
                 0, 0, 0, 0, 0, 1, 0, '', '', 1)",
            )
            .bind(id)
            .bind(alias)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn databases_of_the_hand_rolled_migrations_are_adopted() {
        for version in 1..=LAST_LEGACY_VERSION {
            let path = temp_db();
            legacy_db(&path, version).await;
            let store = SqliteStore::open(&path).await.unwrap_or_else(|e| panic!("version {version}: {e}"));
            let f = KeyFilter { order: Order::NewestFirst, limit: 10, ..Default::default() };
            let (keys, total) = store
                .list_keys(AccountId(100_000_000_001), &ferrokms_core::model::Region("ap-guangzhou".into()), &f)
                .await
                .unwrap();
            assert_eq!(total, 3);
            let aliases: Vec<&str> = keys.iter().map(|k| k.alias.as_str()).collect();
            assert_eq!(aliases, ["second", "first", "third"], "ties keep their insertion order");
            assert_eq!(keys[0].material_expires_at, 0);
            let next = store.create_account("c", 3).await.unwrap();
            assert_eq!(next.id, AccountId(100_000_000_003), "account ids continue");
            store.close().await;
            // Opening again changes nothing.
            let store = SqliteStore::open(&path).await.unwrap();
            assert_eq!(store.list_accounts().await.unwrap().len(), 3);
            store.close().await;
            remove(&path);
        }
    }

    #[tokio::test]
    async fn an_interrupted_adoption_is_finished() {
        let path = temp_db();
        legacy_db(&path, 2).await;
        // Only migration 1 marked applied, as if the process died during the adoption.
        let pool = pool(&path).await;
        migrator().skip(&pool, Some(1)).await.unwrap();
        pool.close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.list_accounts().await.unwrap().len(), 2);
        store.close().await;
        remove(&path);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let path = temp_db();
        SqliteStore::open(&path).await.unwrap().close().await;
        let db = pool(&path).await;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99, 'from the future', 1, x'00', 0)",
        )
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
        let e = SqliteStore::open(&path).await.unwrap_err();
        assert!(e.to_string().contains("newer than this ferrokms knows"), "{e}");
        remove(&path);

        let path = temp_db();
        let db = pool(&path).await;
        sqlx::raw_sql(
            "CREATE TABLE ferrokms_schema (version BIGINT NOT NULL); INSERT INTO ferrokms_schema VALUES (7);",
        )
        .execute(&db)
        .await
        .unwrap();
        db.close().await;
        let e = SqliteStore::open(&path).await.unwrap_err();
        assert!(e.to_string().contains("schema version 7"), "{e}");
        remove(&path);
    }
}
