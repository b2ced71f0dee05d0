//! The group commit's batches on PostgreSQL: one statement per batch, its own transaction. The
//! data keys are inserted from arrays (`UNNEST`: the statement's text is the same for every
//! batch size, so it is prepared once per connection), with `ON CONFLICT DO NOTHING ...
//! RETURNING id` (a raised conflict would fail the whole batch), and their tags by a second
//! insert in the same statement that takes only the rows that were inserted. One round trip and
//! one commit, with no `BEGIN` and `COMMIT` of their own.

use std::collections::HashSet;

use async_trait::async_trait;
use ferrokms_core::model::DataKeyRecord;
use ferrokms_core::store::StoreError;
use sqlx::{PgConnection, Postgres};

use super::map_err;
use crate::group_commit::{BatchInsert, Failed, Held, first_of_each_id, outcomes};
use crate::rows::i;

pub(super) struct Batches(pub(super) Held<Postgres>);

const INSERT: &str = "WITH inserted AS (\
     INSERT INTO data_keys (id, account_id, region, key_id, name, description, number_of_bytes, origin, state, \
     created_at, deletion_date, ciphertext, context, revision) \
     SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], \
     $8::text[], $9::text[], $10::int8[], $11::int8[], $12::bytea[], $13::bytea[], $14::int8[]) \
     ON CONFLICT DO NOTHING RETURNING id), \
     tagged AS (\
     INSERT INTO tags (account_id, resource_id, tag_key, tag_value) \
     SELECT t.account_id, t.resource_id, t.tag_key, t.tag_value \
     FROM UNNEST($15::int8[], $16::text[], $17::text[], $18::text[]) AS t(account_id, resource_id, tag_key, tag_value) \
     WHERE t.resource_id IN (SELECT id FROM inserted)) \
     SELECT id FROM inserted";

#[async_trait]
impl BatchInsert for Batches {
    type Item = DataKeyRecord;
    type Done = ();

    /// One batch commits while the next gathers. Measured on one node with 2 cores, with the
    /// writer keeping its connection: 1 in flight beat 2 in every sample, by 3-50% at 16
    /// connections and 6-11% at 64 (docs/benchmarks.md); a second batch in flight only took CPU
    /// from the requests that fill the next one.
    const IN_FLIGHT: usize = 1;

    async fn insert(&self, batch: &[DataKeyRecord]) -> Result<Vec<Result<(), StoreError>>, Failed> {
        self.0.run(async |conn| insert_on(conn, batch).await).await
    }

    fn close(&self) {
        self.0.close();
    }
}

/// [`BatchInsert::insert`] on `conn`; the flag is false when a statement failed after the
/// commit (the connection is not kept).
async fn insert_on(
    conn: &mut PgConnection,
    batch: &[DataKeyRecord],
) -> Result<(Vec<Result<(), StoreError>>, bool), Failed> {
    let tried = first_of_each_id(batch);
    let mut rows: Vec<&DataKeyRecord> = batch.iter().zip(&tried).filter(|(_, t)| **t).map(|(r, _)| r).collect();
    // Every node's batches take the unique names' locks in one order, so two batches racing
    // for the same names wait for each other instead of deadlocking.
    rows.sort_by(|a, b| (a.account.0, &a.region.0, &a.name, a.id).cmp(&(b.account.0, &b.region.0, &b.name, b.id)));
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let tags: Vec<_> =
        rows.iter().zip(&ids).flat_map(|(r, id)| r.tags.iter().map(move |t| (r.account.0, id, t))).collect();

    let inserted: HashSet<String> = sqlx::query_scalar::<_, String>(INSERT)
        .bind(&ids)
        .bind(rows.iter().map(|r| i(r.account.0)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.region.0.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.key_id.to_string()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.description.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| i64::from(r.number_of_bytes)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.origin.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.state.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| i(r.created_at)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| i(r.deletion_date)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.ciphertext.as_slice()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.context.as_slice()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| i(r.revision)).collect::<Vec<_>>())
        .bind(tags.iter().map(|(account, _, _)| i(*account)).collect::<Vec<_>>())
        .bind(tags.iter().map(|(_, id, _)| id.as_str()).collect::<Vec<_>>())
        .bind(tags.iter().map(|(_, _, t)| t.key.as_str()).collect::<Vec<_>>())
        .bind(tags.iter().map(|(_, _, t)| t.value.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Failed::sqlx(e, map_err))?
        .into_iter()
        .collect();

    // What kept the others out: their id taken by a stored row, else their name. The batch
    // is committed by now, so a failure here must not fail it (a retry of its members would
    // find their own rows): only the members kept out are answered with it.
    let refused: Vec<&str> = ids.iter().filter(|id| !inserted.contains(*id)).map(String::as_str).collect();
    let taken_ids: HashSet<String> = if refused.is_empty() {
        HashSet::new()
    } else {
        match sqlx::query_scalar("SELECT id FROM data_keys WHERE id = ANY($1)")
            .bind(refused)
            .fetch_all(&mut *conn)
            .await
        {
            Ok(taken) => taken.into_iter().collect(),
            Err(e) => {
                let e = map_err(e).to_string();
                let mut results = outcomes(batch, &tried, &inserted, &HashSet::new());
                for ((result, r), tried) in results.iter_mut().zip(batch).zip(&tried) {
                    if *tried && !inserted.contains(&r.id.to_string()) {
                        *result = Err(StoreError::Unavailable(e.clone()));
                    }
                }
                return Ok((results, false));
            }
        }
    };
    Ok((outcomes(batch, &tried, &inserted, &taken_ids), true))
}
