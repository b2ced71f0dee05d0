//! Group commit for hosted data keys: concurrent inserts are gathered by one writer task and
//! committed together, so one commit (one fsync) acknowledges many. A member whose name or id
//! is taken inserts nothing and fails only its own request. Each backend says how a batch is
//! written ([`BatchInsert`]).

use async_trait::async_trait;
use ferrokms_core::model::DataKeyRecord;
use ferrokms_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

/// Most inserts committed together.
pub(crate) const MAX_BATCH: usize = 512;

/// How a backend writes one batch.
#[async_trait]
pub(crate) trait BatchInsert: Send + Sync + 'static {
    /// Inserts `batch` in one transaction and answers one result per record, in order: a
    /// record's own conflict fails only it; any other failure fails every record, and nothing
    /// is committed.
    async fn insert_batch(&self, batch: &[DataKeyRecord]) -> Vec<Result<(), StoreError>>;
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

#[expect(clippy::large_enum_variant, reason = "nearly every message is an insert: boxing would only add an allocation")]
enum Msg {
    Insert(DataKeyRecord, Reply),
    /// Answered once everything sent before it is committed (or has failed).
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<Msg>,
}

impl GroupCommit {
    pub(crate) fn start(inserter: impl BatchInsert) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(inserter, rx));
        Self { tx }
    }

    pub(crate) async fn insert(&self, record: DataKeyRecord) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Insert(record, done))
            .await
            .map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("data key writer stopped".into()))?
    }

    /// Waits until every insert sent so far is committed (or has failed).
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn writer(inserter: impl BatchInsert, mut rx: mpsc::Receiver<Msg>) {
    let mut received: Vec<Msg> = Vec::with_capacity(MAX_BATCH);
    let mut records: Vec<DataKeyRecord> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut flushes = Vec::new();
    while rx.recv_many(&mut received, MAX_BATCH).await > 0 {
        for msg in received.drain(..) {
            match msg {
                Msg::Insert(record, done) => {
                    records.push(record);
                    replies.push(done);
                }
                Msg::Flush(done) => flushes.push(done),
            }
        }
        if !records.is_empty() {
            let results = inserter.insert_batch(&records).await;
            debug_assert_eq!(results.len(), records.len());
            for (done, result) in replies.drain(..).zip(results) {
                let _ = done.send(result);
            }
            records.clear();
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Every record failed by one error (the batch was not committed).
pub(crate) fn all_failed(batch: &[DataKeyRecord], e: &StoreError) -> Vec<Result<(), StoreError>> {
    tracing::error!(error = %e, "group commit of hosted data keys failed");
    batch.iter().map(|_| Err(StoreError::Unavailable(e.to_string()))).collect()
}
