//! Replay protection: a `(AccessKeyId, nonce)` pair may be used once while its timestamp is valid.
//!
//! Every Alibaba scheme carries a client nonce (`x-acs-signature-nonce` or `SignatureNonce`);
//! the server must refuse one seen within the window (`SignatureNonceUsed`, spec 3.3/3.4). The
//! memory is [`SeenRequests`]: bounded in total and per account, so one tenant's traffic never
//! refuses another tenant's requests.

use ferrokms_core::model::AccountId;
use ferrokms_core::replay::{Seen, SeenRequests};

/// Longest nonce accepted.
pub const MAX_NONCE_LEN: usize = 128;

/// Longest AccessKeyId accepted.
pub const MAX_ACCESS_KEY_ID_LEN: usize = 256;

/// The verdict on a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen within the window; now remembered.
    Fresh,
    /// Seen within the window (or malformed): a replay.
    Replayed,
    /// The account's share of the memory (or the whole) is in use: refuse rather than forget.
    Full,
}

/// A claim on a nonce, to give back if the request turns out to do nothing.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    identity: u64,
    account: AccountId,
    timestamp: i64,
}

/// Remembers nonces for the skew window around their signed timestamp.
#[derive(Debug)]
pub struct Nonces {
    seen: SeenRequests,
}

impl Nonces {
    /// Nonces of requests within `skew` seconds; at most `capacity` remembered, `share` per account.
    pub fn new(skew: i64, capacity: usize, share: usize) -> Self {
        Self { seen: SeenRequests::new(skew, capacity, share) }
    }

    /// Records the pair unless it was seen while valid, is malformed, or there is no room.
    pub fn check_and_insert(
        &self,
        account: AccountId,
        access_key_id: &str,
        nonce: &str,
        timestamp: i64,
        now: i64,
    ) -> (NonceCheck, Option<Claim>) {
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || access_key_id.len() > MAX_ACCESS_KEY_ID_LEN {
            return (NonceCheck::Replayed, None);
        }
        let identity = self.seen.identity(&[access_key_id.as_bytes(), nonce.as_bytes()]);
        match self.seen.check(account, identity, 0, timestamp, now) {
            Seen::New => (NonceCheck::Fresh, Some(Claim { identity, account, timestamp })),
            Seen::Before(_) => (NonceCheck::Replayed, None),
            Seen::Full => (NonceCheck::Full, None),
        }
    }

    /// Gives a nonce back: its request was answered without doing anything (an action
    /// ferrokms does not implement), so it need not use up room.
    pub fn release(&self, claim: Claim) {
        self.seen.forget(claim.account, claim.identity, claim.timestamp);
    }

    /// Drops the pairs whose timestamps have expired by `now`.
    pub fn sweep(&self, now: i64) {
        self.seen.sweep(now);
    }

    /// Pairs remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: AccountId = AccountId(1);

    fn fresh(n: &Nonces, ak: &str, nonce: &str, ts: i64, now: i64) -> bool {
        n.check_and_insert(A, ak, nonce, ts, now).0 == NonceCheck::Fresh
    }

    #[test]
    fn replay_is_refused() {
        let c = Nonces::new(900, 100, 100);
        assert!(fresh(&c, "ak", "n1", 1000, 1000));
        assert!(!fresh(&c, "ak", "n1", 1000, 1000));
        assert!(!fresh(&c, "ak", "n1", 1000, 1899));
        assert!(fresh(&c, "ak2", "n1", 1000, 1000), "same nonce, other key: independent");
        assert!(fresh(&c, "a", "kn1", 1000, 1000), "no ambiguity between splits");
    }

    #[test]
    fn released_nonces_can_be_used_again() {
        let c = Nonces::new(900, 100, 100);
        let (check, claim) = c.check_and_insert(A, "ak", "n", 1000, 1000);
        assert_eq!(check, NonceCheck::Fresh);
        c.release(claim.unwrap());
        assert!(c.is_empty());
        assert!(fresh(&c, "ak", "n", 1000, 1001));
    }

    #[test]
    fn bad_nonces() {
        let c = Nonces::new(900, 100, 100);
        assert!(!fresh(&c, "ak", "", 0, 0));
        assert!(!fresh(&c, "ak", &"x".repeat(MAX_NONCE_LEN + 1), 0, 0));
        assert!(fresh(&c, "ak", &"x".repeat(MAX_NONCE_LEN), 0, 0));
        assert!(!fresh(&c, &"k".repeat(MAX_ACCESS_KEY_ID_LEN + 1), "n", 0, 0));
    }

    #[test]
    fn one_account_filling_its_share_does_not_refuse_another() {
        let c = Nonces::new(900, 64 * 100, 64 * 10);
        let full = (0..20_000).filter(|i| c.check_and_insert(A, "a", &i.to_string(), 0, 0).0 == NonceCheck::Full);
        assert!(full.count() > 0);
        for i in 0..100 {
            assert_eq!(c.check_and_insert(AccountId(2), "b", &i.to_string(), 0, 0).0, NonceCheck::Fresh);
        }
    }
}
