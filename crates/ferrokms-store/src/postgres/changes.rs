//! Change notifications between nodes: triggers on `keys` and `access_keys`
//! (`migrations/postgres/0002_cluster.sql`) `pg_notify` the changed row's id on
//! `ferrokms_changes` when their transaction commits; one connection per node LISTENs and turns
//! each payload into a [`Change`]. When that connection is lost, notifications sent meanwhile
//! are lost too: the listener tells [`Change::All`] once it is back, so the caches forget
//! everything rather than trust what may have changed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ferrokms_core::store::Change;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The channel the triggers notify.
pub(super) const CHANNEL: &str = "ferrokms_changes";

/// The listening task and the receiving end, until the service takes it.
#[derive(Clone)]
pub(super) struct Listener {
    rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<Change>>>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// A payload as the triggers write it: `k<key id>` or `a<access key id>`.
pub(super) fn parse(payload: &str) -> Change {
    if let Some(id) = payload.strip_prefix('k')
        && let Ok(id) = Uuid::parse_str(id)
    {
        return Change::Key(id);
    }
    if let Some(id) = payload.strip_prefix('a') {
        return Change::AccessKey(id.to_owned());
    }
    Change::All // unknown: forgetting everything is always safe
}

impl Listener {
    /// Connects and LISTENs before the store is used, so no change after the start is missed.
    pub(super) async fn start(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        if tx.send(parse(n.payload())).is_err() {
                            return; // nobody listens any more
                        }
                    }
                    // The connection was lost; the next call reconnects and listens again.
                    Ok(None) => {
                        tracing::warn!("the PostgreSQL change listener lost its connection; caches are cleared");
                        if tx.send(Change::All).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the PostgreSQL change listener cannot reconnect; retrying");
                        let _ = tx.send(Change::All);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(Self { rx: Arc::new(Mutex::new(Some(rx))), task: Arc::new(Mutex::new(Some(task))) })
    }

    /// The receiving end, once.
    pub(super) fn take(&self) -> Option<mpsc::UnboundedReceiver<Change>> {
        self.rx.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Stops listening.
    pub(super) fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(PoisonError::into_inner).take() {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let id = Uuid::new_v4();
        assert_eq!(parse(&format!("k{id}")), Change::Key(id));
        assert_eq!(parse("aAKID1"), Change::AccessKey("AKID1".into()));
        assert_eq!(parse("kjunk"), Change::All);
        assert_eq!(parse(""), Change::All);
    }
}
