//! WAL checkpoints off the commit path. SQLite runs a checkpoint (copying the WAL's pages into
//! the database file) inside the commit that takes the WAL past `wal_autocheckpoint`, so that
//! batch of hosted data keys, and every request behind it, waited for thousands of page writes.
//! A task copies the WAL's new pages every [`EVERY`] instead, on a connection of its own (its own
//! thread), without waiting for the writer or readers (`PASSIVE`). A log being written all the
//! time is never wholly copied by such a checkpoint, so it is not restarted; the writer's own
//! checkpoint, at a larger size, is kept for that, and finds little left to copy.

use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::Notify;

/// How often the WAL's new pages are copied.
const EVERY: Duration = Duration::from_millis(100);

/// Handle to the checkpoint task.
#[derive(Clone)]
pub(super) struct Checkpoints {
    stop: Arc<Notify>,
}

impl Checkpoints {
    /// Starts checkpointing `pool`'s database.
    pub(super) fn start(pool: SqlitePool) -> Self {
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopped.notified() => break,
                    _ = tick.tick() => {}
                }
                // A failure (the database busy, the pool closing) leaves the pages to the next
                // checkpoint, or to the writer's own.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::debug!(error = %e, "a WAL checkpoint failed");
                }
            }
        });
        Self { stop }
    }

    /// Stops the task (before the pool closes, so that it takes no connection meanwhile).
    pub(super) fn stop(&self) {
        self.stop.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    #[tokio::test]
    async fn the_task_copies_the_wal_into_the_database() {
        let path = std::env::temp_dir().join(format!("ferrokms-checkpoint-{}.db", uuid::Uuid::new_v4()));
        // No checkpoint by the commits: only the task can copy the pages.
        let options = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB NOT NULL)").execute(&pool).await.unwrap();
        for _ in 0..200 {
            sqlx::query("INSERT INTO t (v) VALUES (randomblob(4000))").execute(&pool).await.unwrap();
        }
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size() < 100_000, "the rows are in the WAL only: {}", size());
        let checkpoints = Checkpoints::start(pool.clone());
        let copied = tokio::time::timeout(Duration::from_secs(10), async {
            while size() < 800_000 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        checkpoints.stop();
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
        assert!(copied.is_ok(), "the database file holds the rows after the task's checkpoints");
    }
}
