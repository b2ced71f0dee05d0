//! Memory of signed requests seen within their validity window, for replay protection: Alibaba
//! nonces (a nonce may be used once) and Tencent TC3 signatures (a signature stays bound to the
//! action it was first seen with, since the SDKs do not sign `X-TC-Action`).
//!
//! A request is remembered as a 64-bit keyed hash (a random key per process, so nobody can aim
//! collisions) plus a 32-bit *tag* that the caller gives meaning to (what it was used for, over
//! which connection), in the generation of its **signed timestamp**: a replay carries the same timestamp, so a lookup probes one
//! table, and an entry can be dropped once its timestamp is too old to pass the clock-skew check.
//!
//! Memory is bounded twice: each account may hold at most `share` entries (so one tenant cannot
//! use up everybody's room), and all accounts together at most `capacity`. A request that cannot
//! be remembered is refused: refusing is safe, forgetting would let replays through. Entries are
//! split over shards by hash, each with its own lock and its own part of both bounds, so the
//! tables stay small (no large resize spikes) and requests rarely wait on each other.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;
use parking_lot::Mutex;

use crate::model::AccountId;

const SHARDS: usize = 64;
/// Generations a skew window is split into (an entry lives up to one generation longer).
const GENERATIONS_PER_SKEW: i64 = 4;

/// What was seen of a request before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen within its window; now remembered with its tag.
    New,
    /// Seen within its window, first with this tag.
    Before(u32),
    /// Not seen, but the account's share or the total is used up: refuse the request.
    Full,
}

/// One remembered request, 12 bytes (13 with the table's control byte).
#[derive(Clone, Copy)]
#[repr(C, packed)]
struct Entry {
    hash: u64,
    tag: u32,
}

struct Generation {
    number: i64,
    entries: HashTable<Entry>,
    per_account: HashMap<AccountId, u32>,
}

#[derive(Default)]
struct Shard {
    generations: VecDeque<Generation>,
    per_account: HashMap<AccountId, usize>,
    total: usize,
}

/// The memory; see the module documentation.
pub struct SeenRequests {
    skew: i64,
    generation_secs: i64,
    shard_capacity: usize,
    shard_share: usize,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl std::fmt::Debug for SeenRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeenRequests").field("skew", &self.skew).field("len", &self.len()).finish_non_exhaustive()
    }
}

impl SeenRequests {
    /// Remembers requests whose timestamps pass a check of `skew` seconds; at most `capacity`
    /// entries, at most `share` of them one account's.
    pub fn new(skew: i64, capacity: usize, share: usize) -> Self {
        let skew = skew.max(1);
        let per_shard = |n: usize| n.div_ceil(SHARDS).max(1);
        Self {
            skew,
            generation_secs: (skew + GENERATIONS_PER_SKEW - 1) / GENERATIONS_PER_SKEW,
            shard_capacity: per_shard(capacity),
            shard_share: per_shard(share.min(capacity)),
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    /// The keyed hash of a request's identity (its parts are hashed with their lengths, so
    /// distinct tuples never feed the same bytes).
    pub fn identity(&self, parts: &[&[u8]]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for p in parts {
            h.write_usize(p.len());
            h.write(p);
        }
        h.finish()
    }

    /// Looks a request up and remembers it, with `tag`, if new. `timestamp` is the request's
    /// signed time, already checked to be within the skew of `now`.
    pub fn check(&self, account: AccountId, identity: u64, tag: u32, timestamp: i64, now: i64) -> Seen {
        let number = timestamp.div_euclid(self.generation_secs);
        let oldest_valid = (now - self.skew).div_euclid(self.generation_secs);
        if number < oldest_valid {
            // Too old to be valid: it would be refused anyway; nothing to remember.
            return Seen::Full;
        }
        let shard = &self.shards[(identity >> 58) as usize % SHARDS];
        let mut s = shard.lock();
        s.expire(oldest_valid);
        if let Some(g) = s.generations.iter().find(|g| g.number == number)
            && let Some(e) = g.entries.find(identity, |e| ({ e.hash }) == identity)
        {
            return Seen::Before(e.tag);
        }
        if s.total >= self.shard_capacity || s.per_account.get(&account).copied().unwrap_or(0) >= self.shard_share {
            return Seen::Full;
        }
        let at = match s.generations.iter().position(|g| g.number >= number) {
            Some(i) if s.generations[i].number == number => i,
            Some(i) => {
                s.generations.insert(i, Generation::new(number));
                i
            }
            None => {
                s.generations.push_back(Generation::new(number));
                s.generations.len() - 1
            }
        };
        let g = &mut s.generations[at];
        g.entries.insert_unique(identity, Entry { hash: identity, tag }, |e| e.hash);
        *g.per_account.entry(account).or_default() += 1;
        *s.per_account.entry(account).or_default() += 1;
        s.total += 1;
        Seen::New
    }

    /// Forgets a request remembered as new (its answer did nothing, so it may come again).
    pub fn forget(&self, account: AccountId, identity: u64, timestamp: i64) {
        let number = timestamp.div_euclid(self.generation_secs);
        let mut s = self.shards[(identity >> 58) as usize % SHARDS].lock();
        let Some(g) = s.generations.iter_mut().find(|g| g.number == number) else { return };
        let Ok(entry) = g.entries.find_entry(identity, |e| ({ e.hash }) == identity) else { return };
        entry.remove();
        if let Some(n) = g.per_account.get_mut(&account) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = s.per_account.get_mut(&account) {
            *n = n.saturating_sub(1);
        }
        s.total -= 1;
    }

    /// Drops what has expired in every shard (lookups expire only the shard they touch).
    pub fn sweep(&self, now: i64) {
        let oldest_valid = (now - self.skew).div_euclid(self.generation_secs);
        for shard in &self.shards {
            shard.lock().expire(oldest_valid);
        }
    }

    /// Entries remembered now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().total).sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Generation {
    fn new(number: i64) -> Self {
        Self { number, entries: HashTable::new(), per_account: HashMap::new() }
    }
}

impl Shard {
    /// Drops the generations whose every timestamp is older than the oldest still valid.
    fn expire(&mut self, oldest_valid: i64) {
        while self.generations.front().is_some_and(|g| g.number < oldest_valid) {
            let Some(g) = self.generations.pop_front() else { break };
            self.total -= g.entries.len();
            for (account, n) in g.per_account {
                if let Some(held) = self.per_account.get_mut(&account) {
                    *held -= n as usize;
                    if *held == 0 {
                        self.per_account.remove(&account);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: AccountId = AccountId(1);
    const B: AccountId = AccountId(2);

    #[test]
    fn resends_and_rebinding() {
        let m = SeenRequests::new(300, 1000, 1000);
        let id = m.identity(&[b"sig"]);
        assert_eq!(m.check(A, id, 7, 1000, 1000), Seen::New);
        assert_eq!(m.check(A, id, 7, 1000, 1001), Seen::Before(7));
        assert_eq!(m.check(A, id, 8, 1000, 1002), Seen::Before(7), "the first tag stays");
        assert_eq!(m.check(A, m.identity(&[b"sig2"]), 8, 1000, 1002), Seen::New);
        assert_ne!(m.identity(&[b"ab", b"c"]), m.identity(&[b"a", b"bc"]));
    }

    #[test]
    fn kept_while_the_timestamp_is_valid_then_dropped() {
        let m = SeenRequests::new(300, 1000, 1000);
        let id = m.identity(&[b"x"]);
        assert_eq!(m.check(A, id, 1, 1000, 1000), Seen::New);
        // Still valid at 1000 + 300: still remembered.
        assert_eq!(m.check(A, id, 2, 1000, 1300), Seen::Before(1));
        // A fresh request much later expires the old generation.
        assert_eq!(m.check(A, m.identity(&[b"y"]), 1, 2000, 2000), Seen::New);
        m.sweep(2000);
        assert_eq!(m.len(), 1);
        // The old one is refused as too old rather than accepted as new.
        assert_eq!(m.check(A, id, 1, 1000, 2000), Seen::Full);
    }

    #[test]
    fn a_sweep_empties_every_shard_without_new_requests() {
        let m = SeenRequests::new(300, 100_000, 100_000);
        for i in 0..5_000u32 {
            let account = AccountId(u64::from(i % 7));
            assert_eq!(m.check(account, m.identity(&[&i.to_be_bytes()]), 0, 1000, 1000), Seen::New);
        }
        let touched = m.shards.iter().filter(|s| s.lock().total > 0).count();
        assert_eq!(touched, SHARDS, "entries in every shard");
        m.sweep(1300);
        assert_eq!(m.len(), 5_000, "still valid at 1000 + skew: kept");
        // Later, with no request in between: one sweep drops them all, tables and per-account
        // counts included.
        m.sweep(1000 + 300 + 2 * m.generation_secs);
        assert!(m.is_empty());
        for s in &m.shards {
            let s = s.lock();
            assert!(s.generations.is_empty() && s.per_account.is_empty(), "a shard kept expired state");
        }
    }

    #[test]
    fn timestamps_from_the_future_are_kept_until_they_expire() {
        let m = SeenRequests::new(300, 1000, 1000);
        let id = m.identity(&[b"f"]);
        assert_eq!(m.check(A, id, 1, 1300, 1000), Seen::New);
        assert_eq!(m.check(A, id, 2, 1300, 1550), Seen::Before(1), "valid until 1600");
    }

    #[test]
    fn one_account_cannot_use_up_another_accounts_room() {
        // Shares are per shard: with 64 shards, a share of 640 is 10 per shard.
        let m = SeenRequests::new(300, 64 * 100, 64 * 10);
        let mut full = 0;
        for i in 0..20_000u32 {
            if m.check(A, m.identity(&[&i.to_be_bytes()]), 0, 1000, 1000) == Seen::Full {
                full += 1;
            }
        }
        assert!(full > 0, "A's share runs out");
        assert!(m.len() <= 64 * 10);
        for i in 0..100u32 {
            let id = m.identity(&[b"b", &i.to_be_bytes()]);
            assert_eq!(m.check(B, id, 0, 1000, 1000), Seen::New, "B has its own share");
        }
    }

    #[test]
    fn the_total_is_bounded_and_room_comes_back_as_entries_expire() {
        let m = SeenRequests::new(60, 64, 64);
        let mut accepted = 0;
        for i in 0..10_000u32 {
            let account = AccountId(u64::from(i));
            if m.check(account, m.identity(&[&i.to_be_bytes()]), 0, 0, 0) == Seen::New {
                accepted += 1;
            }
        }
        assert!(accepted <= 64 && accepted > 0, "{accepted}");
        let later = m.identity(&[b"later"]);
        assert_eq!(m.check(A, later, 0, 1000, 1000), Seen::New, "room again after expiry");
    }

    #[test]
    fn shared_between_threads() {
        let m = std::sync::Arc::new(SeenRequests::new(300, 1_000_000, 1_000_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let m = std::sync::Arc::clone(&m);
                std::thread::spawn(move || {
                    (0..2000u32).filter(|i| m.check(A, m.identity(&[&i.to_be_bytes()]), 0, 5, 5) == Seen::New).count()
                })
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 2000, "each request accepted exactly once");
    }
}
