//! The group commit's batches on SQLite: one multi-row insert of the data keys (`ON CONFLICT DO
//! NOTHING`, so a member's taken name or id skips only that member) and, in
//! the same transaction, one of their tags: a few statements a batch, not one per row (each
//! statement is a round trip to the connection's thread). A batch without tags is the insert
//! alone, its own transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use ferrokms_core::model::{DataKeyRecord, Tag};
use ferrokms_core::store::StoreError;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::map_err;
use crate::group_commit::{BatchInsert, Failed, Held, MAX_BATCH, first_of_each_id, outcomes};
use crate::rows::i;

/// Rows of one tags statement (4 parameters each; SQLite takes up to 32766). A batch of data
/// keys is at most [`MAX_BATCH`] × 14 parameters, well within it.
const TAG_ROWS: usize = 4096;
const _: () = assert!(MAX_BATCH * 14 < 32766);

pub(super) struct Batches(pub(super) Held<Sqlite>);

#[async_trait]
impl BatchInsert for Batches {
    type Item = DataKeyRecord;
    type Done = ();

    /// SQLite has one writer at a time.
    const IN_FLIGHT: usize = 1;

    async fn insert(&self, batch: &[DataKeyRecord]) -> Result<Vec<Result<(), StoreError>>, Failed> {
        // SQLite's errors are the database's (a local file, no connection to lose).
        self.0.run(async |conn| insert_on(conn, batch).await.map(|r| (r, true)).map_err(Failed::statement)).await
    }

    fn close(&self) {
        self.0.close();
    }
}

/// [`BatchInsert::insert`] on `conn`. A failure after the insert committed (a batch without
/// tags commits on its own) fails the batch, and each member is tried alone: its row, if it
/// went in, is found as its own.
async fn insert_on(
    conn: &mut SqliteConnection,
    batch: &[DataKeyRecord],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let tried = first_of_each_id(batch);
    let rows: Vec<&DataKeyRecord> = batch.iter().zip(&tried).filter(|(_, t)| **t).map(|(r, _)| r).collect();
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    if rows.iter().all(|r| r.tags.is_empty()) {
        let went_in = insert_data_keys(conn, &rows, &ids).await?;
        return Ok(outcomes(batch, &tried, &went_in.inserted, &went_in.taken));
    }
    let mut tx = conn.begin().await.map_err(map_err)?;
    let went_in = insert_data_keys(&mut tx, &rows, &ids).await?;
    let tags: Vec<(u64, &str, &Tag)> = rows
        .iter()
        .zip(&ids)
        .filter(|(_, id)| went_in.inserted.contains(*id))
        .flat_map(|(r, id)| r.tags.iter().map(move |t| (r.account.0, id.as_str(), t)))
        .collect();
    for chunk in tags.chunks(TAG_ROWS) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO tags (account_id, resource_id, tag_key, tag_value) ");
        q.push_values(chunk, |mut b, (account, id, t)| {
            b.push_bind(i(*account)).push_bind(*id).push_bind(t.key.as_str()).push_bind(t.value.as_str());
        });
        q.build().execute(&mut *tx).await.map_err(map_err)?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(outcomes(batch, &tried, &went_in.inserted, &went_in.taken))
}

/// What a batch's insert did: the members' ids that went in, and the ids of the others that a
/// stored row already has (the rest were kept out by their name).
struct WentIn {
    inserted: HashSet<String>,
    taken: HashSet<String>,
}

/// Inserts `rows` (ids `ids`). When every row went in (the usual case) the statement's count
/// says so: no row comes back per member (`RETURNING` sent each through the connection's
/// channel). Otherwise one query tells the rows apart: a stored row with a member's id and its
/// ciphertext (a fresh data key sealed under a fresh nonce) is the member's, one with a
/// member's id and another ciphertext took that id first.
async fn insert_data_keys(
    conn: &mut SqliteConnection,
    rows: &[&DataKeyRecord],
    ids: &[String],
) -> Result<WentIn, StoreError> {
    let key_ids: Vec<String> = rows.iter().map(|r| r.key_id.to_string()).collect();
    let mut q = QueryBuilder::<Sqlite>::new(
        "INSERT INTO data_keys (id, account_id, region, key_id, name, description, number_of_bytes, origin, \
         state, created_at, deletion_date, ciphertext, context, revision) ",
    );
    q.push_values(rows.iter().zip(ids).zip(&key_ids), |mut b, ((r, id), key_id)| {
        b.push_bind(id.as_str())
            .push_bind(i(r.account.0))
            .push_bind(r.region.0.as_str())
            .push_bind(key_id.as_str())
            .push_bind(r.name.as_str())
            .push_bind(r.description.as_str())
            .push_bind(i64::from(r.number_of_bytes))
            .push_bind(r.origin.as_str())
            .push_bind(r.state.as_str())
            .push_bind(i(r.created_at))
            .push_bind(i(r.deletion_date))
            .push_bind(r.ciphertext.as_slice())
            .push_bind(r.context.as_slice())
            .push_bind(i(r.revision));
    });
    q.push(" ON CONFLICT DO NOTHING");
    let affected = q.build().execute(&mut *conn).await.map_err(map_err)?.rows_affected();
    if usize::try_from(affected).is_ok_and(|n| n == rows.len()) {
        return Ok(WentIn { inserted: ids.iter().cloned().collect(), taken: HashSet::new() });
    }
    let mut q = QueryBuilder::<Sqlite>::new("SELECT id, ciphertext FROM data_keys WHERE id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.as_str());
    }
    q.push(")");
    let stored: Vec<(String, Vec<u8>)> = q.build_query_as().fetch_all(&mut *conn).await.map_err(map_err)?;
    let ours: HashSet<(&str, &[u8])> =
        rows.iter().zip(ids).map(|(r, id)| (id.as_str(), r.ciphertext.as_slice())).collect();
    let (inserted, taken) = stored.into_iter().partition(|(id, c)| ours.contains(&(id.as_str(), c.as_slice())));
    let ids_of = |rows: Vec<(String, Vec<u8>)>| rows.into_iter().map(|(id, _)| id).collect();
    Ok(WentIn { inserted: ids_of(inserted), taken: ids_of(taken) })
}
