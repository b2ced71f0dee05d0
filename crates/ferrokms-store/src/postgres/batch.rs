//! The group commit's batches on PostgreSQL: one multi-row insert of the data keys (`ON
//! CONFLICT DO NOTHING ... RETURNING id`: a failed statement would abort the whole transaction,
//! so conflicts are skipped, not raised), one multi-row insert of their tags, one commit.

use std::collections::HashSet;

use async_trait::async_trait;
use ferrokms_core::model::{DataKeyRecord, Tag};
use ferrokms_core::store::{Conflict, StoreError};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::map_err;
use crate::group_commit::{BatchInsert, all_failed};
use crate::rows::i;

/// Rows of one tags statement (4 parameters each; PostgreSQL takes up to 65535).
const TAG_ROWS: usize = 8192;

pub(super) struct Batches(pub(super) PgPool);

#[async_trait]
impl BatchInsert for Batches {
    async fn insert_batch(&self, batch: &[DataKeyRecord]) -> Vec<Result<(), StoreError>> {
        match insert(&self.0, batch).await {
            Ok(results) => results,
            // Whatever failed the statement (one member the database refuses, a deadlock with
            // another node's batch), the others must not fail with it: each is tried alone.
            Err(_) if batch.len() > 1 => {
                let mut results = Vec::with_capacity(batch.len());
                for r in batch {
                    results.push(match insert(&self.0, std::slice::from_ref(r)).await {
                        Ok(mut one) => one.pop().unwrap_or(Err(StoreError::Unavailable("no result".into()))),
                        Err(e) => Err(e),
                    });
                }
                results
            }
            Err(e) => all_failed(batch, &e),
        }
    }
}

async fn insert(pool: &PgPool, batch: &[DataKeyRecord]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    // A member repeating the id of an earlier member is a duplicate before anything is tried
    // (RETURNING names rows by id, so two members with one id could not be told apart).
    let mut seen = HashSet::new();
    let fresh: Vec<bool> = batch.iter().map(|r| seen.insert(r.id)).collect();
    let mut tried: Vec<&DataKeyRecord> = batch.iter().zip(&fresh).filter(|(_, f)| **f).map(|(r, _)| r).collect();
    // Every node's batches take the unique names' locks in one order, so two batches racing for
    // the same names wait for each other instead of deadlocking.
    tried.sort_by(|a, b| (a.account.0, &a.region.0, &a.name, a.id).cmp(&(b.account.0, &b.region.0, &b.name, b.id)));

    let mut tx = pool.begin().await.map_err(map_err)?;
    let mut q = QueryBuilder::<Postgres>::new(
        "INSERT INTO data_keys (id, account_id, region, key_id, name, description, number_of_bytes, origin, state, \
         created_at, deletion_date, ciphertext, context, revision) ",
    );
    q.push_values(&tried, |mut b, r| {
        b.push_bind(r.id.to_string())
            .push_bind(i(r.account.0))
            .push_bind(r.region.0.clone())
            .push_bind(r.key_id.to_string())
            .push_bind(r.name.clone())
            .push_bind(r.description.clone())
            .push_bind(i64::from(r.number_of_bytes))
            .push_bind(r.origin.as_str())
            .push_bind(r.state.as_str())
            .push_bind(i(r.created_at))
            .push_bind(i(r.deletion_date))
            .push_bind(r.ciphertext.clone())
            .push_bind(r.context.clone())
            .push_bind(i(r.revision));
    });
    q.push(" ON CONFLICT DO NOTHING RETURNING id");
    let inserted: HashSet<String> =
        q.build_query_scalar::<String>().fetch_all(&mut *tx).await.map_err(map_err)?.into_iter().collect();

    // What kept the others out: their id taken (by a stored row), else their name.
    let refused: Vec<String> = tried.iter().map(|r| r.id.to_string()).filter(|id| !inserted.contains(id)).collect();
    let taken_ids: HashSet<String> = if refused.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar("SELECT id FROM data_keys WHERE id = ANY($1)")
            .bind(&refused)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .collect()
    };

    let tags: Vec<(&DataKeyRecord, &Tag)> = tried
        .iter()
        .filter(|r| inserted.contains(&r.id.to_string()))
        .flat_map(|r| r.tags.iter().map(move |t| (*r, t)))
        .collect();
    for chunk in tags.chunks(TAG_ROWS) {
        let mut q = QueryBuilder::<Postgres>::new("INSERT INTO tags (account_id, resource_id, tag_key, tag_value) ");
        q.push_values(chunk, |mut b, (r, t)| {
            b.push_bind(i(r.account.0)).push_bind(r.id.to_string()).push_bind(t.key.clone()).push_bind(t.value.clone());
        });
        q.build().execute(&mut *tx).await.map_err(map_err)?;
    }
    tx.commit().await.map_err(map_err)?;

    Ok(batch
        .iter()
        .zip(&fresh)
        .map(|(r, fresh)| {
            let id = r.id.to_string();
            if !fresh || taken_ids.contains(&id) && !inserted.contains(&id) {
                Err(StoreError::Conflict(Conflict::Duplicate))
            } else if inserted.contains(&id) {
                Ok(())
            } else {
                Err(StoreError::Conflict(Conflict::DataKeyName))
            }
        })
        .collect())
}
