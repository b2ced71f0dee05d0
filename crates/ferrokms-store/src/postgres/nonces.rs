//! Alibaba signature nonces shared by every node, claimed in batches: one statement for all the
//! nonces that arrive while the previous batch commits, where one insert per request held every
//! Alibaba request to the rate of PostgreSQL's commits (~4.5k/s here, against ~20-30k/s on one
//! SQLite node, which keeps its nonces in memory only). A claim is durable before its request
//! goes on, as everything else the store acknowledges: committing the batches without waiting
//! for the WAL flush was up to 25% faster at 16 connections and no faster at 64, and would let a
//! PostgreSQL crash forget the nonces of its last moments (docs/benchmarks.md).

use std::collections::HashSet;

use async_trait::async_trait;
use ferrokms_core::model::AccountId;
use ferrokms_core::store::StoreError;
use sqlx::Postgres;

use super::map_err;
use crate::group_commit::{BatchInsert, Failed, Held};
use crate::rows::i;

/// One request's nonce: `account`'s, remembered until `expires_at`.
pub(super) struct Claim {
    pub(super) account: AccountId,
    pub(super) nonce: Vec<u8>,
    pub(super) expires_at: u64,
}

pub(super) struct Claims(pub(super) Held<Postgres>);

/// A row left by an expired nonce (not purged yet) is taken over; a live one keeps the new
/// claim out. The rows returned are the claims that were taken.
const CLAIM: &str = "INSERT INTO nonces (account_id, nonce, expires_at) \
     SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::int8[]) \
     ON CONFLICT (account_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
     WHERE nonces.expires_at < EXTRACT(EPOCH FROM clock_timestamp())::BIGINT \
     RETURNING account_id, nonce";

#[async_trait]
impl BatchInsert for Claims {
    type Item = Claim;
    /// Whether the nonce was fresh across the cluster.
    type Done = bool;

    const IN_FLIGHT: usize = 1;

    /// A failed batch fails all its members with a retryable error: no member can make the
    /// statement fail alone (`ON CONFLICT`, no repeats), and a member retried alone after a
    /// commit whose answer was lost would find its own row and be told it is a replay.
    async fn insert(&self, batch: &[Claim]) -> Result<Vec<Result<bool, StoreError>>, Failed> {
        // A nonce twice in one batch: the first claims it, the others are its replays (and one
        // statement may not update a row twice).
        let mut seen = HashSet::with_capacity(batch.len());
        let tried: Vec<bool> = batch.iter().map(|c| seen.insert((c.account.0, c.nonce.as_slice()))).collect();
        let mut rows: Vec<&Claim> = batch.iter().zip(&tried).filter(|(_, t)| **t).map(|(c, _)| c).collect();
        // One order on every node, so that batches racing for the same nonces (a replay sent
        // to two nodes at once) wait for each other instead of deadlocking.
        rows.sort_by(|a, b| (a.account.0, &a.nonce).cmp(&(b.account.0, &b.nonce)));

        let claimed: Vec<(i64, Vec<u8>)> = self
            .0
            .run(async |conn| {
                let claimed = sqlx::query_as(CLAIM)
                    .bind(rows.iter().map(|c| i(c.account.0)).collect::<Vec<_>>())
                    .bind(rows.iter().map(|c| c.nonce.as_slice()).collect::<Vec<_>>())
                    .bind(rows.iter().map(|c| i(c.expires_at)).collect::<Vec<_>>())
                    .fetch_all(conn)
                    .await
                    .map_err(|e| Failed::whole(map_err(e)))?;
                Ok((claimed, true))
            })
            .await?;
        let claimed: HashSet<(i64, &[u8])> = claimed.iter().map(|(a, n)| (*a, n.as_slice())).collect();
        Ok(batch
            .iter()
            .zip(&tried)
            .map(|(c, tried)| Ok(*tried && claimed.contains(&(i(c.account.0), c.nonce.as_slice()))))
            .collect())
    }

    fn close(&self) {
        self.0.close();
    }
}
