//! Work that falls due with time: deleting keys and hosted data keys whose deletion window has
//! ended, rotating keys whose rotation period has passed, and deleting imported material whose
//! validity ended. All state is in the store, so a
//! restart loses nothing; the server calls [`Kms::run_due_work`] periodically. One item that
//! fails is logged and retried on the next pass; it never holds up the others.

use crate::Result;
use crate::model::now;

use super::Kms;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundReport {
    /// Keys deleted.
    pub keys_deleted: usize,
    /// Hosted data keys deleted.
    pub data_keys_deleted: usize,
    /// Keys rotated.
    pub keys_rotated: usize,
    /// Keys whose imported material expired (now PendingImport).
    pub materials_expired: usize,
    /// Items that failed and wait for the next pass.
    pub failures: usize,
    /// Another node held the lease: this one did nothing.
    pub skipped: bool,
}

impl Kms {
    /// Deletes and rotates whatever is due now, if no other node sharing the store is doing its
    /// pass (one node does each pass; see [`Store::background_lease`](crate::store::Store)).
    pub async fn run_due_work(&self) -> Result<BackgroundReport> {
        let Some(lease) = self.store.background_lease().await? else {
            return Ok(BackgroundReport { skipped: true, ..BackgroundReport::default() });
        };
        let report = self.run_due_work_unleased().await;
        drop(lease);
        report
    }

    /// The pass without the lease: what two nodes doing it at once must survive (each item is
    /// a compare-and-swap, so exactly one of them does it).
    pub async fn run_due_work_unleased(&self) -> Result<BackgroundReport> {
        let at = now();
        let mut report = BackgroundReport::default();
        if let Err(e) = self.store.purge_nonces(at).await {
            tracing::warn!(error = %e, "purging expired nonces failed");
        }
        for key in self.store.keys_due_for_deletion(at).await? {
            let deleting = self.key_counts.deleting(key.account);
            match self.store.delete_key(key.id, at).await {
                Ok(true) => {
                    self.keys.remove(key.id);
                    deleting.done();
                    tracing::info!(key_id = %key.id, "deleted key at the end of its deletion window");
                    report.keys_deleted += 1;
                }
                Ok(false) => {} // cancelled meanwhile
                Err(e) => {
                    tracing::error!(key_id = %key.id, error = %e, "deleting a due key failed");
                    report.failures += 1;
                }
            }
        }
        for dk in self.store.data_keys_due_for_deletion(at).await? {
            let deleting = self.data_key_counts.deleting(dk.account);
            match self.store.delete_data_key(dk.id, at).await {
                Ok(true) => {
                    deleting.done();
                    tracing::info!(data_key_id = %dk.id, "deleted hosted data key at the end of its deletion window");
                    report.data_keys_deleted += 1;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(data_key_id = %dk.id, error = %e, "deleting a due data key failed");
                    report.failures += 1;
                }
            }
        }
        for key in self.store.keys_due_for_rotation(at).await? {
            let id = key.id;
            match self.add_version(key, at).await {
                Ok(Some(_)) => {
                    tracing::info!(key_id = %id, "rotated key on schedule");
                    report.keys_rotated += 1;
                }
                Ok(None) => {} // changed meanwhile: the next pass sees the new state
                Err(e) => {
                    tracing::error!(key_id = %id, error = %e, "scheduled rotation failed");
                    report.failures += 1;
                }
            }
        }
        for key in self.store.keys_with_expired_material(at).await? {
            let id = key.id;
            match self.drop_material(key, Some(at)).await {
                Ok(_) => {
                    tracing::info!(key_id = %id, "imported key material expired and was deleted");
                    report.materials_expired += 1;
                }
                Err(e) => {
                    tracing::error!(key_id = %id, error = %e, "deleting expired key material failed");
                    report.failures += 1;
                }
            }
        }
        Ok(report)
    }
}
