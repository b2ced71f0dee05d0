//! The per-account quotas (keys, hosted data keys) without a count of every key on each
//! request: a `COUNT(*)` grows with the account (5 ms of the database's CPU per CreateKey at 16k
//! keys on PostgreSQL, and the quota allows 100k), so a count read from the store is used while
//! fresh, plus what this process made since, less what it deleted since.
//!
//! One process owning its store sees every key made, so its check is as exact as a count (both
//! may be passed by the requests in flight at once). Processes sharing a store do not see each
//! other's keys until the next count: the quota holds within what the other nodes create while a
//! count is fresh (docs/deploy.md). Another node's deletions count at the next count (until then
//! the quota is only stricter).
//!
//! One count per account runs at a time ([`QuotaCounts::get_or_count`]). Once a count is half
//! its freshness old, a task of its own reads the next while every request goes on with it, so
//! under steady requests the count never goes stale and none of them waits; the requests that find
//! it stale (the first after a pause or a start) wait for one count together, and share its
//! failure (each trying again in turn would wait for the store's timeout once per caller). Each
//! running its own made 64 concurrent CreateKeys run 64 `COUNT(*)`s once a second, 11 ms each at
//! 55k keys on PostgreSQL, and their p99 grew with the account (46 → 213 ms in four 4-s runs).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::AccountId;
use crate::store::StoreError;

/// How long a count of an account's keys is used: CreateKey is rare and slow next to a count.
pub(crate) const KEYS_FRESH_FOR: Duration = Duration::from_secs(1);

/// How long a count of an account's hosted data keys is used: they are made at the rate of
/// GenerateDataKey, and an account may hold many more of them than keys, so the count is read
/// far less often (by a task of its own, every half minute while requests come).
pub(crate) const DATA_KEYS_FRESH_FOR: Duration = Duration::from_secs(60);

/// Longest wait for a count: one that hangs (a connection cut without a reset) must not hold
/// up, for ever, every request that finds the figure stale behind it.
const COUNT_TIMEOUT: Duration = Duration::from_secs(30);

/// Each account's keys made and deleted by this process, and its newest count.
pub(crate) struct QuotaCounts {
    counts: parking_lot::Mutex<HashMap<AccountId, Entry>>,
    /// How long a count is used.
    fresh_for: Duration,
    /// Age at which a fresh count is read again, by a task while requests go on with it.
    refresh_after: Duration,
    /// Longest wait for a count ([`COUNT_TIMEOUT`]).
    count_timeout: Duration,
}

#[derive(Default)]
struct Entry {
    /// Keys this process made, ever.
    made: u64,
    /// Keys this process deleted, ever.
    deleted: u64,
    /// Deletions by this process under way (see [`QuotaCounts::deleting`]).
    deleting: u64,
    /// The newest count.
    count: Option<Count>,
    /// Held while the account is counted.
    counting: Arc<tokio::sync::Mutex<()>>,
    /// The last count that failed, and when.
    failed: Option<(Instant, StoreError)>,
}

/// A count read from the store.
#[derive(Clone, Copy)]
struct Count {
    /// What the store answered.
    n: u64,
    /// `made` when the count started: a key made during the count is added (it may be in the
    /// count too, so the figure can only be high).
    made_before: u64,
    /// `deleted` and `deleting` together when the count ended: a deletion under way or done
    /// during the count is not taken off (the count may not have seen the key, so again the
    /// figure can only be high).
    deleted_before: u64,
    /// When the count started.
    at: Instant,
}

/// Taken before a count is read from the store: what this process had made by then.
struct CountStart {
    made: u64,
    at: Instant,
}

impl QuotaCounts {
    /// Counts used for `fresh_for`, read again at half that age.
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            counts: parking_lot::Mutex::default(),
            fresh_for,
            refresh_after: fresh_for / 2,
            count_timeout: COUNT_TIMEOUT,
        }
    }

    /// The account's count: the fresh one, or else one read by `count` (one at a time per
    /// account; those that waited for it use its figure, or its error). A fresh figure due
    /// for a refresh is read again by a task of its own, so that no request waits for it.
    pub(crate) async fn get_or_count<C, F>(self: &Arc<Self>, account: AccountId, count: C) -> Result<u64, StoreError>
    where
        C: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<u64, StoreError>> + Send + 'static,
    {
        let fresh = self.fresh_aged(account);
        // The usual case, on every hosted GenerateDataKey: no count's lock to be had.
        if let Some((n, age)) = fresh
            && age < self.refresh_after
        {
            return Ok(n);
        }
        let lock = self.counts.lock().entry(account).or_default().counting.clone();
        if let Some((n, _)) = fresh {
            if let Ok(one) = lock.try_lock_owned() {
                let this = Arc::clone(self);
                // A failed refresh leaves the figure, still fresh, to the next request.
                tokio::spawn(async move {
                    let _one = one;
                    if let Err(e) = this.read(account, count).await {
                        tracing::warn!(error = %e, "refreshing a quota count failed");
                    }
                });
            }
            return Ok(n);
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
        let n = tokio::time::timeout(self.count_timeout, count())
            .await
            .map_err(|_| StoreError::Unavailable("counting the account's keys timed out".into()))??;
        self.counted(account, start, n);
        Ok(self.fresh(account).unwrap_or(n))
    }

    /// The error of a count of `account` that failed after `queued`.
    fn failed_since(&self, account: AccountId, queued: Instant) -> Option<StoreError> {
        let counts = self.counts.lock();
        let (at, e) = counts.get(&account)?.failed.as_ref()?;
        (*at >= queued).then(|| e.clone())
    }

    /// The account's keys, if a count that started within the freshness is known: that count
    /// plus the keys made since it started, less those deleted since it ended (see [`Count`]:
    /// the figure can only be high, the quota stricter).
    fn fresh(&self, account: AccountId) -> Option<u64> {
        self.fresh_aged(account).map(|(n, _)| n)
    }

    /// [`Self::fresh`], with the count's age.
    fn fresh_aged(&self, account: AccountId) -> Option<(u64, Duration)> {
        let counts = self.counts.lock();
        let e = counts.get(&account)?;
        let c = e.count?;
        let age = c.at.elapsed();
        (age < self.fresh_for)
            .then(|| ((c.n + (e.made - c.made_before)).saturating_sub(e.deleted.saturating_sub(c.deleted_before)), age))
    }

    /// Call before reading a count from the store; hand the result to [`Self::counted`].
    fn start(&self, account: AccountId) -> CountStart {
        let made = self.counts.lock().get(&account).map_or(0, |e| e.made);
        CountStart { made, at: Instant::now() }
    }

    /// Records `n`, read from the store after `start`, unless a count that started later is
    /// already known (a slow count must not hide the keys made while it ran).
    fn counted(&self, account: AccountId, start: CountStart, n: u64) {
        let mut counts = self.counts.lock();
        let e = counts.entry(account).or_default();
        if e.count.is_none_or(|c| c.at <= start.at) {
            e.count = Some(Count { n, made_before: start.made, deleted_before: e.deleted + e.deleting, at: start.at });
        }
    }

    /// One more key of `account`, made by this process.
    pub(crate) fn created(&self, account: AccountId) {
        self.counts.lock().entry(account).or_default().made += 1;
    }

    /// Call before deleting one of `account`'s keys, and [`Deleting::done`] once it is gone: a
    /// count that ends while the deletion is under way may or may not have seen the key, so the
    /// deletion is not taken off that count (taking it off one that did not see the key would
    /// leave the figure low).
    pub(crate) fn deleting(&self, account: AccountId) -> Deleting<'_> {
        self.counts.lock().entry(account).or_default().deleting += 1;
        Deleting { counts: self, account }
    }
}

/// A deletion under way ([`QuotaCounts::deleting`]); dropped without [`Self::done`], nothing
/// was deleted.
pub(crate) struct Deleting<'a> {
    counts: &'a QuotaCounts,
    account: AccountId,
}

impl Deleting<'_> {
    /// The key is gone.
    pub(crate) fn done(self) {
        self.counts.counts.lock().entry(self.account).or_default().deleted += 1;
    }
}

impl Drop for Deleting<'_> {
    fn drop(&mut self) {
        let mut counts = self.counts.counts.lock();
        let e = counts.entry(self.account).or_default();
        e.deleting = e.deleting.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_used_while_fresh_with_the_keys_made_since() {
        let counts = QuotaCounts::new(KEYS_FRESH_FOR);
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
        let counts = QuotaCounts::new(KEYS_FRESH_FOR);
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
        let counts = QuotaCounts::new(KEYS_FRESH_FOR);
        let a = AccountId(7);
        let start = counts.start(a);
        counts.created(a);
        counts.counted(a, start, 5);
        assert_eq!(counts.fresh(a), Some(6), "high, never low");
    }

    #[test]
    fn deletions_after_a_count_are_taken_off_it() {
        let counts = QuotaCounts::new(DATA_KEYS_FRESH_FOR);
        let a = AccountId(7);
        let start = counts.start(a);
        counts.counted(a, start, 5);
        counts.deleting(a).done();
        counts.deleting(a).done();
        drop(counts.deleting(a)); // one that failed
        assert_eq!(counts.fresh(a), Some(3));
        counts.created(a);
        assert_eq!(counts.fresh(a), Some(4));
    }

    #[test]
    fn deletions_during_a_count_are_not_taken_off_it() {
        let counts = QuotaCounts::new(DATA_KEYS_FRESH_FOR);
        let a = AccountId(7);
        let start = counts.start(a);
        counts.deleting(a).done(); // the count may have read the key before it went
        counts.counted(a, start, 5);
        assert_eq!(counts.fresh(a), Some(5), "high, never low");
    }

    #[test]
    fn a_deletion_under_way_when_a_count_ends_is_not_taken_off_it() {
        let counts = QuotaCounts::new(DATA_KEYS_FRESH_FOR);
        let a = AccountId(7);
        let deletion = counts.deleting(a); // committed before the count read, not yet reported
        let start = counts.start(a);
        counts.counted(a, start, 5);
        deletion.done();
        assert_eq!(counts.fresh(a), Some(5), "the count did not see the key: taking it off again would be low");
        counts.deleting(a).done();
        assert_eq!(counts.fresh(a), Some(4), "a deletion begun after the count is taken off");
    }

    #[test]
    fn a_data_key_count_stays_fresh_far_longer_than_a_key_count() {
        let (keys, data_keys) = (QuotaCounts::new(KEYS_FRESH_FOR), QuotaCounts::new(DATA_KEYS_FRESH_FOR));
        let a = AccountId(7);
        let ten_seconds_ago = ten_counted(Duration::from_secs(10));
        keys.counts.lock().entry(a).or_default().count = Some(ten_seconds_ago);
        data_keys.counts.lock().entry(a).or_default().count = Some(ten_seconds_ago);
        assert_eq!(keys.fresh(a), None);
        assert_eq!(data_keys.fresh(a), Some(10));
    }

    /// `callers` at once asking for `a`'s count, each count answering `answer` after a yield
    /// (so that the others arrive meanwhile): their results, and how many counts ran.
    async fn at_once(callers: usize, answer: Result<u64, StoreError>) -> (Vec<Result<u64, StoreError>>, usize) {
        let counts = Arc::new(QuotaCounts::new(KEYS_FRESH_FOR));
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let (counts, calls, answer) = (counts.clone(), calls.clone(), answer.clone());
                tokio::spawn(async move {
                    counts
                        .get_or_count(AccountId(7), move || async move {
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
        let counts = Arc::new(QuotaCounts::new(KEYS_FRESH_FOR));
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
    async fn a_count_due_for_refresh_is_read_again_while_every_caller_goes_on_with_it() {
        let counts = Arc::new(QuotaCounts::new(DATA_KEYS_FRESH_FOR));
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some(due_for_refresh());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let refresh = {
            let calls = calls.clone();
            move || async move {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.await.ok();
                Ok(20)
            }
        };
        let first = counts.get_or_count(a, refresh);
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), first).await,
            Ok(Ok(10)),
            "the one that starts the refresh does not wait for it either"
        );
        let other = counts.get_or_count(a, {
            let calls = calls.clone();
            move || async move {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(30)
            }
        });
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), other).await,
            Ok(Ok(10)),
            "no wait, no second count: the figure is still fresh"
        );
        release.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while counts.fresh(a) != Some(20) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the refreshed figure is recorded");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_fresh_figure() {
        let counts = Arc::new(QuotaCounts::new(DATA_KEYS_FRESH_FOR));
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some(due_for_refresh());
        let (failed, refreshed) = tokio::sync::oneshot::channel::<()>();
        let refresh = move || async move {
            let _ = failed.send(());
            Err(down())
        };
        assert_eq!(counts.get_or_count(a, refresh).await, Ok(10));
        refreshed.await.expect("the refresh ran");
        let lock = counts.counts.lock().get(&a).unwrap().counting.clone();
        drop(tokio::time::timeout(Duration::from_secs(5), lock.lock()).await.expect("the refresh ended"));
        assert_eq!(counts.fresh(a), Some(10), "the figure is kept");
        assert!(counts.counts.lock().get(&a).unwrap().failed.is_none(), "a failed refresh fails no one waiting");
    }

    /// A count of 10 that started `ago`.
    fn ten_counted(ago: Duration) -> Count {
        Count { n: 10, made_before: 0, deleted_before: 0, at: Instant::now() - ago }
    }

    /// A data key count half a minute old and a second more: due for a refresh, fresh for 29 s.
    fn due_for_refresh() -> Count {
        ten_counted(DATA_KEYS_FRESH_FOR / 2 + Duration::from_secs(1))
    }

    #[tokio::test]
    async fn a_count_that_hangs_times_out() {
        let counts =
            Arc::new(QuotaCounts { count_timeout: Duration::from_millis(50), ..QuotaCounts::new(KEYS_FRESH_FOR) });
        let hangs = || std::future::pending::<Result<u64, StoreError>>();
        assert!(matches!(counts.get_or_count(AccountId(7), hangs).await, Err(StoreError::Unavailable(_))));
        assert_eq!(counts.get_or_count(AccountId(7), || async { Ok(3) }).await, Ok(3), "the account is not held up");
    }

    fn down() -> StoreError {
        StoreError::Unavailable("down".into())
    }

    #[tokio::test]
    async fn a_failed_count_is_not_kept() {
        let counts = Arc::new(QuotaCounts::new(KEYS_FRESH_FOR));
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
        let counts = Arc::new(QuotaCounts::new(KEYS_FRESH_FOR));
        let a = AccountId(7);
        assert_eq!(counts.get_or_count(a, || async { Err(down()) }).await, Err(down()));
        assert_eq!(counts.get_or_count(a, || async { Ok(5) }).await, Ok(5));
    }

    #[test]
    fn a_count_goes_stale() {
        let counts = QuotaCounts::new(KEYS_FRESH_FOR);
        let a = AccountId(7);
        counts.counts.lock().entry(a).or_default().count = Some(ten_counted(KEYS_FRESH_FOR));
        assert_eq!(counts.fresh(a), None);
    }
}
