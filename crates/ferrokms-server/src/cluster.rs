//! What a node does for the others on a shared store (PostgreSQL): applies the changes they
//! make to its caches as soon as the store tells them, and beats its heart so that the rate
//! limits are shared among the nodes alive. On a store one process owns (SQLite) nothing runs.

use std::sync::Arc;
use std::time::Duration;

use ferrokms_core::quota::RateLimiter;
use ferrokms_core::service::Kms;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How often a node tells the store it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How long a heartbeat counts: a node silent for longer is no longer counted.
pub const HEARTBEAT_TTL_SECS: u64 = 6;

/// The running tasks.
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the change consumer and the heartbeat, if the store tells changes.
pub fn spawn(kms: Arc<Kms>, limits: Arc<RateLimiter>) -> Cluster {
    let Some(mut changes) = kms.store_changes() else {
        return Cluster { tasks: Vec::new() };
    };
    let consumer = {
        let kms = kms.clone();
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                tracing::debug!(?change, "change told by the store");
                kms.apply_change(&change);
            }
        })
    };
    let node = Uuid::new_v4();
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            tick.tick().await;
            match kms.heartbeat(node, HEARTBEAT_TTL_SECS).await {
                Ok(n) => limits.set_nodes(u32::try_from(n).unwrap_or(u32::MAX)),
                // Keep the last count: a store that does not answer serves nobody anyway.
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    });
    Cluster { tasks: vec![consumer, heartbeat] }
}

impl Cluster {
    /// Stops the tasks.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}
