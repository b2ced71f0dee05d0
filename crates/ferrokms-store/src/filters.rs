//! The `WHERE` clauses of listings, shared by the backends (sqlx numbers the placeholders for
//! each): the filters of key and data key listings, tag filters through the tags index, and
//! paging in creation order with insertion order (`seq`) breaking ties.

use ferrokms_core::model::{AccountId, KeyState, Origin, Region};
use ferrokms_core::store::{DataKeyFilter, KeyFilter, Order, TagFilter};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::rows::i;

/// How a backend matches the search text: SQLite's `LIKE` ignores the case of ASCII letters,
/// PostgreSQL needs `ILIKE` for the same.
#[derive(Clone, Copy)]
pub(crate) struct Like(pub(crate) &'static str);

/// `FROM keys WHERE ...` for `list_keys`.
pub(crate) fn keys<DB: Database>(
    q: &mut QueryBuilder<DB>,
    account: AccountId,
    region: &Region,
    f: &KeyFilter,
    like: Like,
) where
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    push_scope(q, "keys", account, region, &f.states, f.origin);
    if !f.usages.is_empty() {
        q.push(" AND usage IN (");
        let mut sep = q.separated(", ");
        for u in &f.usages {
            sep.push_bind(u.as_str().to_owned());
        }
        q.push(")");
    }
    if !f.specs.is_empty() {
        q.push(" AND algorithm IN (");
        let mut sep = q.separated(", ");
        for s in &f.specs {
            sep.push_bind(i64::from(s.code()));
        }
        q.push(")");
    }
    push_search(q, "alias", f.search.as_ref(), like);
    push_tag_filters(q, "keys.id", account, &f.tags);
}

/// `FROM data_keys WHERE ...` for `list_data_keys`.
pub(crate) fn data_keys<DB: Database>(
    q: &mut QueryBuilder<DB>,
    account: AccountId,
    region: &Region,
    f: &DataKeyFilter,
    like: Like,
) where
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    push_scope(q, "data_keys", account, region, &f.states, f.origin);
    if let Some(k) = f.key_id {
        q.push(" AND key_id = ");
        q.push_bind(k.to_string());
    }
    if let Some(n) = f.number_of_bytes {
        q.push(" AND number_of_bytes = ");
        q.push_bind(i64::from(n));
    }
    push_search(q, "name", f.search.as_ref(), like);
    push_tag_filters(q, "data_keys.id", account, &f.tags);
}

/// Appends `AND <id_col> IN (...)`: the resources of `account` that match every filter, found
/// through the tags index once (one index range per filter), not probed per row and filter.
fn push_tag_filters<DB: Database>(q: &mut QueryBuilder<DB>, id_col: &str, account: AccountId, filters: &[TagFilter])
where
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    if filters.is_empty() {
        return;
    }
    q.push(format!(" AND {id_col} IN (SELECT resource_id FROM ("));
    for (n, f) in filters.iter().enumerate() {
        if n > 0 {
            q.push(" UNION ALL ");
        }
        q.push("SELECT resource_id FROM tags WHERE account_id = ");
        q.push_bind(i(account.0));
        q.push(" AND tag_key = ");
        q.push_bind(f.key.clone());
        if !f.values.is_empty() {
            q.push(" AND tag_value IN (");
            let mut sep = q.separated(", ");
            for v in &f.values {
                sep.push_bind(v.clone());
            }
            q.push(")");
        }
    }
    // A resource holds a tag key once, so matching every (distinct-keyed) filter means
    // appearing once per filter.
    q.push(") AS matching GROUP BY resource_id HAVING COUNT(*) = ");
    q.push_bind(i64::try_from(filters.len()).unwrap_or(i64::MAX));
    q.push(")");
}

/// `FROM table WHERE` the account, region, states and origin that both listings filter on.
fn push_scope<DB: Database>(
    q: &mut QueryBuilder<DB>,
    table: &'static str,
    account: AccountId,
    region: &Region,
    states: &[KeyState],
    origin: Option<Origin>,
) where
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    q.push(" FROM ");
    q.push(table);
    q.push(" WHERE account_id = ");
    q.push_bind(i(account.0));
    q.push(" AND region = ");
    q.push_bind(region.0.clone());
    push_states(q, states);
    if let Some(o) = origin {
        q.push(" AND origin = ");
        q.push_bind(o.as_str().to_owned());
    }
}

fn push_states<DB: Database>(q: &mut QueryBuilder<DB>, states: &[KeyState])
where
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    if states.is_empty() {
        return;
    }
    q.push(" AND state IN (");
    let mut sep = q.separated(", ");
    for s in states {
        sep.push_bind(s.as_str().to_owned());
    }
    q.push(")");
}

fn push_search<DB: Database>(q: &mut QueryBuilder<DB>, name_col: &str, search: Option<&String>, like: Like)
where
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let op = like.0;
        q.push(format!(" AND (id {op} "));
        q.push_bind(pattern.clone());
        q.push(format!(" ESCAPE '\\' OR {name_col} {op} "));
        q.push_bind(pattern);
        q.push(" ESCAPE '\\')");
    }
}

/// `ORDER BY` creation time (ties in insertion order), `LIMIT`, `OFFSET`.
pub(crate) fn push_page<DB: Database>(q: &mut QueryBuilder<DB>, order: Order, offset: u64, limit: u64)
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    q.push(match order {
        Order::NewestFirst => " ORDER BY created_at DESC, seq DESC",
        Order::OldestFirst => " ORDER BY created_at ASC, seq ASC",
    });
    q.push(" LIMIT ");
    q.push_bind(i(limit));
    q.push(" OFFSET ");
    q.push_bind(i(offset));
}
