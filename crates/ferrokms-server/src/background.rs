//! The background task: deletes what is due, rotates what is due and expires imported material,
//! periodically and at start; and, on every pass, drops what has expired from the replay memory
//! (TC3 signatures, Alibaba nonces), so that memory shrinks back without new traffic (a lookup only
//! expires the one shard it touches).

use std::sync::Arc;
use std::time::Duration;

use ferrokms_core::service::Kms;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running task.
pub struct Background {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts the periodic pass; `sweep` (the fronts' replay-memory sweep) runs at the start of
/// each pass, before and whatever the store work does.
pub fn spawn(kms: Arc<Kms>, every: Duration, sweep: impl Fn() + Send + 'static) -> Background {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            sweep();
            if kms.is_sealed() {
                continue; // nothing can be rotated or checked without the root
            }
            // A pass, once started, runs to its end: `stop` waits for it.
            match kms.run_due_work().await {
                Ok(r) if r.keys_deleted + r.data_keys_deleted + r.keys_rotated + r.materials_expired > 0 => {
                    tracing::info!(
                        keys_deleted = r.keys_deleted,
                        data_keys_deleted = r.data_keys_deleted,
                        keys_rotated = r.keys_rotated,
                        materials_expired = r.materials_expired,
                        "background pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "background pass failed; retrying next time"),
            }
        }
    });
    Background { stop, task }
}

impl Background {
    /// Stops the task: no new pass; the one running, if any, gets up to `grace` to finish.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("background pass still running at shutdown; cut short (it is redone next start)");
            abort.abort();
        }
    }
}
