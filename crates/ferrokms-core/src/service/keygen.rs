//! Key generation, fairly shared. An RSA key pair costs 50-300 ms of one core, so a tenant
//! creating RSA keys (or import wrapping keys) at its full request quota could occupy every
//! core. Generation runs on the blocking pool, at most one at a time per account and at most
//! half the cores at once overall, in arrival order; the permits travel with the work, so a
//! client that hangs up does not free its slot before the work is done.

use std::collections::HashMap;
use std::sync::Arc;

use ferrokms_crypto::key::KeyKind;
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::model::AccountId;
use crate::{Error, Result};

pub(super) struct KeyGenGate {
    overall: Arc<Semaphore>,
    accounts: Mutex<HashMap<AccountId, Arc<Semaphore>>>,
}

impl KeyGenGate {
    pub(super) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { overall: Arc::new(Semaphore::new((cores / 2).max(1))), accounts: Mutex::new(HashMap::new()) }
    }

    /// Fresh material of `kind` for `account`.
    pub(super) async fn generate(&self, account: AccountId, kind: KeyKind) -> Result<Zeroizing<Vec<u8>>> {
        if !matches!(kind, KeyKind::Rsa2048 | KeyKind::Rsa3072) {
            return Ok(kind.generate()?);
        }
        let mine = self.accounts.lock().entry(account).or_insert_with(|| Arc::new(Semaphore::new(1))).clone();
        let closed = |_| Error::internal("key generation gate closed");
        let turn = mine.clone().acquire_owned().await.map_err(closed)?;
        let slot = self.overall.clone().acquire_owned().await.map_err(closed)?;
        let work = tokio::task::spawn_blocking(move || {
            let out = kind.generate();
            drop((slot, turn));
            out
        });
        let out = work.await.map_err(|_| Error::internal("key generation was cancelled"))?;
        let mut accounts = self.accounts.lock();
        // The map's and this call's references: nobody else waits for this account.
        if Arc::strong_count(&mine) == 2 {
            accounts.remove(&account);
        }
        Ok(out?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cheap_kinds_skip_the_gate_and_the_map_empties() {
        let gate = KeyGenGate::new();
        let k = gate.generate(AccountId(1), KeyKind::EcP256).await.unwrap();
        assert!(!k.is_empty());
        let k = gate.generate(AccountId(1), KeyKind::Rsa2048).await.unwrap();
        assert!(k.len() > 1000, "PKCS#8 of an RSA-2048 key");
        assert!(gate.accounts.lock().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_account_runs_one_generation_at_a_time() {
        let gate = Arc::new(KeyGenGate::new());
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..3 {
            let (gate, running) = (gate.clone(), running.clone());
            tasks.push(tokio::spawn(async move {
                gate.generate(AccountId(7), KeyKind::Rsa2048).await.unwrap();
                running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        // While they queue, the account's one permit is taken and the others wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let permits = loop {
            if let Some(s) = gate.accounts.lock().get(&AccountId(7)) {
                break s.available_permits();
            }
            assert!(std::time::Instant::now() < deadline, "the generations never started");
            tokio::task::yield_now().await;
        };
        assert_eq!(permits, 0);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(running.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
