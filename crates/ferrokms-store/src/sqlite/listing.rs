//! Listings, the most expensive reads a tenant can ask for. They run on a pool of their own (so
//! writes and background work never wait behind them), under a time limit, and stop when their
//! caller goes away; a page's tags are read in one query.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrokms_core::model::Tag;
use ferrokms_core::store::{Order, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::checkpoint::{Listing, LogRestart};
use super::map_err;

/// SQLite virtual-machine steps between two checks of the deadline (a few microseconds).
const PROGRESS_STEPS: i32 = 1000;

/// The pool listings run on, and their time limit.
#[derive(Clone)]
pub(super) struct Reader {
    pool: SqlitePool,
    limit: Duration,
    /// Holds new listings back while the WAL waits to start again (see `checkpoint`).
    restart: Arc<LogRestart>,
}

/// A read connection whose statements stop at the deadline or when this is dropped (the request
/// was cancelled: its client went away).
pub(super) struct ReadConn {
    conn: PoolConnection<Sqlite>,
    stop: Arc<AtomicBool>,
    limit: Duration,
    /// Counts this listing as running until it is dropped.
    _listing: Listing,
}

impl Reader {
    /// A pool of `connections` query-only connections with statements limited to `limit`.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        connections: u32,
        limit: Duration,
        restart: Arc<LogRestart>,
    ) -> Result<Self, StoreError> {
        let options = options.pragma("query_only", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(connections.max(1))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(Self { pool, limit, restart })
    }

    /// A connection armed with a fresh deadline (replacing whatever an earlier user left).
    pub(super) async fn conn(&self) -> Result<ReadConn, StoreError> {
        let listing = self.restart.listing().await;
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + self.limit;
        let flag = Arc::clone(&stop);
        conn.lock_handle()
            .await
            .map_err(map_err)?
            .set_progress_handler(PROGRESS_STEPS, move || !flag.load(Ordering::Relaxed) && Instant::now() < deadline);
        Ok(ReadConn { conn, stop, limit: self.limit, _listing: listing })
    }

    /// Closes the pool.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

impl ReadConn {
    /// The connection, to run statements on.
    pub(super) fn get(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.conn
    }

    /// Normalises an error of a statement on this connection: an interrupt is the time limit.
    pub(super) fn error(&self, e: sqlx::Error) -> StoreError {
        let interrupted = matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("9"));
        if interrupted {
            return StoreError::Interrupted(format!(
                "the listing ran past its time limit of {} ms; narrow its filters",
                self.limit.as_millis()
            ));
        }
        map_err(e)
    }

    /// A listing: the total of what `build` selects, then one page of rows with their tags.
    pub(super) async fn page<T>(
        &mut self,
        build: impl Fn(&str) -> QueryBuilder<Sqlite>,
        order: Order,
        offset: u64,
        limit: u64,
        map: fn(&SqliteRow, Vec<Tag>) -> Result<T, StoreError>,
    ) -> Result<(Vec<T>, u64), StoreError> {
        let total: i64 = match build("SELECT COUNT(*)").build_query_scalar().fetch_one(self.get()).await {
            Ok(n) => n,
            Err(e) => return Err(self.error(e)),
        };
        let mut q = build("SELECT *");
        crate::filters::push_page(&mut q, order, offset, limit);
        let rows = match q.build().fetch_all(self.get()).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.error(e)),
        };
        let ids = rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
        let mut tags = self.tags_of(&ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, id) in rows.iter().zip(&ids) {
            out.push(map(row, tags.remove(id).unwrap_or_default())?);
        }
        Ok((out, u64::try_from(total).unwrap_or_default()))
    }

    /// The tags of each resource in `ids`, in key order.
    async fn tags_of(&mut self, ids: &[String]) -> Result<HashMap<String, Vec<Tag>>, StoreError> {
        let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT resource_id, tag_key, tag_value FROM tags WHERE resource_id IN (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        q.push(") ORDER BY resource_id, tag_key");
        let rows: Vec<(String, String, String)> = match q.build_query_as().fetch_all(self.get()).await {
            Ok(rows) => rows,
            Err(e) => return Err(self.error(e)),
        };
        for (id, key, value) in rows {
            out.entry(id).or_default().push(Tag { key, value });
        }
        Ok(out)
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        // A statement still running (the request future was dropped) stops at its next check.
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// A query that never ends on its own.
    const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c";

    async fn reader(limit: Duration) -> Reader {
        let path = std::env::temp_dir().join(format!("ferrokms-listing-{}.db", uuid::Uuid::new_v4()));
        let options = SqliteConnectOptions::from_str("sqlite:").unwrap().filename(path).create_if_missing(true);
        Reader::open(options, 1, limit, Arc::default()).await.unwrap()
    }

    #[tokio::test]
    async fn a_listing_past_its_time_limit_is_stopped() {
        let r = reader(Duration::from_millis(200)).await;
        let mut conn = r.conn().await.unwrap();
        let e = sqlx::query_scalar::<_, i64>(ENDLESS).fetch_one(conn.get()).await.unwrap_err();
        assert!(matches!(conn.error(e), StoreError::Interrupted(_)));
        drop(conn);
        // The connection is usable again, with a fresh deadline.
        let mut conn = r.conn().await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(conn.get()).await.unwrap();
        assert_eq!(one, 1);
    }

    #[tokio::test]
    async fn a_cancelled_listing_frees_its_connection() {
        // One connection and an hour-long limit: only the cancellation can end the query.
        let r = reader(Duration::from_secs(3600)).await;
        let running = async {
            let mut conn = r.conn().await.unwrap();
            sqlx::query_scalar::<_, i64>(ENDLESS).fetch_one(conn.get()).await
        };
        assert!(tokio::time::timeout(Duration::from_millis(300), running).await.is_err(), "still running");
        let next = async {
            let mut conn = r.conn().await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(conn.get()).await.unwrap()
        };
        let one = tokio::time::timeout(Duration::from_secs(30), next).await.expect("the endless query was stopped");
        assert_eq!(one, 1);
    }
}
