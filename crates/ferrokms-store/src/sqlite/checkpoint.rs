//! WAL checkpoints off the commit path. SQLite runs a checkpoint (copying the WAL's pages into
//! the database file) inside the commit that takes the WAL past `wal_autocheckpoint`, so that
//! batch of hosted data keys, and every request behind it, waited for thousands of page writes.
//! A task copies the WAL's new pages every [`EVERY`] instead, on a connection of its own (its own
//! thread), without waiting for the writer or readers (`PASSIVE`). A log being written all the
//! time is never wholly copied by such a checkpoint, so it is not restarted; the writer's own
//! checkpoint, at a larger size, is kept for that, and finds little left to copy. (The log also
//! starts again whenever a checkpoint finds it wholly copied, e.g. after a pause.)

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often the WAL's new pages are copied.
const EVERY: Duration = Duration::from_millis(100);

/// Handle to the checkpoint task.
#[derive(Clone)]
pub(super) struct Checkpoints {
    stop: Arc<Notify>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Checkpoints {
    /// Starts checkpointing the database `options` opens, on a connection of the task's own.
    pub(super) fn start(options: SqliteConnectOptions) -> Self {
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut conn: Option<SqliteConnection> = None;
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
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *c).await {
                    tracing::debug!(error = %e, "a WAL checkpoint failed");
                    conn = None;
                }
            }
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
            for suffix in ["", "-wal", "-shm"] {
                let mut name = self.0.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }

    #[tokio::test]
    async fn the_task_copies_the_wal_into_the_database_and_stops() {
        let db = TempDb(std::env::temp_dir().join(format!("ferrokms-checkpoint-{}.db", uuid::Uuid::new_v4())));
        // No checkpoint by the commits: only the task can copy the pages.
        let options = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&db.0)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB NOT NULL)").execute(&pool).await.unwrap();
        for _ in 0..200 {
            sqlx::query("INSERT INTO t (v) VALUES (randomblob(4000))").execute(&pool).await.unwrap();
        }
        let size = || std::fs::metadata(&db.0).map(|m| m.len()).unwrap_or(0);
        assert!(size() < 100_000, "the rows are in the WAL only: {}", size());
        let checkpoints = Checkpoints::start(options);
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
}
