//! WAL checkpoints off the commit path. SQLite runs a checkpoint (copying the WAL's pages into
//! the database file) inside the commit that takes the WAL past `wal_autocheckpoint`, so that
//! batch of hosted data keys, and every request behind it, waited for thousands of page writes.
//! A task copies the WAL's new pages every [`EVERY`] instead, on a connection of its own (its own
//! thread), without waiting for the writer or readers (`PASSIVE`). A log being written all the
//! time is never wholly copied by such a checkpoint, so it is not restarted; the writer's own
//! checkpoint, at a larger size, is kept for that, and finds little left to copy. (The log also
//! starts again whenever a checkpoint finds it wholly copied, e.g. after a pause.)
//!
//! Nor can a checkpoint copy past the oldest read in progress, so listings that follow each other
//! with one always running (a tenant can send them so) would keep the log from ever starting
//! again while anything writes: the `-wal` file grew with every write. Past [`RESTART_ABOVE`]
//! frames, new listings wait (at most their time limit) until the log can start again, and once
//! none is running a `RESTART` checkpoint copies the rest and lets the next write begin the log
//! anew. Writers wait only for the short lookups in progress, never for a listing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often the WAL's new pages are copied.
const EVERY: Duration = Duration::from_millis(100);

/// WAL frames (4 KiB pages) past which the log is made to start again: well above what the
/// writer's own checkpoint (40 000) lets it reach when reads leave room.
pub(super) const RESTART_ABOVE: i64 = 60_000;

/// Longest a `RESTART` checkpoint waits for the lookups in progress (and holds writers back).
const RESTART_WAIT: Duration = Duration::from_secs(1);

/// Wait after a `RESTART` that found the database busy, before the next one.
const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Longest listings are held back for one restart (the running ones end within their time
/// limit, 5 s by default); past it the restart is given up for [`RESTART_COOL_OFF`].
const RESTART_GIVE_UP: Duration = Duration::from_secs(12);

/// How long after giving up a restart listings are not held back again.
const RESTART_COOL_OFF: Duration = Duration::from_secs(10);

/// Whether the log waits to start again, and the listings running: shared by the listings'
/// pool and the checkpoint task.
#[derive(Default)]
pub(super) struct LogRestart {
    wanted: AtomicBool,
    listings: AtomicUsize,
}

/// A listing counted as running ([`LogRestart::listing`]).
pub(super) struct Listing(Arc<LogRestart>);

impl Drop for Listing {
    fn drop(&mut self) {
        self.0.listings.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LogRestart {
    /// Counts a listing as running once the log does not wait to start again (held back, never
    /// refused; the checkpoint task gives a restart up after [`RESTART_GIVE_UP`]).
    pub(super) async fn listing(self: &Arc<Self>) -> Listing {
        loop {
            // Counted first, then the flag read (the task sets the flag, then reads the count):
            // either this sees the flag or the task sees this listing.
            self.listings.fetch_add(1, Ordering::SeqCst);
            if !self.wanted.load(Ordering::SeqCst) {
                return Listing(Arc::clone(self));
            }
            self.listings.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The checkpoint task's view of a restart.
#[derive(Default)]
struct Restarting {
    /// Since when listings are held back.
    since: Option<Instant>,
    /// No `RESTART` before this (after a busy one), no holding back before this (after giving up).
    not_before: Option<Instant>,
}

/// Handle to the checkpoint task.
#[derive(Clone)]
pub(super) struct Checkpoints {
    stop: Arc<Notify>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Checkpoints {
    /// Starts checkpointing the database `options` opens, on a connection of the task's own,
    /// holding listings back through `restart` when the log must start again.
    pub(super) fn start(options: SqliteConnectOptions, restart: Arc<LogRestart>) -> Self {
        Self::start_with(options, restart, RESTART_ABOVE)
    }

    fn start_with(options: SqliteConnectOptions, restart: Arc<LogRestart>, restart_above: i64) -> Self {
        let options = options.busy_timeout(RESTART_WAIT);
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut conn: Option<SqliteConnection> = None;
            let mut restarting = Restarting::default();
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    () = stopped.notified() => break,
                    _ = tick.tick() => {}
                }
                if conn.is_none() {
                    conn = options
                        .connect()
                        .await
                        .inspect_err(|e| tracing::warn!(error = %e, "no connection for WAL checkpoints"))
                        .ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                // A failure (the database busy) leaves the pages to the next checkpoint, or to
                // the writer's own; the connection is opened again.
                if let Err(e) = checkpoint(c, &restart, &mut restarting, restart_above).await {
                    tracing::debug!(error = %e, "a WAL checkpoint failed");
                    conn = None;
                    restarting.release(&restart);
                }
            }
            restarting.release(&restart);
            if let Some(c) = conn {
                let _ = c.close().await;
            }
        });
        Self { stop, task: Arc::new(Mutex::new(Some(task))) }
    }

    /// Stops the task and closes its connection (before the store's pools close).
    pub(super) async fn stop(&self) {
        self.stop.notify_one();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Restarting {
    /// Listings go on; the next restart may hold them back at once.
    fn release(&mut self, restart: &LogRestart) {
        restart.wanted.store(false, Ordering::SeqCst);
        self.since = None;
    }
}

/// One checkpoint: the new pages, and past `restart_above` frames not yet copied the log made
/// to start again.
async fn checkpoint(
    c: &mut SqliteConnection,
    restart: &LogRestart,
    r: &mut Restarting,
    restart_above: i64,
) -> Result<(), sqlx::Error> {
    let (busy, log, copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *c).await?;
    let now = Instant::now();
    if busy != 0 || log < 0 {
        return Ok(()); // another checkpoint at work (-1, -1): nothing learnt
    }
    if log < restart_above {
        r.release(restart);
        return Ok(());
    }
    if r.since.is_none() {
        // Wholly copied (just after a RESTART, before the next write begins the log anew), or
        // cooling off after giving up: nothing to hold back for.
        if copied >= log || r.not_before.is_some_and(|t| now < t) {
            return Ok(());
        }
        r.since = Some(now);
        // Flag first, then the count (see `LogRestart::listing`).
        restart.wanted.store(true, Ordering::SeqCst);
    }
    if r.since.is_some_and(|t| now - t > RESTART_GIVE_UP) {
        tracing::warn!(frames = log, "the WAL could not be made to start again; listings go on, trying again later");
        r.release(restart);
        r.not_before = Some(now + RESTART_COOL_OFF);
        return Ok(());
    }
    if restart.listings.load(Ordering::SeqCst) > 0 || r.not_before.is_some_and(|t| now < t) {
        return Ok(()); // the next tick, once they have ended (or the back-off has passed)
    }
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(RESTART)").fetch_one(&mut *c).await?;
    if busy == 0 {
        tracing::info!(frames = log, "the WAL was copied whole, past the reads that held it, and starts again");
        r.release(restart);
        r.not_before = None;
    } else {
        r.not_before = Some(Instant::now() + RESTART_BACKOFF);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    /// Removes the database files when the test ends.
    struct TempDb(PathBuf);

    impl Drop for TempDb {
        fn drop(&mut self) {
            for file in super::super::files(&self.0) {
                let _ = std::fs::remove_file(file);
            }
        }
    }

    /// A fresh database in WAL mode that no commit checkpoints (only the task can copy the
    /// pages), and its files, removed when dropped.
    fn wal_db() -> (TempDb, SqliteConnectOptions) {
        let db = TempDb(std::env::temp_dir().join(format!("ferrokms-checkpoint-{}.db", uuid::Uuid::new_v4())));
        let options = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&db.0)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0")
            .busy_timeout(Duration::from_secs(10));
        (db, options)
    }

    #[tokio::test]
    async fn the_task_copies_the_wal_into_the_database_and_stops() {
        let (db, options) = wal_db();
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB NOT NULL)").execute(&pool).await.unwrap();
        for _ in 0..200 {
            sqlx::query("INSERT INTO t (v) VALUES (randomblob(4000))").execute(&pool).await.unwrap();
        }
        let size = || std::fs::metadata(&db.0).map(|m| m.len()).unwrap_or(0);
        assert!(size() < 100_000, "the rows are in the WAL only: {}", size());
        let checkpoints = Checkpoints::start(options, Arc::default());
        let copied = tokio::time::timeout(Duration::from_secs(10), async {
            while size() < 800_000 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(copied.is_ok(), "the database file holds the rows after the task's checkpoints");
        tokio::time::timeout(Duration::from_secs(10), checkpoints.stop()).await.expect("the task ends when stopped");
        assert!(checkpoints.task.lock().unwrap().is_none());
        pool.close().await;
    }

    /// Reads that always overlap (three "listings" taking turns, each holding a read transaction
    /// 300 ms, two always running) while a writer writes: the log must still start again, which
    /// shows as a checkpoint's frame count falling. Without the hold-back it only grows.
    const RESTART_AT: i64 = 300;

    #[tokio::test]
    async fn overlapping_listings_are_held_back_so_that_the_log_starts_again() {
        let (_db, options) = wal_db();
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB NOT NULL)").execute(&pool).await.unwrap();
        let restart = Arc::new(LogRestart::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        {
            let (pool, stop) = (pool.clone(), stop.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    sqlx::query("INSERT INTO t (v) VALUES (randomblob(4000))").execute(&pool).await.unwrap();
                }
            });
        }
        for turn in 0..3u64 {
            let (options, restart, stop) = (options.clone(), restart.clone(), stop.clone());
            tasks.spawn(async move {
                let mut conn = options.connect().await.unwrap();
                tokio::time::sleep(Duration::from_millis(100 * turn)).await;
                while !stop.load(Ordering::SeqCst) {
                    let _listing = restart.listing().await;
                    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
                    sqlx::query("SELECT count(*) FROM t").fetch_one(&mut conn).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
                }
            });
        }
        let checkpoints = Checkpoints::start_with(options.clone(), restart.clone(), RESTART_AT);
        let mut watcher = options.connect().await.unwrap();
        let (mut last, mut fell) = (0, false);
        let until = Instant::now() + Duration::from_secs(10);
        while !fell && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // TRUNCATE-free probe: the frame count as a (passive, harmless) checkpoint reports it.
            let (busy, log, _): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut watcher).await.unwrap();
            if busy != 0 || log < 0 {
                continue; // another checkpoint at work: no frame count
            }
            fell = log < last;
            last = log;
        }
        stop.store(true, Ordering::SeqCst);
        while tasks.join_next().await.is_some() {}
        checkpoints.stop().await;
        pool.close().await;
        assert!(fell, "the log started again under overlapping reads (last seen at {last} frames)");
    }
}
