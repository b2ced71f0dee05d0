//! Per-account, per-action request quotas in one-second windows, as the cloud KMSs enforce them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::model::AccountId;

/// A request over its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// The action's limit per second.
    pub limit: u32,
}

/// The second a window counts and how many requests it saw.
type Window = (u64, u32);

/// Counts requests per (account, action) in the current second.
pub struct RateLimiter {
    enabled: bool,
    limits: HashMap<String, u32>,
    default_limit: u32,
    start: Instant,
    windows: Mutex<HashMap<(AccountId, &'static str), Window>>,
    /// Nodes sharing the limits (each enforces its share of every limit).
    nodes: AtomicU32,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("enabled", &self.enabled).finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter with per-action limits and a default for actions not listed.
    pub fn new(enabled: bool, default_limit: u32, limits: HashMap<String, u32>) -> Self {
        Self {
            enabled,
            limits,
            default_limit,
            start: Instant::now(),
            windows: Mutex::new(HashMap::new()),
            nodes: AtomicU32::new(1),
        }
    }

    /// `n` nodes share the limits now: each lets through its share (rounded up, at least one
    /// request per second).
    pub fn set_nodes(&self, n: u32) {
        self.nodes.store(n.max(1), Ordering::Relaxed);
    }

    /// What this node lets through of `limit`.
    fn share(&self, limit: u32) -> u32 {
        let n = self.nodes.load(Ordering::Relaxed).max(1);
        limit.div_ceil(n).max(1)
    }

    /// A limiter that lets everything through.
    pub fn disabled() -> Self {
        Self::new(false, 0, HashMap::new())
    }

    /// The limit for `action`.
    pub fn limit(&self, action: &str) -> u32 {
        self.limits.get(action).copied().unwrap_or(self.default_limit)
    }

    /// Counts one request; refuses it if the account already made `limit` calls this second.
    pub fn check(&self, account: AccountId, action: &'static str) -> Result<(), Throttled> {
        if !self.enabled {
            return Ok(());
        }
        let limit = self.limit(action);
        let second = self.start.elapsed().as_secs();
        let mut windows = self.windows.lock();
        if windows.len() > 100_000 {
            windows.retain(|_, (s, _)| *s == second);
        }
        let entry = windows.entry((account, action)).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        if entry.1 >= self.share(limit) {
            return Err(Throttled { limit });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_action() {
        let rl = RateLimiter::new(true, 2, HashMap::from([("GenerateDataKey".to_owned(), 3)]));
        let a = AccountId(1);
        for _ in 0..3 {
            assert!(rl.check(a, "GenerateDataKey").is_ok());
        }
        assert_eq!(rl.check(a, "GenerateDataKey"), Err(Throttled { limit: 3 }));
        assert!(rl.check(AccountId(2), "GenerateDataKey").is_ok(), "other account has its own quota");
        assert!(rl.check(a, "Encrypt").is_ok());
        assert!(rl.check(a, "Encrypt").is_ok());
        assert!(rl.check(a, "Encrypt").is_err());
        let off = RateLimiter::disabled();
        for _ in 0..1000 {
            assert!(off.check(a, "Encrypt").is_ok());
        }
    }

    #[test]
    fn nodes_share_each_limit() {
        let rl = RateLimiter::new(true, 30, HashMap::new());
        rl.set_nodes(3);
        let a = AccountId(1);
        let passed = (0..30).filter(|_| rl.check(a, "Encrypt").is_ok()).count();
        assert_eq!(passed, 10, "a third of 30 on each of 3 nodes");
        assert_eq!(rl.check(a, "Encrypt"), Err(Throttled { limit: 30 }), "the answer names the cluster's limit");
        rl.set_nodes(4);
        assert_eq!(rl.share(30), 8, "rounded up");
        rl.set_nodes(100);
        assert_eq!(rl.share(30), 1, "at least one per node");
        rl.set_nodes(0);
        assert_eq!(rl.share(30), 30);
    }
}
