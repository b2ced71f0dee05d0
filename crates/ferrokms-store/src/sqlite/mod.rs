//! The embedded SQLite backend: one database file, WAL journal, `synchronous=FULL`, so every
//! acknowledged write survives a crash of the process or the machine.

mod batch;
mod checkpoint;
mod listing;
mod schema;
mod sealed;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrokms_core::model::{
    AccessKeyRecord, AccountId, AccountRecord, AliasRecord, DataKeyRecord, KeyRecord, Region, Tag, VersionRecord,
};
use ferrokms_core::store::{Conflict, DataKeyFilter, KeyFilter, SealedPlace, SealedValue, Store, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::filters::{self, Like};
use crate::group_commit::{GroupCommit, Held};
use crate::rows::{self, i};
use listing::Reader;

/// SQLite's `LIKE` ignores the case of ASCII letters.
const LIKE: Like = Like("LIKE");

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    reads: Reader,
    data_keys: GroupCommit<batch::Batches>,
    checkpoints: checkpoint::Checkpoints,
}

/// Tunables of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Longest a listing may run before it is stopped.
    pub listing_time_limit: Duration,
    /// Connections for listings, apart from the ones for writes and lookups.
    pub listing_connections: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { listing_time_limit: Duration::from_secs(5), listing_connections: 4 }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

/// Normalises a backend error; a unique violation becomes `Conflict::Duplicate`.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(Conflict::Duplicate),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// For statements whose unique rules are an id and `rule`: a unique violation on the columns
/// `columns` (as SQLite names them, `table.column, ...`) is `rule`, any other is the id
/// (`Conflict::Duplicate`).
pub(crate) fn unique(rule: Conflict, columns: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| {
        let on_rule = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation()
            && db.message().strip_prefix("UNIQUE constraint failed: ") == Some(columns));
        match map_err(e) {
            StoreError::Conflict(Conflict::Duplicate) if on_rule => StoreError::Conflict(rule),
            other => other,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteOptions::default()).await
    }

    /// [`SqliteStore::open`] with tunables.
    pub async fn open_with(path: &Path, opts: &SqliteOptions) -> Result<Self, StoreError> {
        owner_only(path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(map_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        // The writers' connections: the WAL's pages are copied by a task of its own (see
        // `checkpoint`); the commit that takes the WAL past 40 000 pages (160 MiB) checkpoints
        // what is left and so lets the log start again from its beginning. A 32 MiB page cache
        // each (SQLite's default is 2 MiB), so index pages are not read back per batch. The WAL
        // file is cut back to 256 MiB after a checkpoint.
        let writes = options
            .clone()
            .pragma("wal_autocheckpoint", "40000")
            .pragma("journal_size_limit", "268435456")
            .pragma("cache_size", "-32768");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(writes.clone()).await.map_err(map_err)?;
        schema::migrate(&pool).await?;
        let restart = Arc::new(checkpoint::LogRestart::default());
        let reads =
            Reader::open(options, opts.listing_connections, opts.listing_time_limit, Arc::clone(&restart)).await?;
        let data_keys = GroupCommit::start(batch::Batches(Held::new(pool.clone())));
        let checkpoints = checkpoint::Checkpoints::start(writes, restart);
        Ok(Self { pool, reads, data_keys, checkpoints })
    }

    /// Commits what the data key writer still holds, then closes the database (SQLite
    /// checkpoints the WAL when its last connection closes). Calls after it fail.
    pub async fn close(&self) {
        self.data_keys.close().await;
        self.checkpoints.stop().await;
        self.reads.close().await;
        self.pool.close().await;
    }

    /// A count of an account's rows.
    async fn count(&self, sql: &'static str, account: AccountId) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql).bind(i(account.0)).fetch_one(&self.pool).await.map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Deletes a record that is still PendingDelete and due (`delete`, bound to id and `due_by`),
    /// then its dependent rows (`children`, bound to id), in one transaction; false if it was not.
    async fn delete_due(
        &self,
        delete: &'static str,
        children: &[&'static str],
        id: Uuid,
        due_by: u64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let done = sqlx::query(delete).bind(id.to_string()).bind(i(due_by)).execute(&mut *tx).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        for sql in children {
            sqlx::query(*sql).bind(id.to_string()).execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn tags(&self, resource: Uuid) -> Result<Vec<Tag>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT tag_key, tag_value FROM tags WHERE resource_id = ? ORDER BY tag_key")
                .bind(resource.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(rows.into_iter().map(|(key, value)| Tag { key, value }).collect())
    }
}

/// The files of the database at `path`: itself, its WAL and the WAL's index.
fn files(path: &Path) -> [std::path::PathBuf; 3] {
    ["", "-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        name.into()
    })
}

/// Creates the database file readable by its owner only (SQLite gives the `-wal` and `-shm`
/// files the mode of the database), and tightens files an older version left wider.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| StoreError::Unavailable(format!("cannot create {}: {e}", path.display()));
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(fail)?;
    for file in files(path) {
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    Ok(())
}

async fn insert_tags(
    tx: &mut Transaction<'_, Sqlite>,
    account: AccountId,
    resource: Uuid,
    tags: &[Tag],
) -> Result<(), StoreError> {
    for t in tags {
        sqlx::query("INSERT INTO tags (account_id, resource_id, tag_key, tag_value) VALUES (?, ?, ?, ?)")
            .bind(i(account.0))
            .bind(resource.to_string())
            .bind(&t.key)
            .bind(&t.value)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

/// The unique rule of key aliases, as SQLite reports its violation.
const KEY_ALIAS: &str = "keys.account_id, keys.region, keys.alias";
/// The unique rule of data key names.
const DATA_KEY_NAME: &str = "data_keys.account_id, data_keys.region, data_keys.name";

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, name: &str, now: u64) -> Result<AccountRecord, StoreError> {
        let id: i64 = sqlx::query_scalar("INSERT INTO accounts (name, created_at) VALUES (?, ?) RETURNING id")
            .bind(name)
            .bind(i(now))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(AccountRecord {
            id: AccountId(u64::try_from(id).unwrap_or_default()),
            name: name.to_owned(),
            created_at: now,
        })
    }

    async fn first_account(&self, name: &str, now: u64) -> Result<(AccountRecord, bool), StoreError> {
        // One statement: SQLite's single writer makes the check and the insert one step.
        let made = sqlx::query(
            "INSERT INTO accounts (name, created_at) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM accounts)",
        )
        .bind(name)
        .bind(i(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?
        .rows_affected()
            > 0;
        let row =
            sqlx::query("SELECT * FROM accounts ORDER BY id LIMIT 1").fetch_one(&self.pool).await.map_err(map_err)?;
        Ok((rows::account(&row)?, made))
    }

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY id").fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(rows::account).collect()
    }

    async fn insert_access_key(&self, k: &AccessKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_keys (id, account_id, sealed_secret, active, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(i(k.account.0))
        .bind(&k.sealed_secret)
        .bind(i64::from(k.active))
        .bind(i(k.created_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM access_keys WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::access_key).transpose()
    }

    async fn list_access_keys(&self) -> Result<Vec<AccessKeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM access_keys ORDER BY account_id, created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(rows::access_key).collect()
    }

    async fn set_access_key_active(&self, id: &str, active: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE access_keys SET active = ? WHERE id = ?")
            .bind(i64::from(active))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_key(&self, k: &KeyRecord, first: Option<&VersionRecord>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "INSERT INTO keys (id, account_id, region, alias, description, usage, algorithm, origin, state, created_at, \
             deletion_date, rotation_enabled, rotation_interval, last_rotated_at, next_rotation_at, current_version, \
             deletion_protection, deletion_protection_description, policy, revision, material_expires_at, \
             material_fingerprint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.id.to_string())
        .bind(i(k.account.0))
        .bind(&k.region.0)
        .bind(&k.alias)
        .bind(&k.description)
        .bind(k.usage.as_str())
        .bind(i64::from(k.spec.code()))
        .bind(k.origin.as_str())
        .bind(k.state.as_str())
        .bind(i(k.created_at))
        .bind(i(k.deletion_date))
        .bind(i64::from(k.rotation_enabled))
        .bind(i(k.rotation_interval))
        .bind(i(k.last_rotated_at))
        .bind(i(k.next_rotation_at))
        .bind(i64::from(k.current_version))
        .bind(i64::from(k.deletion_protection))
        .bind(&k.deletion_protection_description)
        .bind(&k.policy)
        .bind(i(k.revision))
        .bind(i(k.material_expires_at))
        .bind(&k.material_fingerprint)
        .execute(&mut *tx)
        .await
        .map_err(unique(Conflict::Alias, KEY_ALIAS))?;
        if let Some(v) = first {
            insert_version(&mut tx, v).await?;
        }
        insert_tags(&mut tx, k.account, k.id, &k.tags).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_key(&self, id: Uuid) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM keys WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => Ok(Some(rows::key(&row, self.tags(id).await?)?)),
            None => Ok(None),
        }
    }

    async fn update_key(&self, k: &KeyRecord, expected_revision: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        update_key_row(&mut tx, k, expected_revision).await?;
        sqlx::query("DELETE FROM tags WHERE resource_id = ?")
            .bind(k.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_tags(&mut tx, k.account, k.id, &k.tags).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_version(&self, k: &KeyRecord, expected_revision: u64, v: &VersionRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        update_key_row(&mut tx, k, expected_revision).await?;
        insert_version(&mut tx, v).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn remove_versions(&self, k: &KeyRecord, expected_revision: u64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        update_key_row(&mut tx, k, expected_revision).await?;
        sqlx::query("DELETE FROM key_versions WHERE key_id = ?")
            .bind(k.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_version(&self, key_id: Uuid, version: u32) -> Result<Option<VersionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM key_versions WHERE key_id = ? AND version = ?")
            .bind(key_id.to_string())
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::version).transpose()
    }

    async fn list_versions(&self, key_id: Uuid) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM key_versions WHERE key_id = ? ORDER BY version")
            .bind(key_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(rows::version).collect()
    }

    async fn insert_alias(&self, a: &AliasRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO aliases (account_id, region, name, key_id, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(i(a.account.0))
            .bind(&a.region.0)
            .bind(&a.name)
            .bind(a.key_id.to_string())
            .bind(i(a.created_at))
            .execute(&self.pool)
            .await
            .map_err(unique(Conflict::Alias, "aliases.account_id, aliases.region, aliases.name"))?;
        Ok(())
    }

    async fn update_alias(
        &self,
        account: AccountId,
        region: &Region,
        name: &str,
        key_id: Uuid,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE aliases SET key_id = ? WHERE account_id = ? AND region = ? AND name = ?")
            .bind(key_id.to_string())
            .bind(i(account.0))
            .bind(&region.0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_alias(&self, account: AccountId, region: &Region, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM aliases WHERE account_id = ? AND region = ? AND name = ?")
            .bind(i(account.0))
            .bind(&region.0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_alias(
        &self,
        account: AccountId,
        region: &Region,
        name: &str,
    ) -> Result<Option<AliasRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM aliases WHERE account_id = ? AND region = ? AND name = ?")
            .bind(i(account.0))
            .bind(&region.0)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::alias).transpose()
    }

    async fn list_aliases(
        &self,
        account: AccountId,
        region: &Region,
        key_id: Option<Uuid>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<AliasRecord>, u64), StoreError> {
        let build = |select: &str| {
            let mut q = QueryBuilder::<Sqlite>::new(select);
            q.push(" FROM aliases WHERE account_id = ");
            q.push_bind(i(account.0));
            q.push(" AND region = ");
            q.push_bind(region.0.clone());
            if let Some(k) = key_id {
                q.push(" AND key_id = ");
                q.push_bind(k.to_string());
            }
            q
        };
        let mut conn = self.reads.conn().await?;
        let total: i64 = match build("SELECT COUNT(*)").build_query_scalar().fetch_one(conn.get()).await {
            Ok(n) => n,
            Err(e) => return Err(conn.error(e)),
        };
        let mut q = build("SELECT *");
        q.push(" ORDER BY name LIMIT ");
        q.push_bind(i(limit));
        q.push(" OFFSET ");
        q.push_bind(i(offset));
        let rows = match q.build().fetch_all(conn.get()).await {
            Ok(rows) => rows,
            Err(e) => return Err(conn.error(e)),
        };
        let aliases = rows.iter().map(rows::alias).collect::<Result<Vec<_>, _>>()?;
        Ok((aliases, u64::try_from(total).unwrap_or_default()))
    }

    async fn list_keys(
        &self,
        account: AccountId,
        region: &Region,
        f: &KeyFilter,
    ) -> Result<(Vec<KeyRecord>, u64), StoreError> {
        let build = |select: &str| {
            let mut q = QueryBuilder::<Sqlite>::new(select);
            filters::keys(&mut q, account, region, f, LIKE);
            q
        };
        self.reads.conn().await?.page(build, f.order, f.offset, f.limit, rows::key).await
    }

    async fn count_keys(&self, account: AccountId) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM keys WHERE account_id = ?", account).await
    }

    async fn delete_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError> {
        self.delete_due(
            "DELETE FROM keys WHERE id = ? AND state = 'PendingDelete' AND deletion_date <= ?",
            &[
                "DELETE FROM key_versions WHERE key_id = ?",
                "DELETE FROM tags WHERE resource_id = ?",
                "DELETE FROM cloud_bindings WHERE key_id = ?",
                "DELETE FROM aliases WHERE key_id = ?",
            ],
            id,
            due_by,
        )
        .await
    }

    async fn keys_due_for_deletion(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM keys WHERE state = 'PendingDelete' AND deletion_date <= ? LIMIT 1000")
            .bind(i(now))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(|r| rows::key(r, Vec::new())).collect()
    }

    async fn keys_due_for_rotation(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM keys WHERE state = 'Enabled' AND rotation_enabled = 1 AND next_rotation_at > 0 \
             AND next_rotation_at <= ? LIMIT 1000",
        )
        .bind(i(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let k = rows::key(row, Vec::new())?;
            let tags = self.tags(k.id).await?;
            out.push(KeyRecord { tags, ..k });
        }
        Ok(out)
    }

    async fn keys_with_expired_material(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM keys WHERE material_expires_at > 0 AND material_expires_at <= ? \
             AND state NOT IN ('PendingImport', 'PendingDelete') LIMIT 1000",
        )
        .bind(i(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let k = rows::key(row, Vec::new())?;
            let tags = self.tags(k.id).await?;
            out.push(KeyRecord { tags, ..k });
        }
        Ok(out)
    }

    async fn bind_resource(&self, key_id: Uuid, product: &str, resource: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cloud_bindings (key_id, product_id, resource_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(key_id.to_string())
        .bind(product)
        .bind(resource)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn unbind_resource(&self, key_id: Uuid, product: &str, resource: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM cloud_bindings WHERE key_id = ? AND product_id = ? AND resource_id = ?")
            .bind(key_id.to_string())
            .bind(product)
            .bind(resource)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_data_key(&self, k: &DataKeyRecord) -> Result<(), StoreError> {
        self.data_keys.insert(k.clone()).await
    }

    async fn get_data_key(&self, id: Uuid) -> Result<Option<DataKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM data_keys WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => Ok(Some(rows::data_key(&row, self.tags(id).await?)?)),
            None => Ok(None),
        }
    }

    async fn update_data_key(&self, k: &DataKeyRecord, expected_revision: u64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE data_keys SET name = ?, description = ?, state = ?, deletion_date = ?, revision = ? \
             WHERE id = ? AND revision = ?",
        )
        .bind(&k.name)
        .bind(&k.description)
        .bind(k.state.as_str())
        .bind(i(k.deletion_date))
        .bind(i(k.revision))
        .bind(k.id.to_string())
        .bind(i(expected_revision))
        .execute(&self.pool)
        .await
        .map_err(unique(Conflict::DataKeyName, DATA_KEY_NAME))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::Stale));
        }
        Ok(())
    }

    async fn list_data_keys(
        &self,
        account: AccountId,
        region: &Region,
        f: &DataKeyFilter,
    ) -> Result<(Vec<DataKeyRecord>, u64), StoreError> {
        let build = |select: &str| {
            let mut q = QueryBuilder::<Sqlite>::new(select);
            filters::data_keys(&mut q, account, region, f, LIKE);
            q
        };
        self.reads.conn().await?.page(build, f.order, f.offset, f.limit, rows::data_key).await
    }

    async fn count_data_keys(&self, account: AccountId) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM data_keys WHERE account_id = ?", account).await
    }

    async fn delete_data_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError> {
        self.delete_due(
            "DELETE FROM data_keys WHERE id = ? AND state = 'PendingDelete' AND deletion_date <= ?",
            &["DELETE FROM tags WHERE resource_id = ?"],
            id,
            due_by,
        )
        .await
    }

    async fn data_keys_due_for_deletion(&self, now: u64) -> Result<Vec<DataKeyRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM data_keys WHERE state = 'PendingDelete' AND deletion_date <= ? LIMIT 1000")
                .bind(i(now))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter().map(|r| rows::data_key(r, Vec::new())).collect()
    }

    async fn sealed_values(&self, after: Option<&SealedPlace>, limit: u32) -> Result<Vec<SealedValue>, StoreError> {
        sealed::page(&self.pool, after, limit).await
    }

    async fn replace_sealed(&self, place: &SealedPlace, expected: &[u8], sealed: &[u8]) -> Result<bool, StoreError> {
        sealed::replace(&self.pool, place, expected, sealed).await
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let there: Vec<u8> = sqlx::query_scalar("SELECT value FROM meta WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(there)
    }

    async fn replace_meta(&self, name: &str, expected: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE meta SET value = ? WHERE name = ? AND value = ?")
            .bind(value)
            .bind(name)
            .bind(expected)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }
}

async fn insert_version(tx: &mut Transaction<'_, Sqlite>, v: &VersionRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_versions (key_id, version, version_id, sealed_material, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(v.key_id.to_string())
    .bind(i64::from(v.version))
    .bind(v.version_id.to_string())
    .bind(&v.sealed_material)
    .bind(i(v.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn update_key_row(tx: &mut Transaction<'_, Sqlite>, k: &KeyRecord, expected: u64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE keys SET alias = ?, description = ?, state = ?, deletion_date = ?, rotation_enabled = ?, \
         rotation_interval = ?, last_rotated_at = ?, next_rotation_at = ?, current_version = ?, \
         deletion_protection = ?, deletion_protection_description = ?, policy = ?, revision = ?, \
         material_expires_at = ?, material_fingerprint = ? WHERE id = ? AND revision = ?",
    )
    .bind(&k.alias)
    .bind(&k.description)
    .bind(k.state.as_str())
    .bind(i(k.deletion_date))
    .bind(i64::from(k.rotation_enabled))
    .bind(i(k.rotation_interval))
    .bind(i(k.last_rotated_at))
    .bind(i(k.next_rotation_at))
    .bind(i64::from(k.current_version))
    .bind(i64::from(k.deletion_protection))
    .bind(&k.deletion_protection_description)
    .bind(&k.policy)
    .bind(i(k.revision))
    .bind(i(k.material_expires_at))
    .bind(&k.material_fingerprint)
    .bind(k.id.to_string())
    .bind(i(expected))
    .execute(&mut **tx)
    .await
    .map_err(unique(Conflict::Alias, KEY_ALIAS))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(Conflict::Stale));
    }
    Ok(())
}
