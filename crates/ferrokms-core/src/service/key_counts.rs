//! The per-account key quota without a count of every key on each CreateKey: a `COUNT(*)` grows
//! with the account (5 ms of the database's CPU per CreateKey at 16k keys on PostgreSQL, and the
//! quota allows 100k), so the count read from the store is used for [`FRESH_FOR`], plus the keys
//! this process made since.
//!
//! One process owning its store sees every key made, so its check is as exact as a count (both
//! may be passed by the CreateKeys in flight at once). Processes sharing a store do not see each
//! other's keys until the next count: the quota holds within what the other nodes create in
//! [`FRESH_FOR`] (docs/deploy.md). Deletions count at the next count (until then the quota is
//! only stricter).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::model::AccountId;

/// How long a count from the store is used.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

/// Each account's last count and when it was taken.
#[derive(Default)]
pub(crate) struct KeyCounts {
    counts: parking_lot::Mutex<HashMap<AccountId, (u64, Instant)>>,
}

impl KeyCounts {
    /// The account's count, if one taken within [`FRESH_FOR`] is known.
    pub(crate) fn fresh(&self, account: AccountId) -> Option<u64> {
        let counts = self.counts.lock();
        counts.get(&account).filter(|(_, at)| at.elapsed() < FRESH_FOR).map(|(n, _)| *n)
    }

    /// Records a count just read from the store.
    pub(crate) fn counted(&self, account: AccountId, n: u64) {
        self.counts.lock().insert(account, (n, Instant::now()));
    }

    /// One more key of `account`, made by this process.
    pub(crate) fn created(&self, account: AccountId) {
        if let Some((n, _)) = self.counts.lock().get_mut(&account) {
            *n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_used_while_fresh_with_the_keys_made_since() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        assert_eq!(counts.fresh(a), None, "nothing counted yet");
        counts.created(a);
        assert_eq!(counts.fresh(a), None, "a key made before any count is in the next count");
        counts.counted(a, 10);
        counts.created(a);
        counts.created(a);
        assert_eq!(counts.fresh(a), Some(12));
        assert_eq!(counts.fresh(AccountId(8)), None, "per account");
    }

    #[test]
    fn a_count_goes_stale() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        counts.counts.lock().insert(a, (10, Instant::now() - FRESH_FOR));
        assert_eq!(counts.fresh(a), None);
    }
}
