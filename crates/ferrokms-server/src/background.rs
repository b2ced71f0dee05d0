//! The background task: deletes what is due and rotates what is due, periodically and at start.

use std::sync::Arc;
use std::time::Duration;

use ferrokms_core::service::Kms;

/// Starts the periodic pass.
pub fn spawn(kms: Arc<Kms>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match kms.run_due_work().await {
                Ok(r) if r.keys_deleted + r.data_keys_deleted + r.keys_rotated > 0 => {
                    tracing::info!(
                        keys_deleted = r.keys_deleted,
                        data_keys_deleted = r.data_keys_deleted,
                        keys_rotated = r.keys_rotated,
                        "background pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "background pass failed; retrying next time"),
            }
        }
    });
}
