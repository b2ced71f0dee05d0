//! A per-account cap on concurrent listings: the most expensive reads a tenant can ask for, so
//! one tenant holds at most a few of the store's read connections at any time.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::model::AccountId;
use crate::{Error, Result};

/// Counts the listings each account is running.
#[derive(Debug)]
pub(super) struct ListingGate {
    max_per_account: usize,
    running: Mutex<HashMap<AccountId, usize>>,
}

/// One running listing; leaving frees the turn, also when the request is cancelled.
pub(super) struct Turn<'a> {
    gate: &'a ListingGate,
    account: AccountId,
}

impl ListingGate {
    pub(super) fn new(max_per_account: usize) -> Self {
        Self { max_per_account: max_per_account.max(1), running: Mutex::new(HashMap::new()) }
    }

    /// A turn for `account`, or [`Error::Busy`] if it already runs its share.
    pub(super) fn enter(&self, account: AccountId) -> Result<Turn<'_>> {
        let mut running = self.running.lock();
        let n = running.entry(account).or_default();
        if *n >= self.max_per_account {
            return Err(Error::Busy(format!(
                "this account already runs {} listings at once; retry when one has finished",
                self.max_per_account
            )));
        }
        *n += 1;
        Ok(Turn { gate: self, account })
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut running = self.gate.running.lock();
        if let Some(n) = running.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_has_its_own_share() {
        let gate = ListingGate::new(2);
        let (a, b) = (AccountId(1), AccountId(2));
        let t1 = gate.enter(a).unwrap();
        let _t2 = gate.enter(a).unwrap();
        assert!(matches!(gate.enter(a), Err(Error::Busy(_))), "a third at once is refused");
        let _u = gate.enter(b).expect("another account is not affected");
        drop(t1);
        let _t3 = gate.enter(a).expect("a finished listing frees its turn");
        assert!(gate.enter(a).is_err());
    }

    #[test]
    fn idle_accounts_are_forgotten() {
        let gate = ListingGate::new(1);
        drop(gate.enter(AccountId(7)).unwrap());
        assert!(gate.running.lock().is_empty());
    }
}
