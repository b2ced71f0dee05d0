//! Group commit: concurrent inserts are gathered by one writer task and committed together, so
//! one commit (one fsync) acknowledges many. Hosted data keys are written this way (a member
//! whose name or id is taken inserts nothing and fails only its own request), and on PostgreSQL
//! the signature nonces that all nodes share. Each use says how a batch is written
//! ([`BatchInsert`]) and how many batches may be committing at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrokms_core::model::DataKeyRecord;
use ferrokms_core::store::{Conflict, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// Most inserts committed together.
pub(crate) const MAX_BATCH: usize = 512;

/// How a backend writes one batch.
#[async_trait]
pub(crate) trait BatchInsert: Send + Sync + 'static {
    /// What one request inserts.
    type Item: Send + Sync + 'static;
    /// What an inserted member answers.
    type Done: Send + 'static;

    /// Batches committing at once; the next batch gathers while they commit. One for every
    /// use today: SQLite takes one writer at a time, and on PostgreSQL a second batch in
    /// flight only took CPU from the requests filling the next one (docs/benchmarks.md).
    const IN_FLIGHT: usize;

    /// Inserts `batch` in one transaction and answers one result per record, in order (see
    /// [`outcomes`]); on an error nothing is committed.
    async fn insert(&self, batch: &[Self::Item]) -> Result<Vec<Result<Self::Done, StoreError>>, Failed>;

    /// Hands back what the writer holds between batches (its connections) and holds nothing
    /// more, so that the pool can close; called when the store closes.
    fn close(&self);
}

/// A batch that failed as a whole.
pub(crate) struct Failed {
    pub(crate) error: StoreError,
    /// Whether its members might fare better alone: the database refused the statement (one
    /// member may be why, or a deadlock with another node's batch). Not when no connection
    /// could be had or it broke: each member alone would wait for the pool in turn.
    pub(crate) retry_alone: bool,
}

impl Failed {
    /// A failure worth retrying member by member.
    pub(crate) fn statement(error: StoreError) -> Self {
        Self { error, retry_alone: true }
    }

    /// A failure that would fail every member alone too.
    pub(crate) fn whole(error: StoreError) -> Self {
        Self { error, retry_alone: false }
    }

    /// From sqlx: a database's refusal of the statement is worth retrying alone; a connection's
    /// failure is not, nor the server's own state (SQLSTATE classes 08 connection, 53 resources,
    /// 57 operator intervention: a shutdown or a cancelled session), which would fail each
    /// member's retry in turn.
    pub(crate) fn sqlx(e: sqlx::Error, map: impl FnOnce(sqlx::Error) -> StoreError) -> Self {
        let retry_alone = match &e {
            sqlx::Error::Database(d) => {
                !d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57"))
            }
            _ => false,
        };
        Self { error: map(e), retry_alone }
    }
}

/// Connections the writer keeps from one batch to the next. A connection taken from the pool
/// costs two pings, one when it is taken and one when it is given back, each a round trip to
/// the database; a kept one costs none. A connection whose batch failed is not kept (it goes
/// back to the pool, which drops it if it is broken), so the next batch takes one from the
/// pool, tested by its ping. Nor is one that waited [`IDLE_FOR`] since its last batch (the
/// database may have been restarted, or a proxy may have cut it, meanwhile) or was taken
/// [`KEPT_FOR`] ago (so that the pool's own lifetime limits apply).
pub(crate) struct Held<DB: Database> {
    pool: Pool<DB>,
    kept: Mutex<Kept<DB>>,
}

/// Longest wait between two batches for a kept connection to be used without the pool's test.
const IDLE_FOR: Duration = Duration::from_secs(1);

/// Longest a connection is kept from the pool.
const KEPT_FOR: Duration = Duration::from_secs(60);

struct Kept<DB: Database> {
    idle: Vec<KeptConnection<DB>>,
    /// Set when the store closes: a connection kept after it would keep the pool from closing.
    closed: bool,
}

struct KeptConnection<DB: Database> {
    conn: PoolConnection<DB>,
    /// When it was taken from the pool.
    taken: Instant,
    /// When its last batch ended.
    idle_since: Instant,
}

impl<DB: Database> Held<DB> {
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Self { pool, kept: Mutex::new(Kept { idle: Vec::new(), closed: false }) }
    }

    /// Runs `batch` on a kept connection, else one from the pool (none to be had fails the
    /// whole batch), and keeps the connection if `batch` answers it is sound (`true`: no
    /// statement failed).
    pub(crate) async fn run<T>(
        &self,
        batch: impl AsyncFnOnce(&mut DB::Connection) -> Result<(T, bool), Failed>,
    ) -> Result<T, Failed> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner).idle.pop();
        // One kept too long goes back to the pool (dropped here) in favour of a tested one.
        let kept = kept.filter(|k| k.idle_since.elapsed() < IDLE_FOR && k.taken.elapsed() < KEPT_FOR);
        let (mut conn, taken) = match kept {
            Some(k) => (k.conn, k.taken),
            None => (
                self.pool.acquire().await.map_err(|e| Failed::whole(StoreError::Unavailable(e.to_string())))?,
                Instant::now(),
            ),
        };
        let (out, sound) = batch(&mut conn).await?;
        if sound {
            self.keep(KeptConnection { conn, taken, idle_since: Instant::now() });
        }
        Ok(out)
    }

    /// Keeps `conn` for the next batch (unless the store is closing: then it goes back).
    fn keep(&self, conn: KeptConnection<DB>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if !kept.closed {
            kept.idle.push(conn);
        }
    }

    /// Gives every kept connection back to the pool and keeps none from now on.
    pub(crate) fn close(&self) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.closed = true;
        kept.idle.clear();
    }
}

type Reply<B> = oneshot::Sender<Result<<B as BatchInsert>::Done, StoreError>>;

enum Msg<B: BatchInsert> {
    Insert(B::Item, Reply<B>),
    /// Answered once everything sent before it is committed (or has failed) and the writer's
    /// connections are back in the pool.
    Close(oneshot::Sender<()>),
}

/// Handle to the writer task.
pub(crate) struct GroupCommit<B: BatchInsert> {
    tx: mpsc::Sender<Msg<B>>,
}

impl<B: BatchInsert> Clone for GroupCommit<B> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<B: BatchInsert> GroupCommit<B> {
    pub(crate) fn start(inserter: B) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(Arc::new(inserter), rx));
        Self { tx }
    }

    /// Inserts `item` with the next batch; answers once that batch is committed.
    pub(crate) async fn insert(&self, item: B::Item) -> Result<B::Done, StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Insert(item, done))
            .await
            .map_err(|_| StoreError::Unavailable("the group commit's writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the group commit's writer stopped".into()))?
    }

    /// Waits until every insert sent so far is committed (or has failed), then hands the
    /// writer's connections back: the store is closing.
    pub(crate) async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer<B: BatchInsert>(inserter: Arc<B>, mut rx: mpsc::Receiver<Msg<B>>) {
    let mut received: Vec<Msg<B>> = Vec::with_capacity(MAX_BATCH);
    let mut committing = JoinSet::new();
    loop {
        // A free slot first: what arrives meanwhile joins the next batch.
        while committing.len() >= B::IN_FLIGHT {
            committing.join_next().await;
        }
        if rx.recv_many(&mut received, MAX_BATCH).await == 0 {
            break;
        }
        let mut records = Vec::with_capacity(received.len());
        let mut replies = Vec::with_capacity(received.len());
        let mut closes = Vec::new();
        for msg in received.drain(..) {
            match msg {
                Msg::Insert(record, done) => {
                    records.push(record);
                    replies.push(done);
                }
                Msg::Close(done) => closes.push(done),
            }
        }
        if !records.is_empty() {
            let inserter = Arc::clone(&inserter);
            committing.spawn(async move {
                let results = insert_batch(&*inserter, &records).await;
                debug_assert_eq!(results.len(), records.len());
                for (done, result) in replies.into_iter().zip(results) {
                    let _ = done.send(result);
                }
            });
        }
        if !closes.is_empty() {
            while committing.join_next().await.is_some() {}
            inserter.close();
            for done in closes {
                let _ = done.send(());
            }
        }
    }
    while committing.join_next().await.is_some() {}
    inserter.close();
}

/// One batch, and when the database refuses its statement, each member alone: whatever made
/// it refuse (one member, a deadlock with another node's batch), the others must not fail with
/// it. When there is no connection to be had, every member still waiting fails at once.
async fn insert_batch<B: BatchInsert>(inserter: &B, batch: &[B::Item]) -> Vec<Result<B::Done, StoreError>> {
    let failed = match inserter.insert(batch).await {
        Ok(results) => return results,
        Err(f) => f,
    };
    tracing::error!(error = %failed.error, members = batch.len(), "a group commit batch failed");
    let mut results = Vec::with_capacity(batch.len());
    let mut gave_up = (!failed.retry_alone || batch.len() == 1).then_some(failed.error);
    for r in batch {
        if let Some(e) = &gave_up {
            results.push(Err(e.clone()));
            continue;
        }
        results.push(match inserter.insert(std::slice::from_ref(r)).await {
            Ok(mut one) => one.pop().unwrap_or(Err(StoreError::Unavailable("no result".into()))),
            Err(f) if f.retry_alone => Err(f.error),
            Err(f) => Err(gave_up.insert(f.error).clone()),
        });
    }
    results
}

/// Which members a multi-row insert tries: the first of each id. (What the insert went in with
/// is told by id, so two members with one id could not be told apart; the later ones are
/// duplicates.)
pub(crate) fn first_of_each_id(batch: &[DataKeyRecord]) -> Vec<bool> {
    let mut seen = HashSet::with_capacity(batch.len());
    batch.iter().map(|r| seen.insert(r.id)).collect()
}

/// Each member's result after a multi-row `INSERT ... ON CONFLICT DO NOTHING` (`inserted`: the
/// ids that went in): inserted, else a duplicate (its id repeats an earlier member's or a stored
/// row's), else kept out by its name.
pub(crate) fn outcomes(
    batch: &[DataKeyRecord],
    tried: &[bool],
    inserted: &HashSet<String>,
    taken_ids: &HashSet<String>,
) -> Vec<Result<(), StoreError>> {
    batch
        .iter()
        .zip(tried)
        .map(|(r, tried)| {
            let id = r.id.to_string();
            if inserted.contains(&id) && *tried {
                Ok(())
            } else if !tried || taken_ids.contains(&id) {
                Err(StoreError::Conflict(Conflict::Duplicate))
            } else {
                Err(StoreError::Conflict(Conflict::DataKeyName))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Members are numbers; `refused` is refused by the database, and with `no_connection` every
    /// call fails as a pool that cannot hand out a connection does.
    struct Fake {
        refused: u32,
        no_connection: bool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl BatchInsert for Fake {
        type Item = u32;
        type Done = u32;
        const IN_FLIGHT: usize = 1;

        async fn insert(&self, batch: &[u32]) -> Result<Vec<Result<u32, StoreError>>, Failed> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.no_connection {
                return Err(Failed::whole(StoreError::Unavailable("no connection".into())));
            }
            if batch.contains(&self.refused) {
                return Err(Failed::statement(StoreError::Unavailable("refused".into())));
            }
            Ok(batch.iter().map(|n| Ok(*n)).collect())
        }

        fn close(&self) {}
    }

    /// A database error with an SQLSTATE, as PostgreSQL reports one.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn only_a_refusal_of_the_statement_is_retried_member_by_member() {
        let retried = |e: sqlx::Error| Failed::sqlx(e, |e| StoreError::Unavailable(e.to_string())).retry_alone;
        for refused in ["23505", "22001", "40P01"] {
            assert!(retried(sqlx::Error::Database(Box::new(Sqlstate(refused)))), "{refused}");
        }
        // connection, resources, shutdown or cancelled statement: the server's state, not a member's
        for state in ["08006", "53300", "57P01", "57014"] {
            assert!(!retried(sqlx::Error::Database(Box::new(Sqlstate(state)))), "{state}");
        }
        assert!(!retried(sqlx::Error::Io(std::io::Error::other("cut"))));
    }

    #[tokio::test]
    async fn a_refused_statement_is_retried_member_by_member() {
        let fake = Fake { refused: 2, no_connection: false, calls: AtomicUsize::new(0) };
        let results = insert_batch(&fake, &[1, 2, 3]).await;
        assert!(matches!(results[..], [Ok(1), Err(StoreError::Unavailable(_)), Ok(3)]), "{results:?}");
        assert_eq!(fake.calls.load(Ordering::SeqCst), 4, "the batch, then each member");
    }

    #[tokio::test]
    async fn without_a_connection_every_member_fails_at_once() {
        let fake = Fake { refused: 0, no_connection: true, calls: AtomicUsize::new(0) };
        let results = insert_batch(&fake, &[1, 2, 3]).await;
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|r| matches!(r, Err(StoreError::Unavailable(_)))), "{results:?}");
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "no member waits for the pool again");
    }
}
