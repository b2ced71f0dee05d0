//! Replay protection: remembers `(AccessKeyId, nonce)` pairs for a time window.
//!
//! Every Alibaba scheme carries a client nonce (`x-acs-signature-nonce` or `SignatureNonce`);
//! the server must refuse one seen within 15 minutes (`SignatureNonceUsed`, spec 3.3/3.4).

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};

use parking_lot::Mutex;

/// Longest nonce accepted.
pub const MAX_NONCE_LEN: usize = 128;

/// Longest AccessKeyId accepted.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 256;

/// Generations a window is split into: a pair is remembered for the window and at most one more
/// generation, and a lookup costs one probe per generation.
const GENERATIONS: i64 = 3;

/// The verdict on a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen within the window; now remembered.
    Fresh,
    /// Seen within the window (or malformed): a replay.
    Replayed,
    /// The cache is full: refuse the request rather than forget.
    Full,
}

/// Remembers `(AccessKeyId, nonce)` pairs for at least `window_secs`.
///
/// A pair is kept as a 64-bit keyed hash (a random key per process: nobody can aim collisions)
/// in a set per time generation, so an entry costs about 16 bytes and millions fit; whole
/// generations expire at once. The chance that a fresh nonce is taken for a replay is about
/// (entries / 2^64), under 10^-12 at full capacity.
///
/// When the cache holds `max_entries` pairs, new nonces are refused: refusing is safe,
/// forgetting would let replays through. Pairs are inserted only for verified requests.
#[derive(Debug)]
pub struct NonceCache {
    generation_secs: i64,
    max_entries: usize,
    hasher: std::collections::hash_map::RandomState,
    /// (generation number, pairs seen in it), oldest first.
    generations: Mutex<VecDeque<(i64, HashSet<u64>)>>,
}

impl NonceCache {
    /// A cache remembering pairs for at least `window_secs`, at most `max_entries` at once.
    pub fn new(window_secs: i64, max_entries: usize) -> Self {
        NonceCache {
            generation_secs: (window_secs.max(1) + GENERATIONS - 1) / GENERATIONS,
            max_entries,
            hasher: std::collections::hash_map::RandomState::new(),
            generations: Mutex::new(VecDeque::new()),
        }
    }

    /// Records the pair unless it was seen within the window, is malformed, or the cache is full.
    pub fn check_and_insert(&self, access_key_id: &str, nonce: &str, now: i64) -> NonceCheck {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
            return NonceCheck::Replayed;
        }
        let mut h = self.hasher.build_hasher();
        // Both parts hashed with their lengths, so distinct pairs never feed the same bytes.
        access_key_id.hash(&mut h);
        nonce.hash(&mut h);
        let key = h.finish();
        let current = now.div_euclid(self.generation_secs);
        let mut generations = self.generations.lock();
        // Keep the current generation and the GENERATIONS before it: at least a full window.
        while generations.front().is_some_and(|(g, _)| *g < current - GENERATIONS) {
            generations.pop_front();
        }
        if generations.iter().any(|(_, seen)| seen.contains(&key)) {
            return NonceCheck::Replayed;
        }
        if generations.iter().map(|(_, seen)| seen.len()).sum::<usize>() >= self.max_entries {
            return NonceCheck::Full;
        }
        match generations.back_mut() {
            Some((g, seen)) if *g >= current => {
                seen.insert(key);
            }
            _ => generations.push_back((current, HashSet::from([key]))),
        }
        NonceCheck::Fresh
    }

    /// Pairs remembered now.
    pub fn len(&self) -> usize {
        self.generations.lock().iter().map(|(_, seen)| seen.len()).sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_is_refused() {
        let c = NonceCache::new(900, 100);
        assert!(c.check_and_insert("ak", "n1", 1000) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n1", 1000) != NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n1", 1899) != NonceCheck::Fresh);
        // Same nonce, other key: independent.
        assert!(c.check_and_insert("ak2", "n1", 1000) == NonceCheck::Fresh);
        // No ambiguity between (ak, "1n") and (ak1, "n") style splits.
        assert!(c.check_and_insert("a", "kn1", 1000) == NonceCheck::Fresh);
    }

    #[test]
    fn expiry() {
        // Window 900 s in generations of 300 s: a pair is remembered for at least 900 s and
        // forgotten within 1200 s.
        let c = NonceCache::new(900, 100);
        assert!(c.check_and_insert("ak", "n1", 1000) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n2", 1500) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n1", 1899) != NonceCheck::Fresh, "still within the window");
        assert!(c.check_and_insert("ak", "n1", 2200) == NonceCheck::Fresh, "forgotten after window + one generation");
        assert!(c.check_and_insert("ak", "n1", 2201) != NonceCheck::Fresh, "re-accepted entry is remembered again");
        assert!(c.check_and_insert("ak", "n2", 2399) != NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n3", 3700) == NonceCheck::Fresh);
        assert_eq!(c.len(), 1, "old generations dropped");
    }

    #[test]
    fn full_cache_refuses_until_entries_expire() {
        let c = NonceCache::new(60, 3);
        assert!(c.check_and_insert("ak", "a", 0) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "b", 10) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "c", 20) == NonceCheck::Fresh);
        assert_eq!(c.check_and_insert("ak", "d", 30), NonceCheck::Full, "full of unexpired entries");
        assert_eq!(c.check_and_insert("ak", "a", 30), NonceCheck::Replayed, "still a replay");
        assert!(c.check_and_insert("ak", "d", 80) == NonceCheck::Fresh, "the first generation expired, room again");
        assert!(c.check_and_insert("ak", "d", 81) != NonceCheck::Fresh);
    }

    #[test]
    fn bad_nonces() {
        let c = NonceCache::new(900, 100);
        assert!(c.check_and_insert("ak", "", 0) != NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", &"x".repeat(MAX_NONCE_LEN + 1), 0) != NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", &"x".repeat(MAX_NONCE_LEN), 0) == NonceCheck::Fresh);
        assert!(c.check_and_insert(&"k".repeat(MAX_ACCESS_KEY_ID_LEN + 1), "n", 0) != NonceCheck::Fresh);
    }

    #[test]
    fn clock_going_backwards_is_safe() {
        let c = NonceCache::new(100, 10);
        assert!(c.check_and_insert("ak", "n", 1000) == NonceCheck::Fresh);
        assert!(c.check_and_insert("ak", "n", 990) != NonceCheck::Fresh);
    }

    #[test]
    fn shared_between_threads() {
        let c = std::sync::Arc::new(NonceCache::new(900, 100_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = std::sync::Arc::clone(&c);
                std::thread::spawn(move || {
                    (0..1000).filter(|i| c.check_and_insert("ak", &i.to_string(), 5) == NonceCheck::Fresh).count()
                })
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 1000, "each nonce accepted exactly once");
    }
}
