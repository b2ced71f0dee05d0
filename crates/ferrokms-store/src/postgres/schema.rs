//! The schema: sqlx migrations (`migrations/postgres/`, embedded in the binary), run under
//! sqlx's advisory lock so that nodes starting together migrate once.

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{PgConnection, SqlSafeStr};

use ferrokms_core::store::StoreError;

/// The migrations in order. Append, never edit: sqlx checks the applied ones' checksums.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/postgres/0001_initial.sql")),
    (2, "cluster", include_str!("../../migrations/postgres/0002_cluster.sql")),
    (3, "no notify on new keys", include_str!("../../migrations/postgres/0003_no_notify_on_new_keys.sql")),
];

fn migrator() -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(*version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false)
        })
        .collect();
    // Locking (pg_advisory_lock on the database) is on by default. A table name of our own, so
    // a database shared with another sqlx application does not mix the two histories (set
    // before any ferrokms database existed: nothing to move).
    let mut m = Migrator::with_migrations(migrations);
    m.dangerous_set_table_name("ferrokms_migrations");
    m
}

/// Brings the schema up to date; waits while another node does.
pub(super) async fn migrate(conn: &mut PgConnection) -> Result<(), StoreError> {
    // `run_direct` rather than `run`: `run`'s future is not `Send` for every lifetime (sqlx's
    // "implementation of Acquire is not general enough"), and the store opens on spawned tasks.
    migrator().run_direct(None, conn, false).await.map_err(|e| match e {
        MigrateError::VersionMissing(v) => StoreError::Unavailable(format!(
            "the database has schema migration {v}, newer than this ferrokms knows (a newer ferrokms made it)"
        )),
        other => StoreError::Unavailable(format!("schema migration failed: {other}")),
    })
}
