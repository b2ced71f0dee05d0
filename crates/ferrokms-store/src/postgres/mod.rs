//! The PostgreSQL backend, for several ferrokms nodes sharing one database.
//!
//! - The schema is `migrations/postgres/`, run by sqlx's migrator under its PostgreSQL advisory
//!   lock, so whichever node starts first migrates and the others wait, then find nothing to do.
//! - Updates are compare-and-swap on `revision` (`UPDATE ... WHERE revision = $n`): at READ
//!   COMMITTED a concurrent writer waits for the row, then sees the new revision and loses.
//! - Hosted data key inserts are group-committed (one multi-row insert and one commit for a
//!   batch), as on SQLite.
//! - Statements have time limits: listings their own (`statement_timeout` on their pool, answered
//!   as [`StoreError::Interrupted`]), every other statement a longer one, and lock waits one
//!   like SQLite's busy timeout.
//! - Only sealed values reach the database: key material and secrets are sealed under the root
//!   key before they are stored.

mod batch;
mod changes;
mod nonces;
mod schema;
mod sealed;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use ferrokms_core::model::{
    AccessKeyRecord, AccountId, AccountRecord, AliasRecord, DataKeyRecord, KeyRecord, Region, Tag, VersionRecord,
};
use ferrokms_core::store::{
    Change, Conflict, DataKeyFilter, KeyFilter, Lease, Order, SealedPlace, SealedValue, Store, StoreError,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use crate::filters::{self, Like};
use crate::group_commit::{GroupCommit, Held};
use crate::rows::{self, i};

/// PostgreSQL's `LIKE` is case-sensitive; `ILIKE` matches as SQLite's `LIKE` does.
const LIKE: Like = Like("ILIKE");

/// Expired nonces deleted by one statement of the purge (a few milliseconds of row locks).
const PURGE_CHUNK: i64 = 1000;

/// Most chunks of one purge pass (the next pass goes on): a million nonces.
const PURGE_CHUNKS_PER_PASS: usize = 1000;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    reads: PgPool,
    listing_limit: Duration,
    data_keys: GroupCommit<batch::Batches>,
    nonces: GroupCommit<nonces::Claims>,
    changes: changes::Listener,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStore")
    }
}

/// Tunables of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections for writes and lookups (the store keeps 3 more for itself: the change
    /// listener's and its two group-commit writers').
    pub max_connections: u32,
    /// Connections for listings, apart from the others.
    pub listing_connections: u32,
    /// Longest a listing may run before it is stopped.
    pub listing_time_limit: Duration,
    /// Longest any other statement may run.
    pub statement_timeout: Duration,
    /// Longest a statement waits for a row lock (SQLite's busy timeout).
    pub lock_timeout: Duration,
    /// Longest a request waits for a free connection, or a new connection to be made.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            listing_connections: 4,
            listing_time_limit: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Connections of the pool the store keeps for itself, beyond `max_connections`: the change
/// listener's and the two group-commit writers' (data keys, nonces).
const KEPT_CONNECTIONS: u32 = 3;

/// SQLSTATE of a statement cancelled by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

/// Normalises a backend error; a unique violation becomes `Conflict::Duplicate`.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(Conflict::Duplicate),
        sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
            StoreError::Interrupted(format!("statement stopped: {}", db.message()))
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// For statements whose unique rules are an id and `rule`: a violation of the constraint (or
/// unique index) `constraint` is `rule`, any other is the id (`Conflict::Duplicate`).
pub(crate) fn unique(rule: Conflict, constraint: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| {
        let on_rule = matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation()
            && db.constraint() == Some(constraint));
        match map_err(e) {
            StoreError::Conflict(Conflict::Duplicate) if on_rule => StoreError::Conflict(rule),
            other => other,
        }
    }
}

/// Advisory lock held by the node doing the background pass.
const BACKGROUND_LOCK: i64 = 0x6665_726b_6d73_0001;
/// Advisory lock around first-start setup (the default account).
const FIRST_START_LOCK: i64 = 0x6665_726b_6d73_0002;

/// The unique index of key aliases.
const KEY_ALIAS: &str = "keys_alias";
/// The unique index of data key names.
pub(crate) const DATA_KEY_NAME: &str = "data_keys_name";

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

/// Where `options` point, for messages (never the password).
pub(crate) fn describe(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// `url` for messages and logs: user, host, port and database, never the password.
pub fn redact(url: &str) -> String {
    PgConnectOptions::from_str(url).map_or_else(|_| "postgres://(an invalid URL)".to_owned(), |o| describe(&o))
}

/// Warns when the connection to a PostgreSQL on another host does not verify the server's
/// certificate: sealed material stays sealed either way, but key states, aliases, policies and
/// access-key flags (and a password) would cross the network unprotected or to an impostor.
fn warn_if_unverified(options: &PgConnectOptions) {
    use sqlx::postgres::PgSslMode;
    let host = options.get_host();
    let local = options.get_socket().is_some()
        || host.starts_with('/')
        || host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !local && !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull | PgSslMode::VerifyCa) {
        tracing::warn!(
            store = %describe(options),
            "the PostgreSQL connection does not verify the server's certificate: add sslmode=verify-full \
             (and sslrootcert=...) to the store URL (docs/configuration.md, [store])"
        );
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`,
    /// with libpq's query parameters such as `sslmode`) and brings its schema up to date.
    pub async fn open(url: &str, opts: &PgOptions) -> Result<Self, StoreError> {
        let base = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("ferrokms");
        let unreachable = |e: sqlx::Error| StoreError::Unavailable(format!("PostgreSQL at {}: {e}", describe(&base)));
        warn_if_unverified(&base);

        // Migrations on a connection of their own, without the statement time limits: a node
        // may wait behind another node's migration for as long as it takes.
        let mut conn = tokio::time::timeout(opts.acquire_timeout, PgConnection::connect_with(&base))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "PostgreSQL at {}: no connection within {} s",
                    describe(&base),
                    opts.acquire_timeout.as_secs()
                ))
            })?
            .map_err(unreachable)?;
        let migrated = schema::migrate(&mut conn).await;
        let _ = conn.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1) + KEPT_CONNECTIONS)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.clone().options([
                ("statement_timeout", millis(opts.statement_timeout)),
                ("lock_timeout", millis(opts.lock_timeout)),
                // Nothing is acknowledged before it is durable, whatever the role or database
                // default says (as SQLite's synchronous = FULL).
                ("synchronous_commit", "on".to_owned()),
            ]))
            .await
            .map_err(unreachable)?;
        let reads = PgPoolOptions::new()
            .max_connections(opts.listing_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(base.clone().options([
                ("statement_timeout", millis(opts.listing_time_limit)),
                ("lock_timeout", millis(opts.lock_timeout)),
                ("default_transaction_read_only", "on".to_owned()),
            ]))
            .await
            .map_err(unreachable)?;
        let data_keys = GroupCommit::start(batch::Batches(Held::new(pool.clone())));
        let nonces = GroupCommit::start(nonces::Claims(Held::new(pool.clone())));
        let changes = changes::Listener::start(&pool).await.map_err(unreachable)?;
        Ok(Self { pool, reads, listing_limit: opts.listing_time_limit, data_keys, nonces, changes })
    }

    /// Commits what the data key writer still holds, then closes the pools.
    pub async fn close(&self) {
        self.changes.stop();
        self.data_keys.close().await;
        self.nonces.close().await;
        self.reads.close().await;
        self.pool.close().await;
    }

    /// A listing's error: a statement stopped by its time limit is the listing's limit.
    fn listing_err(&self, e: sqlx::Error) -> StoreError {
        match map_err(e) {
            StoreError::Interrupted(_) => StoreError::Interrupted(format!(
                "the listing ran past its time limit of {} ms; narrow its filters",
                self.listing_limit.as_millis()
            )),
            other => other,
        }
    }

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
            sqlx::query_as("SELECT tag_key, tag_value FROM tags WHERE resource_id = $1 ORDER BY tag_key")
                .bind(resource.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(rows.into_iter().map(|(key, value)| Tag { key, value }).collect())
    }

    /// Keys of `rows` with their tags (read in one query).
    async fn keys_with_tags(&self, rows: &[PgRow]) -> Result<Vec<KeyRecord>, StoreError> {
        let ids = row_ids(rows)?;
        let mut tags = tags_of(&self.pool, &ids).await.map_err(map_err)?;
        rows.iter().zip(&ids).map(|(row, id)| rows::key(row, tags.remove(id).unwrap_or_default())).collect()
    }

    /// A listing: the total of what `build` selects, then one page of rows with their tags.
    async fn page<T>(
        &self,
        build: impl Fn(&str) -> QueryBuilder<Postgres>,
        order: Order,
        offset: u64,
        limit: u64,
        map: fn(&PgRow, Vec<Tag>) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, u64), StoreError> {
        let mut conn = self.reads.acquire().await.map_err(map_err)?;
        let total: i64 = build("SELECT COUNT(*)")
            .build_query_scalar()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.listing_err(e))?;
        let mut q = build("SELECT *");
        filters::push_page(&mut q, order, offset, limit);
        let rows = q.build().fetch_all(&mut *conn).await.map_err(|e| self.listing_err(e))?;
        let ids = row_ids(&rows)?;
        let mut tags = tags_of(&mut *conn, &ids).await.map_err(|e| self.listing_err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, id) in rows.iter().zip(&ids) {
            out.push(map(row, tags.remove(id).unwrap_or_default())?);
        }
        Ok((out, u64::try_from(total).unwrap_or_default()))
    }
}

fn row_ids(rows: &[PgRow]) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|r| r.try_get::<String, _>("id").map_err(|_| rows::bad("id"))).collect()
}

/// The tags of each resource in `ids`, in key order.
async fn tags_of<'c, E>(conn: E, ids: &[String]) -> Result<HashMap<String, Vec<Tag>>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT resource_id, tag_key, tag_value FROM tags WHERE resource_id = ANY($1) ORDER BY resource_id, tag_key",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    for (id, key, value) in rows {
        out.entry(id).or_default().push(Tag { key, value });
    }
    Ok(out)
}

async fn insert_tags(
    tx: &mut Transaction<'_, Postgres>,
    account: AccountId,
    resource: Uuid,
    tags: &[Tag],
) -> Result<(), StoreError> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::<Postgres>::new("INSERT INTO tags (account_id, resource_id, tag_key, tag_value) ");
    q.push_values(tags, |mut b, t| {
        b.push_bind(i(account.0)).push_bind(resource.to_string()).push_bind(t.key.clone()).push_bind(t.value.clone());
    });
    q.build().execute(&mut **tx).await.map_err(map_err)?;
    Ok(())
}

async fn insert_version(tx: &mut Transaction<'_, Postgres>, v: &VersionRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_versions (key_id, version, version_id, sealed_material, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
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

async fn update_key_row(tx: &mut Transaction<'_, Postgres>, k: &KeyRecord, expected: u64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE keys SET alias = $1, description = $2, state = $3, deletion_date = $4, rotation_enabled = $5, \
         rotation_interval = $6, last_rotated_at = $7, next_rotation_at = $8, current_version = $9, \
         deletion_protection = $10, deletion_protection_description = $11, policy = $12, revision = $13, \
         material_expires_at = $14, material_fingerprint = $15 WHERE id = $16 AND revision = $17",
    )
    .bind(&k.alias)
    .bind(&k.description)
    .bind(k.state.as_str())
    .bind(i(k.deletion_date))
    .bind(k.rotation_enabled)
    .bind(i(k.rotation_interval))
    .bind(i(k.last_rotated_at))
    .bind(i(k.next_rotation_at))
    .bind(i64::from(k.current_version))
    .bind(k.deletion_protection)
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

#[async_trait]
impl Store for PgStore {
    async fn create_account(&self, name: &str, now: u64) -> Result<AccountRecord, StoreError> {
        let id: i64 = sqlx::query_scalar("INSERT INTO accounts (name, created_at) VALUES ($1, $2) RETURNING id")
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

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY id").fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(rows::account).collect()
    }

    async fn insert_access_key(&self, k: &AccessKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_keys (id, account_id, sealed_secret, active, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.id)
        .bind(i(k.account.0))
        .bind(&k.sealed_secret)
        .bind(k.active)
        .bind(i(k.created_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM access_keys WHERE id = $1")
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
        let done = sqlx::query("UPDATE access_keys SET active = $1 WHERE id = $2")
            .bind(active)
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
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
        .bind(k.rotation_enabled)
        .bind(i(k.rotation_interval))
        .bind(i(k.last_rotated_at))
        .bind(i(k.next_rotation_at))
        .bind(i64::from(k.current_version))
        .bind(k.deletion_protection)
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
        let row = sqlx::query("SELECT * FROM keys WHERE id = $1")
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
        sqlx::query("DELETE FROM tags WHERE resource_id = $1")
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
        sqlx::query("DELETE FROM key_versions WHERE key_id = $1")
            .bind(k.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_version(&self, key_id: Uuid, version: u32) -> Result<Option<VersionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM key_versions WHERE key_id = $1 AND version = $2")
            .bind(key_id.to_string())
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(rows::version).transpose()
    }

    async fn list_versions(&self, key_id: Uuid) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM key_versions WHERE key_id = $1 ORDER BY version")
            .bind(key_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(rows::version).collect()
    }

    async fn insert_alias(&self, a: &AliasRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO aliases (account_id, region, name, key_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(i(a.account.0))
            .bind(&a.region.0)
            .bind(&a.name)
            .bind(a.key_id.to_string())
            .bind(i(a.created_at))
            .execute(&self.pool)
            .await
            .map_err(unique(Conflict::Alias, "aliases_pkey"))?;
        Ok(())
    }

    async fn update_alias(
        &self,
        account: AccountId,
        region: &Region,
        name: &str,
        key_id: Uuid,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE aliases SET key_id = $1 WHERE account_id = $2 AND region = $3 AND name = $4")
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
        let done = sqlx::query("DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND name = $3")
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
        let row = sqlx::query("SELECT * FROM aliases WHERE account_id = $1 AND region = $2 AND name = $3")
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
            let mut q = QueryBuilder::<Postgres>::new(select);
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
        let mut conn = self.reads.acquire().await.map_err(map_err)?;
        let total: i64 = build("SELECT COUNT(*)")
            .build_query_scalar()
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.listing_err(e))?;
        let mut q = build("SELECT *");
        q.push(" ORDER BY name LIMIT ");
        q.push_bind(i(limit));
        q.push(" OFFSET ");
        q.push_bind(i(offset));
        let rows = q.build().fetch_all(&mut *conn).await.map_err(|e| self.listing_err(e))?;
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
            let mut q = QueryBuilder::<Postgres>::new(select);
            filters::keys(&mut q, account, region, f, LIKE);
            q
        };
        self.page(build, f.order, f.offset, f.limit, rows::key).await
    }

    async fn count_keys(&self, account: AccountId) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM keys WHERE account_id = $1", account).await
    }

    async fn delete_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError> {
        self.delete_due(
            "DELETE FROM keys WHERE id = $1 AND state = 'PendingDelete' AND deletion_date <= $2",
            &[
                "DELETE FROM key_versions WHERE key_id = $1",
                "DELETE FROM tags WHERE resource_id = $1",
                "DELETE FROM cloud_bindings WHERE key_id = $1",
                "DELETE FROM aliases WHERE key_id = $1",
            ],
            id,
            due_by,
        )
        .await
    }

    async fn keys_due_for_deletion(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM keys WHERE state = 'PendingDelete' AND deletion_date <= $1 LIMIT 1000")
            .bind(i(now))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(|r| rows::key(r, Vec::new())).collect()
    }

    async fn keys_due_for_rotation(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM keys WHERE state = 'Enabled' AND rotation_enabled AND next_rotation_at > 0 \
             AND next_rotation_at <= $1 LIMIT 1000",
        )
        .bind(i(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        self.keys_with_tags(&rows).await
    }

    async fn keys_with_expired_material(&self, now: u64) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM keys WHERE material_expires_at > 0 AND material_expires_at <= $1 \
             AND state NOT IN ('PendingImport', 'PendingDelete') LIMIT 1000",
        )
        .bind(i(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        self.keys_with_tags(&rows).await
    }

    async fn bind_resource(&self, key_id: Uuid, product: &str, resource: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cloud_bindings (key_id, product_id, resource_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
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
        let done = sqlx::query("DELETE FROM cloud_bindings WHERE key_id = $1 AND product_id = $2 AND resource_id = $3")
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
        let row = sqlx::query("SELECT * FROM data_keys WHERE id = $1")
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
            "UPDATE data_keys SET name = $1, description = $2, state = $3, deletion_date = $4, revision = $5 \
             WHERE id = $6 AND revision = $7",
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
            let mut q = QueryBuilder::<Postgres>::new(select);
            filters::data_keys(&mut q, account, region, f, LIKE);
            q
        };
        self.page(build, f.order, f.offset, f.limit, rows::data_key).await
    }

    async fn count_data_keys(&self, account: AccountId) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM data_keys WHERE account_id = $1", account).await
    }

    async fn delete_data_key(&self, id: Uuid, due_by: u64) -> Result<bool, StoreError> {
        self.delete_due(
            "DELETE FROM data_keys WHERE id = $1 AND state = 'PendingDelete' AND deletion_date <= $2",
            &["DELETE FROM tags WHERE resource_id = $1"],
            id,
            due_by,
        )
        .await
    }

    async fn data_keys_due_for_deletion(&self, now: u64) -> Result<Vec<DataKeyRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM data_keys WHERE state = 'PendingDelete' AND deletion_date <= $1 LIMIT 1000")
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
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn put_meta_if_absent(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let there: Vec<u8> = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(there)
    }

    async fn replace_meta(&self, name: &str, expected: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE meta SET value = $1 WHERE name = $2 AND value = $3")
            .bind(value)
            .bind(name)
            .bind(expected)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn first_account(&self, name: &str, now: u64) -> Result<(AccountRecord, bool), StoreError> {
        // Nodes starting together on an empty database: the lock makes one create the account
        // and the others find it.
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_START_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let found = sqlx::query("SELECT * FROM accounts ORDER BY id LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(row) = found {
            return Ok((rows::account(&row)?, false));
        }
        let id: i64 = sqlx::query_scalar("INSERT INTO accounts (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(i(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let account = AccountRecord {
            id: AccountId(u64::try_from(id).unwrap_or_default()),
            name: name.to_owned(),
            created_at: now,
        };
        Ok((account, true))
    }

    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        self.changes.take()
    }

    async fn claim_nonce(&self, account: AccountId, nonce: &[u8], expires_at: u64) -> Result<bool, StoreError> {
        self.nonces.insert(nonces::Claim { account, nonce: nonce.to_vec(), expires_at }).await
    }

    /// In chunks of [`PURGE_CHUNK`] rows, each its own statement, skipping rows a claim holds:
    /// one `DELETE` of every expired nonce held its row locks until the end, so a batch of claims
    /// taking over expired rows waited for all of it (every tenant's Alibaba requests on that
    /// node), or deadlocked with it and failed whole.
    async fn purge_nonces(&self, now: u64) -> Result<(), StoreError> {
        for _ in 0..PURGE_CHUNKS_PER_PASS {
            let done = sqlx::query(
                "DELETE FROM nonces n USING (SELECT account_id, nonce FROM nonces WHERE expires_at < $1 \
                 LIMIT $2 FOR UPDATE SKIP LOCKED) d WHERE n.account_id = d.account_id AND n.nonce = d.nonce",
            )
            .bind(i(now))
            .bind(PURGE_CHUNK)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            if done.rows_affected() < PURGE_CHUNK as u64 {
                break;
            }
        }
        Ok(())
    }

    async fn background_lease(&self) -> Result<Option<Lease>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(BACKGROUND_LOCK)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        if !got {
            return Ok(None);
        }
        // The lock is the session's: the connection leaves the pool and is closed when the
        // lease is dropped, which releases it (also if this process dies mid-pass).
        Ok(Some(Box::new(conn.detach())))
    }

    async fn heartbeat(&self, node: Uuid, now: u64, ttl: u64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(
            "INSERT INTO nodes (id, alive_until) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET alive_until = EXCLUDED.alive_until",
        )
        .bind(node.to_string())
        .bind(i(now.saturating_add(ttl)))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("DELETE FROM nodes WHERE alive_until < $1")
            .bind(i(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let alive: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes").fetch_one(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(u64::try_from(alive).unwrap_or(1).max(1))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        PgStore::close(self).await;
    }
}
