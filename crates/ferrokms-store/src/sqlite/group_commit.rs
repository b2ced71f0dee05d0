//! Group commit for hosted data keys: concurrent inserts are gathered by one writer task and
//! committed together, so one fsync acknowledges many. A duplicate name inserts nothing and fails
//! only its own request.

use ferrokms_core::model::DataKeyRecord;
use ferrokms_core::store::StoreError;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::{insert_data_key_rows, map_err};

/// Most inserts committed together.
const MAX_BATCH: usize = 512;

type Job = (DataKeyRecord, oneshot::Sender<Result<(), StoreError>>);

#[expect(clippy::large_enum_variant, reason = "nearly every message is an insert: boxing would only add an allocation")]
enum Msg {
    Insert(Job),
    /// Answered once everything sent before it is committed (or has failed).
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task.
#[derive(Clone)]
pub(super) struct GroupCommit {
    tx: mpsc::Sender<Msg>,
}

impl GroupCommit {
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(pool, rx));
        Self { tx }
    }

    pub(super) async fn insert(&self, record: DataKeyRecord) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Insert((record, done)))
            .await
            .map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?
    }

    /// Waits until every insert sent so far is committed (or has failed).
    pub(super) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<Msg>) {
    let mut received: Vec<Msg> = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while rx.recv_many(&mut received, MAX_BATCH).await > 0 {
        for msg in received.drain(..) {
            match msg {
                Msg::Insert(job) => batch.push(job),
                Msg::Flush(done) => flushes.push(done),
            }
        }
        if !batch.is_empty() {
            let results = commit(&pool, &batch).await;
            for ((_, done), result) in batch.drain(..).zip(results) {
                let _ = done.send(result);
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn commit(pool: &SqlitePool, batch: &[Job]) -> Vec<Result<(), StoreError>> {
    let attempt = async {
        let mut tx = pool.begin().await.map_err(map_err)?;
        let mut results = Vec::with_capacity(batch.len());
        for (record, _) in batch {
            match insert_data_key_rows(&mut tx, record).await {
                Ok(()) => results.push(Ok(())),
                // Only a taken name is this request's own failure; anything else (busy, I/O)
                // fails the whole batch, which is then not committed.
                Err(e @ StoreError::Conflict(_)) => results.push(Err(e)),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok::<_, StoreError>(results)
    };
    match attempt.await {
        Ok(results) => results,
        Err(e) => {
            tracing::error!(error = %e, "group commit of hosted data keys failed");
            batch.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect()
        }
    }
}
