//! Work that falls due with time: deleting keys and hosted data keys whose deletion window has
//! ended, and rotating keys whose rotation period has passed. All state is in the store, so a
//! restart loses nothing; the server calls [`Kms::run_due_work`] periodically.

use crate::model::now;
use crate::{Error, Result};

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
}

impl Kms {
    /// Deletes and rotates whatever is due now.
    pub async fn run_due_work(&self) -> Result<BackgroundReport> {
        let at = now();
        let mut report = BackgroundReport::default();
        for key in self.store.keys_due_for_deletion(at).await? {
            self.store.delete_key(key.id).await?;
            self.keys.remove(key.id);
            tracing::info!(key_id = %key.id, "deleted key at the end of its deletion window");
            report.keys_deleted += 1;
        }
        for dk in self.store.data_keys_due_for_deletion(at).await? {
            self.store.delete_data_key(dk.id).await?;
            tracing::info!(data_key_id = %dk.id, "deleted hosted data key at the end of its deletion window");
            report.data_keys_deleted += 1;
        }
        for key in self.store.keys_due_for_rotation(at).await? {
            let id = key.id;
            match self.add_version(key, at).await {
                Ok(_) => {
                    tracing::info!(key_id = %id, "rotated key on schedule");
                    report.keys_rotated += 1;
                }
                // Changed concurrently: the next pass sees the new state.
                Err(Error::Unsupported(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
