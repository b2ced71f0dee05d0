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

/// A record to insert, or `None`: a barrier answered once everything queued before it is
/// committed.
type Job = (Option<DataKeyRecord>, oneshot::Sender<Result<(), StoreError>>);

/// Handle to the writer task.
#[derive(Clone)]
pub(super) struct GroupCommit {
    tx: mpsc::Sender<Job>,
}

impl GroupCommit {
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(pool, rx));
        Self { tx }
    }

    pub(super) async fn insert(&self, record: DataKeyRecord) -> Result<(), StoreError> {
        self.submit(Some(record)).await
    }

    /// Returns once every insert queued before the call is committed (or has failed).
    pub(super) async fn close(&self) {
        let _ = self.submit(None).await;
    }

    async fn submit(&self, job: Option<DataKeyRecord>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx.send((job, done)).await.map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?
    }
}

async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit(&pool, &batch).await;
        for ((_, done), result) in batch.drain(..).zip(results) {
            let _ = done.send(result);
        }
    }
}

async fn commit(pool: &SqlitePool, batch: &[Job]) -> Vec<Result<(), StoreError>> {
    let attempt = async {
        let mut tx = pool.begin().await.map_err(map_err)?;
        let mut results = Vec::with_capacity(batch.len());
        for (record, _) in batch {
            let Some(record) = record else {
                results.push(Ok(()));
                continue;
            };
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
