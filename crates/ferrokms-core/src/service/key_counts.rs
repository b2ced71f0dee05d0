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
//!
//! One count per account runs at a time ([`KeyCounts::get_or_count`]). Once a count is
//! [`REFRESH_AFTER`] old, one CreateKey reads the next while the others go on with it, so under
//! steady CreateKeys the count never goes stale and none of them waits; the CreateKeys that do
//! find it stale (the first after a pause) wait for one count together, and share its failure
//! (each trying again in turn would wait for the store's timeout once per caller). Each running its own
//! made 64 concurrent CreateKeys run 64 `COUNT(*)`s once a second, 11 ms each at 55k keys on
//! PostgreSQL, and their p99 grew with the account (46 → 213 ms in four 4-s runs).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::AccountId;
use crate::store::StoreError;

/// How long a count from the store is used.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

/// Age at which a fresh count is read again, by one request while the others use it.
const REFRESH_AFTER: Duration = Duration::from_millis(500);

/// Each account's keys made by this process, and its newest count.
#[derive(Default)]
pub(crate) struct KeyCounts {
    counts: parking_lot::Mutex<HashMap<AccountId, Entry>>,
}

#[derive(Default)]
struct Entry {
    /// Keys this process made, ever.
    made: u64,
    /// The newest count: its result, `made` when it started, and when it started.
    count: Option<(u64, u64, Instant)>,
    /// Held while the account is counted.
    counting: Arc<tokio::sync::Mutex<()>>,
    /// The last count that failed, and when.
    failed: Option<(Instant, StoreError)>,
}

/// Taken before a count is read from the store: what this process had made by then.
pub(crate) struct CountStart {
    made: u64,
    at: Instant,
}

impl KeyCounts {
    /// The account's key count: the fresh one, or else one read by `count` (one at a time per
    /// account; those that waited for it use its figure, or its error).
    pub(crate) async fn get_or_count<F>(&self, account: AccountId, count: impl FnOnce() -> F) -> Result<u64, StoreError>
    where
        F: Future<Output = Result<u64, StoreError>>,
    {
        let lock = self.counts.lock().entry(account).or_default().counting.clone();
        if let Some((n, age)) = self.fresh_aged(account) {
            if age < REFRESH_AFTER {
                return Ok(n);
            }
            let Ok(_one) = lock.try_lock() else {
                return Ok(n);
            };
            // A failed refresh leaves the figure, still fresh, to the next request.
            return Ok(self.read(account, count).await.unwrap_or(n));
        }
        let queued = Instant::now();
        let _one = lock.lock().await;
        if let Some(n) = self.fresh(account) {
            return Ok(n);
        }
        if let Some(e) = self.failed_since(account, queued) {
            return Err(e);
        }
        self.read(account, count).await.inspect_err(|e| {
            self.counts.lock().entry(account).or_default().failed = Some((Instant::now(), e.clone()));
        })
    }

    /// Reads a count with `count` and records it; the figure with the keys made meanwhile.
    async fn read<F>(&self, account: AccountId, count: impl FnOnce() -> F) -> Result<u64, StoreError>
    where
        F: Future<Output = Result<u64, StoreError>>,
    {
        let start = self.start(account);
        let n = count().await?;
        self.counted(account, start, n);
        Ok(self.fresh(account).unwrap_or(n))
    }

    /// The error of a count of `account` that failed after `queued`.
    fn failed_since(&self, account: AccountId, queued: Instant) -> Option<StoreError> {
        let counts = self.counts.lock();
        let (at, e) = counts.get(&account)?.failed.as_ref()?;
        (*at >= queued).then(|| e.clone())
    }

    /// The account's keys, if a count that started within [`FRESH_FOR`] is known: that count
    /// plus the keys made since it started. A key made meanwhile and already committed when
    /// the count read it is counted twice, so the figure can only be high (the quota stricter).
    pub(crate) fn fresh(&self, account: AccountId) -> Option<u64> {
        self.fresh_aged(account).map(|(n, _)| n)
    }

    /// [`Self::fresh`], with the count's age.
    fn fresh_aged(&self, account: AccountId) -> Option<(u64, Duration)> {
        let counts = self.counts.lock();
        let e = counts.get(&account)?;
        let (n, made_before, at) = e.count?;
        let age = at.elapsed();
        (age < FRESH_FOR).then(|| (n + (e.made - made_before), age))
    }

    /// Call before reading a count from the store; hand the result to [`Self::counted`].
    pub(crate) fn start(&self, account: AccountId) -> CountStart {
        let made = self.counts.lock().get(&account).map_or(0, |e| e.made);
        CountStart { made, at: Instant::now() }
    }

    /// Records `n`, read from the store after `start`, unless a count that started later is
    /// already known (a slow count must not hide the keys made while it ran).
    pub(crate) fn counted(&self, account: AccountId, start: CountStart, n: u64) {
        let mut counts = self.counts.lock();
        let e = counts.entry(account).or_default();
        if e.count.is_none_or(|(_, _, at)| at <= start.at) {
            e.count = Some((n, start.made, start.at));
        }
    }

    /// One more key of `account`, made by this process.
    pub(crate) fn created(&self, account: AccountId) {
        self.counts.lock().entry(account).or_default().made += 1;
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
        let start = counts.start(a);
        counts.counted(a, start, 10);
        assert_eq!(counts.fresh(a), Some(10), "a key made before the count is in it");
        counts.created(a);
        counts.created(a);
        assert_eq!(counts.fresh(a), Some(12));
        assert_eq!(counts.fresh(AccountId(8)), None, "per account");
    }

    #[test]
    fn a_slow_count_does_not_replace_a_newer_one() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        let slow = counts.start(a);
        let quick = counts.start(a);
        counts.counted(a, quick, 10);
        counts.created(a);
        counts.created(a);
        counts.counted(a, slow, 9);
        assert_eq!(counts.fresh(a), Some(12), "the slow count's older figure is ignored");
    }

    #[test]
    fn keys_made_during_a_count_are_added_to_it() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        let start = counts.start(a);
        counts.created(a);
        counts.counted(a, start, 5);
        assert_eq!(counts.fresh(a), Some(6), "high, never low");
    }

    /// `callers` at once asking for `a`'s count, each count answering `answer` after a yield
    /// (so that the others arrive meanwhile): their results, and how many counts ran.
    async fn at_once(callers: usize, answer: Result<u64, StoreError>) -> (Vec<Result<u64, StoreError>>, usize) {
        let counts = Arc::new(KeyCounts::default());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let (counts, calls, answer) = (counts.clone(), calls.clone(), answer.clone());
                tokio::spawn(async move {
                    counts
                        .get_or_count(AccountId(7), || async {
                            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            answer
                        })
                        .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        (results, calls.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_count() {
        let (results, calls) = at_once(32, Ok(40)).await;
        assert!(results.iter().all(|r| *r == Ok(40)), "{results:?}");
        assert_eq!(calls, 1, "one count for all 32");
    }

    #[tokio::test]
    async fn a_count_in_progress_does_not_hold_up_another_account() {
        let counts = Arc::new(KeyCounts::default());
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let counts = counts.clone();
            tokio::spawn(async move {
                counts
                    .get_or_count(AccountId(1), || async {
                        held.await.ok();
                        Ok(1)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let other = counts.get_or_count(AccountId(2), || async { Ok(2) });
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), other).await, Ok(Ok(2)));
        release.send(()).unwrap();
        assert_eq!(slow.await.unwrap(), Ok(1));
    }

    #[tokio::test]
    async fn a_count_due_for_refresh_is_read_by_one_caller_while_the_others_use_it() {
        let counts = Arc::new(KeyCounts::default());
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some((10, 0, Instant::now() - REFRESH_AFTER));
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let refresher = {
            let (counts, calls) = (counts.clone(), calls.clone());
            tokio::spawn(async move {
                counts
                    .get_or_count(a, || async {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        held.await.ok();
                        Ok(20)
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "the refresh has begun");
        let other = counts.get_or_count(a, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(30)
        });
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), other).await,
            Ok(Ok(10)),
            "no wait, no second count: the figure is still fresh"
        );
        release.send(()).unwrap();
        assert_eq!(refresher.await.unwrap(), Ok(20));
        assert_eq!(counts.fresh(a), Some(20));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_fresh_figure() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some((10, 0, Instant::now() - REFRESH_AFTER));
        assert_eq!(counts.get_or_count(a, || async { Err(down()) }).await, Ok(10));
    }

    fn down() -> StoreError {
        StoreError::Unavailable("down".into())
    }

    #[tokio::test]
    async fn a_failed_count_is_not_kept() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        assert_eq!(counts.get_or_count(a, || async { Err(down()) }).await, Err(down()));
        assert_eq!(counts.fresh(a), None);
    }

    #[tokio::test]
    async fn those_waiting_for_a_count_that_fails_get_its_error() {
        let (results, calls) = at_once(16, Err(down())).await;
        assert!(results.iter().all(|r| *r == Err(down())), "{results:?}");
        assert_eq!(calls, 1, "one failed count for all 16");
    }

    #[tokio::test]
    async fn after_a_failed_count_a_later_caller_counts_again() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        assert_eq!(counts.get_or_count(a, || async { Err(down()) }).await, Err(down()));
        assert_eq!(counts.get_or_count(a, || async { Ok(5) }).await, Ok(5));
    }

    #[test]
    fn a_count_goes_stale() {
        let counts = KeyCounts::default();
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some((10, 0, Instant::now() - FRESH_FOR));
        assert_eq!(counts.fresh(a), None);
    }
}
