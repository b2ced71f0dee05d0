//! Replay protection: remembers `(AccessKeyId, nonce)` pairs for a time window.
//!
//! Every Alibaba scheme carries a client nonce (`x-acs-signature-nonce` or `SignatureNonce`);
//! the server must refuse one seen within 15 minutes (`SignatureNonceUsed`, spec 3.3/3.4).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::Mutex;

/// Longest nonce accepted.
pub const MAX_NONCE_LEN: usize = 128;

/// Longest AccessKeyId accepted.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 256;

/// Remembers `(AccessKeyId, nonce)` pairs for `window_secs`.
///
/// A pair is kept as a 64-bit keyed hash (a random key per process: nobody can aim collisions),
/// so an entry costs about 30 bytes and millions fit. The chance that a fresh nonce is taken for
/// a replay is about (entries / 2^64), under 10^-12 at full capacity.
///
/// When the cache holds `max_entries` unexpired pairs, new nonces are refused: refusing is safe,
/// forgetting would let replays through. Pairs are inserted only for verified requests.
#[derive(Debug)]
pub struct NonceCache {
    window_secs: i64,
    max_entries: usize,
    hasher: std::collections::hash_map::RandomState,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashMap<u64, i64>,
    order: VecDeque<(i64, u64)>,
}

impl NonceCache {
    /// A cache remembering pairs for `window_secs`, at most `max_entries` at once.
    pub fn new(window_secs: i64, max_entries: usize) -> Self {
        NonceCache {
            window_secs: window_secs.max(0),
            max_entries,
            hasher: std::collections::hash_map::RandomState::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records the pair; false if it was seen within the window (a replay), is malformed, or the
    /// cache is full.
    pub fn check_and_insert(&self, access_key_id: &str, nonce: &str, now: i64) -> bool {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
            return false;
        }
        let mut h = self.hasher.build_hasher();
        // Both parts hashed with their lengths, so distinct pairs never feed the same bytes.
        access_key_id.hash(&mut h);
        nonce.hash(&mut h);
        let key = h.finish();
        let mut inner = self.inner.lock();
        inner.prune(now, self.window_secs);
        if let Some(&at) = inner.seen.get(&key)
            && self.live(at, now)
        {
            return false;
        }
        // An expired entry that is still in the map (clock went backwards) is simply replaced.
        if inner.seen.len() >= self.max_entries && !inner.seen.contains_key(&key) {
            return false;
        }
        inner.seen.insert(key, now);
        inner.order.push_back((now, key));
        true
    }

    /// Pairs remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn live(&self, at: i64, now: i64) -> bool {
        now.saturating_sub(at) < self.window_secs
    }
}

impl Inner {
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
        let c = std::sync::Arc::new(NonceCache::new(900, 100_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = std::sync::Arc::clone(&c);
                std::thread::spawn(move || (0..1000).filter(|i| c.check_and_insert("ak", &i.to_string(), 5)).count())
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 1000, "each nonce accepted exactly once");
    }
}
