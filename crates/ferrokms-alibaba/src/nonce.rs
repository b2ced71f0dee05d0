//! Replay protection: remembers `(AccessKeyId, nonce)` pairs for a time window.
//!
//! Every Alibaba scheme carries a client nonce (`x-acs-signature-nonce` or `SignatureNonce`);
//! the server must refuse one seen within 15 minutes (`SignatureNonceUsed`, spec 3.3/3.4).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

/// Longest nonce accepted, in bytes. The SDKs send 32 hex characters or a UUID.
pub const MAX_NONCE_LEN: usize = 128;

/// Longest AccessKeyId accepted, in bytes.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 256;

/// A bounded, thread-safe set of recently seen `(AccessKeyId, nonce)` pairs.
///
/// Each pair is remembered for `window_secs` after it was first accepted. Choose the window so
/// that a request cannot outlive its nonce: with a timestamp tolerance of ±S seconds a request
/// stays acceptable for 2·S seconds, so the window must be at least `2 * S` (1800 for the usual
/// ±15 minutes).
///
/// The cache holds at most `max_entries` unexpired pairs. When it is full it **refuses** new
/// nonces (`check_and_insert` returns `false`) rather than forgetting unexpired ones, because
/// evicting early would let a flood of requests push a captured nonce out and replay it. Only
/// insert after the signature has been verified, so that only key holders can fill the cache.
///
/// Lookups and inserts are O(1) amortised: a hash map for membership plus a queue in insertion
/// order for expiry.
#[derive(Debug)]
pub struct NonceCache {
    window_secs: i64,
    max_entries: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Key → time it was accepted.
    seen: HashMap<Arc<str>, i64>,
    /// (time accepted, key), oldest first.
    order: VecDeque<(i64, Arc<str>)>,
}

impl NonceCache {
    /// A cache remembering nonces for `window_secs` seconds (negative counts as 0), holding at
    /// most `max_entries` of them.
    pub fn new(window_secs: i64, max_entries: usize) -> Self {
        NonceCache { window_secs: window_secs.max(0), max_entries, inner: Mutex::new(Inner::default()) }
    }

    /// Records `nonce` for `access_key_id` at `now` (Unix seconds) and returns `true` if it is
    /// fresh; returns `false` if the pair was already seen within the window (a replay), if the
    /// nonce is empty or longer than [`MAX_NONCE_LEN`], if the AccessKeyId is longer than
    /// [`MAX_ACCESS_KEY_ID_LEN`], or if the cache is full of unexpired entries.
    pub fn check_and_insert(&self, access_key_id: &str, nonce: &str, now: i64) -> bool {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
            return false;
        }
        // Length-prefixed so that distinct pairs can never produce the same key.
        let key = format!("{}:{access_key_id}{nonce}", access_key_id.len());
        let mut inner = self.inner.lock();
        inner.prune(now, self.window_secs);
        if let Some(&at) = inner.seen.get(key.as_str())
            && self.live(at, now)
        {
            return false;
        }
        // An expired entry that is still in the map (clock went backwards) is simply replaced.
        if inner.seen.len() >= self.max_entries && !inner.seen.contains_key(key.as_str()) {
            return false;
        }
        let key: Arc<str> = Arc::from(key);
        inner.seen.insert(Arc::clone(&key), now);
        inner.order.push_back((now, key));
        true
    }

    /// Number of pairs currently held (including ones that expired since the last insert).
    pub fn len(&self) -> usize {
        self.inner.lock().seen.len()
    }

    /// Whether no pairs are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn live(&self, at: i64, now: i64) -> bool {
        now.saturating_sub(at) < self.window_secs
    }
}

impl Inner {
    /// Drops entries accepted `window` or more seconds before `now`.
    fn prune(&mut self, now: i64, window: i64) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_sub(*at) < window {
                break;
            }
            let Some((at, key)) = self.order.pop_front() else { break };
            // The key may have been re-accepted later (after expiring); keep that newer entry.
            if self.seen.get(&key) == Some(&at) {
                self.seen.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_refused() {
        let c = NonceCache::new(900, 100);
        assert!(c.check_and_insert("ak", "n1", 1000));
        assert!(!c.check_and_insert("ak", "n1", 1000));
        assert!(!c.check_and_insert("ak", "n1", 1899));
        // Same nonce, other key: independent.
        assert!(c.check_and_insert("ak2", "n1", 1000));
        // No ambiguity between (ak, "1n") and (ak1, "n") style splits.
        assert!(c.check_and_insert("a", "kn1", 1000));
    }

    #[test]
    fn expiry() {
        let c = NonceCache::new(900, 100);
        assert!(c.check_and_insert("ak", "n1", 1000));
        assert!(c.check_and_insert("ak", "n2", 1500));
        assert!(c.check_and_insert("ak", "n1", 1900), "expired after the window");
        assert_eq!(c.len(), 2);
        assert!(!c.check_and_insert("ak", "n1", 1901), "re-accepted entry is remembered again");
        assert!(!c.check_and_insert("ak", "n2", 2399));
        assert!(c.check_and_insert("ak", "n3", 2800));
        assert_eq!(c.len(), 1, "n1 (1900) and n2 (1500) pruned");
    }

    #[test]
    fn full_cache_refuses_until_entries_expire() {
        let c = NonceCache::new(60, 3);
        assert!(c.check_and_insert("ak", "a", 0));
        assert!(c.check_and_insert("ak", "b", 10));
        assert!(c.check_and_insert("ak", "c", 20));
        assert!(!c.check_and_insert("ak", "d", 30), "full of unexpired entries");
        assert!(!c.check_and_insert("ak", "a", 30), "still a replay");
        assert!(c.check_and_insert("ak", "d", 60), "`a` expired, room again");
        assert!(!c.check_and_insert("ak", "b", 60));
    }

    #[test]
    fn bad_nonces() {
        let c = NonceCache::new(900, 100);
        assert!(!c.check_and_insert("ak", "", 0));
        assert!(!c.check_and_insert("ak", &"x".repeat(MAX_NONCE_LEN + 1), 0));
        assert!(c.check_and_insert("ak", &"x".repeat(MAX_NONCE_LEN), 0));
        assert!(!c.check_and_insert(&"k".repeat(MAX_ACCESS_KEY_ID_LEN + 1), "n", 0));
    }

    #[test]
    fn clock_going_backwards_is_safe() {
        let c = NonceCache::new(100, 10);
        assert!(c.check_and_insert("ak", "n", 1000));
        assert!(!c.check_and_insert("ak", "n", 990));
    }

    #[test]
    fn shared_between_threads() {
        let c = Arc::new(NonceCache::new(900, 100_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || (0..1000).filter(|i| c.check_and_insert("ak", &i.to_string(), 5)).count())
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 1000, "each nonce accepted exactly once");
    }
}
