//! Hosted data keys: records, conflicts, listings, deletion and the group commit of inserts.

use std::sync::Arc;

use ferrokms_core::model::{DataKeyRecord, KeyState, Origin};
use ferrokms_core::store::{Conflict, DataKeyFilter, Order, Store, StoreError, TagFilter};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{T0, account, assert_conflict, data_key, gz, ids, key, put_key, region, sorted, tags};

fn dk_ids(records: &[DataKeyRecord]) -> Vec<Uuid> {
    ids(records, |d| d.id)
}

fn filter() -> DataKeyFilter {
    DataKeyFilter { limit: 100, order: Order::OldestFirst, ..Default::default() }
}

/// Every field and tag of a data key comes back as stored, durable once the insert returns.
pub async fn data_keys_round_trip(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let cmk = put_key(s, key(acc, &gz(), "cmk", T0), true).await;
    let mut d = data_key(&cmk, "名前-1", T0);
    d.description = "'quoted' \"and\" \\ %".into();
    d.number_of_bytes = 1024;
    d.origin = Origin::External;
    d.state = KeyState::Disabled;
    d.deletion_date = T0 + 9;
    d.ciphertext = (0..=255).collect();
    d.context = Vec::new();
    d.revision = 7;
    d.tags = tags(&[("k", "v"), ("a", "")]);
    s.insert_data_key(&d).await.unwrap();
    assert_eq!(s.get_data_key(d.id).await.unwrap().as_ref(), Some(&d));
    assert!(s.get_data_key(Uuid::new_v4()).await.unwrap().is_none());
}

/// Data key updates are compare-and-swap on the revision.
pub async fn data_key_revisions(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let cmk = put_key(s, key(acc, &gz(), "cmk", T0), true).await;
    let mut d = data_key(&cmk, "one", T0);
    d.tags = tags(&[("keep", "me")]);
    s.insert_data_key(&d).await.unwrap();

    let mut next = d.clone();
    next.name = "renamed".into();
    next.description = "new text".into();
    next.state = KeyState::PendingDelete;
    next.deletion_date = T0 + 30;
    next.revision = 2;
    s.update_data_key(&next, 1).await.unwrap();
    assert_eq!(s.get_data_key(d.id).await.unwrap().as_ref(), Some(&next));

    let mut late = d.clone();
    late.description = "late".into();
    late.revision = 2;
    assert_conflict(s.update_data_key(&late, 1).await, Conflict::Stale);
    assert_eq!(s.get_data_key(d.id).await.unwrap().as_ref(), Some(&next));

    let ghost = data_key(&cmk, "ghost", T0);
    assert_conflict(s.update_data_key(&ghost, 1).await, Conflict::Stale);

    // The old name is free again.
    s.insert_data_key(&data_key(&cmk, "one", T0)).await.unwrap();
}

/// A taken name is `Conflict::DataKeyName` (per account and region), a taken id
/// `Conflict::Duplicate`; a refused insert leaves no tags behind.
pub async fn data_key_conflicts(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let cmk = put_key(s, key(acc, &gz(), "cmk", T0), true).await;
    let first = data_key(&cmk, "taken", T0);
    s.insert_data_key(&first).await.unwrap();

    let mut same_name = data_key(&cmk, "taken", T0 + 1);
    same_name.tags = tags(&[("leak", "no")]);
    assert_conflict(s.insert_data_key(&same_name).await, Conflict::DataKeyName);
    assert!(s.get_data_key(same_name.id).await.unwrap().is_none());
    let f = DataKeyFilter { tags: vec![TagFilter { key: "leak".into(), values: vec![] }], ..filter() };
    assert!(s.list_data_keys(acc, &gz(), &f).await.unwrap().0.is_empty(), "no tags of a refused insert");
    assert_eq!(s.get_data_key(first.id).await.unwrap().as_ref(), Some(&first));

    let mut elsewhere = data_key(&cmk, "taken", T0);
    elsewhere.region = region("ap-beijing");
    s.insert_data_key(&elsewhere).await.unwrap();
    let their_cmk = put_key(s, key(other, &gz(), "cmk", T0), true).await;
    s.insert_data_key(&data_key(&their_cmk, "taken", T0)).await.unwrap();

    let mut same_id = data_key(&cmk, "fresh", T0);
    same_id.id = first.id;
    assert_conflict(s.insert_data_key(&same_id).await, Conflict::Duplicate);
    assert_eq!(s.get_data_key(first.id).await.unwrap().as_ref(), Some(&first));

    let second = data_key(&cmk, "second", T0);
    s.insert_data_key(&second).await.unwrap();
    let mut renamed = second.clone();
    renamed.name = "taken".into();
    renamed.revision = 2;
    assert_conflict(s.update_data_key(&renamed, 1).await, Conflict::DataKeyName);
    assert_eq!(s.get_data_key(second.id).await.unwrap().as_ref(), Some(&second));
}

/// Each filter field of `list_data_keys`; accounts and regions never mix.
pub async fn data_key_listing_filters(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let cmk1 = put_key(s, key(acc, &gz(), "cmk1", T0), true).await;
    let cmk2 = put_key(s, key(acc, &gz(), "cmk2", T0), true).await;
    let mut made = Vec::new();
    let shapes = [
        (&cmk1, KeyState::Enabled, Origin::Generated, 32, "alpha-Prod", &[("env", "prod")][..]),
        (&cmk1, KeyState::Disabled, Origin::External, 16, "beta_dev", &[("env", "dev")][..]),
        (&cmk2, KeyState::PendingDelete, Origin::Generated, 32, "gamma%prod", &[("env", "prod"), ("team", "x")][..]),
        (&cmk2, KeyState::Enabled, Origin::External, 64, "delta", &[][..]),
    ];
    for (n, (cmk, state, origin, bytes, name, t)) in shapes.into_iter().enumerate() {
        let mut d = data_key(cmk, name, T0 + n as u64);
        (d.state, d.origin, d.number_of_bytes, d.tags) = (state, origin, bytes, tags(t));
        s.insert_data_key(&d).await.unwrap();
        made.push(d);
    }
    let mut far = data_key(&cmk1, "far", T0);
    far.region = region("ap-beijing");
    s.insert_data_key(&far).await.unwrap();
    let their_cmk = put_key(s, key(other, &gz(), "cmk", T0), true).await;
    let mut theirs = data_key(&their_cmk, "theirs", T0);
    theirs.tags = tags(&[("env", "prod")]);
    s.insert_data_key(&theirs).await.unwrap();

    let run = |f: DataKeyFilter| async move {
        let (list, total) = s.list_data_keys(acc, &gz(), &f).await.unwrap();
        assert_eq!(total, list.len() as u64);
        list
    };
    let m = |n: &[usize]| n.iter().map(|&i| made[i].id).collect::<Vec<_>>();

    assert_eq!(run(filter()).await, made, "whole records with tags, oldest first");
    assert_eq!(dk_ids(&run(DataKeyFilter { states: vec![KeyState::Enabled], ..filter() }).await), m(&[0, 3]));
    let f = DataKeyFilter { states: vec![KeyState::Disabled, KeyState::PendingDelete], ..filter() };
    assert_eq!(dk_ids(&run(f).await), m(&[1, 2]));
    assert_eq!(dk_ids(&run(DataKeyFilter { origin: Some(Origin::External), ..filter() }).await), m(&[1, 3]));
    assert_eq!(dk_ids(&run(DataKeyFilter { key_id: Some(cmk2.id), ..filter() }).await), m(&[2, 3]));
    assert_eq!(dk_ids(&run(DataKeyFilter { key_id: Some(Uuid::new_v4()), ..filter() }).await), m(&[]));
    assert_eq!(dk_ids(&run(DataKeyFilter { number_of_bytes: Some(32), ..filter() }).await), m(&[0, 2]));
    assert_eq!(dk_ids(&run(DataKeyFilter { search: Some("PROD".into()), ..filter() }).await), m(&[0, 2]));
    assert_eq!(dk_ids(&run(DataKeyFilter { search: Some("a%p".into()), ..filter() }).await), m(&[2]));
    assert_eq!(dk_ids(&run(DataKeyFilter { search: Some("a_d".into()), ..filter() }).await), m(&[1]));
    let piece = made[3].id.to_string()[24..].to_owned();
    assert_eq!(dk_ids(&run(DataKeyFilter { search: Some(piece), ..filter() }).await), m(&[3]));
    let tf = |k: &str, v: &[&str]| TagFilter { key: k.into(), values: v.iter().map(|s| (*s).to_owned()).collect() };
    assert_eq!(dk_ids(&run(DataKeyFilter { tags: vec![tf("env", &["prod"])], ..filter() }).await), m(&[0, 2]));
    let f = DataKeyFilter { tags: vec![tf("env", &["prod"]), tf("team", &[])], ..filter() };
    assert_eq!(dk_ids(&run(f).await), m(&[2]));
    let f = DataKeyFilter {
        states: vec![KeyState::Enabled, KeyState::PendingDelete],
        key_id: Some(cmk2.id),
        number_of_bytes: Some(32),
        tags: vec![tf("env", &[])],
        ..filter()
    };
    assert_eq!(dk_ids(&run(f).await), m(&[2]), "every filter must match");

    let (list, total) = s.list_data_keys(acc, &region("ap-beijing"), &filter()).await.unwrap();
    assert_eq!((dk_ids(&list), total), (vec![far.id], 1));
    let (list, total) = s.list_data_keys(other, &gz(), &filter()).await.unwrap();
    assert_eq!((dk_ids(&list), total), (vec![theirs.id], 1));
}

/// Data key listings order and page like key listings.
pub async fn data_key_listing_order_and_paging(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let cmk = put_key(s, key(acc, &gz(), "cmk", T0), true).await;
    let seconds = [T0 + 3, T0, T0 + 3, T0 + 1, T0 + 3, T0, T0 + 7];
    let mut made = Vec::new();
    for (n, at) in seconds.iter().enumerate() {
        let d = data_key(&cmk, &format!("d{n}"), *at);
        s.insert_data_key(&d).await.unwrap();
        made.push(d);
    }
    made.sort_by_key(|d| d.created_at);
    let oldest = dk_ids(&made);
    let mut newest = oldest.clone();
    newest.reverse();
    for (order, want) in [(Order::OldestFirst, &oldest), (Order::NewestFirst, &newest)] {
        let (all, total) =
            s.list_data_keys(acc, &gz(), &DataKeyFilter { order, limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(total, seconds.len() as u64);
        assert_eq!(&dk_ids(&all), want, "{order:?}");
        let mut paged = Vec::new();
        for offset in (0..9).step_by(3) {
            let f = DataKeyFilter { order, limit: 3, offset, ..Default::default() };
            let (page, t) = s.list_data_keys(acc, &gz(), &f).await.unwrap();
            assert_eq!(t, total);
            paged.extend(dk_ids(&page));
        }
        assert_eq!(&paged, want, "{order:?} in pages of 3");
    }
}

/// `delete_data_key` and the due query, with the same race rule as keys.
pub async fn data_key_deletion(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let cmk = put_key(s, key(acc, &gz(), "cmk", T0), true).await;
    let mut want = Vec::new();
    let mut made = Vec::new();
    for (n, (state, date)) in [
        (KeyState::PendingDelete, T0 + 10),
        (KeyState::PendingDelete, T0 + 20),
        (KeyState::PendingDelete, T0 + 21),
        (KeyState::Enabled, T0 + 1),
        (KeyState::Disabled, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = data_key(&cmk, &format!("x{n}"), T0);
        d.state = state;
        d.deletion_date = date;
        d.tags = tags(&[("n", "1")]);
        s.insert_data_key(&d).await.unwrap();
        if state == KeyState::PendingDelete && date <= T0 + 20 {
            want.push(d.id);
        }
        made.push(d);
    }
    assert_eq!(sorted(dk_ids(&s.data_keys_due_for_deletion(T0 + 20).await.unwrap())), sorted(want));
    assert!(s.data_keys_due_for_deletion(T0 + 9).await.unwrap().is_empty());

    assert!(!s.delete_data_key(made[2].id, T0 + 20).await.unwrap(), "not due yet");
    assert!(!s.delete_data_key(made[3].id, T0 + 20).await.unwrap(), "not PendingDelete");
    assert!(!s.delete_data_key(Uuid::new_v4(), T0 + 20).await.unwrap());

    // A cancellation that won the race.
    let mut cancelled = made[1].clone();
    cancelled.state = KeyState::Enabled;
    cancelled.deletion_date = 0;
    cancelled.revision = 2;
    s.update_data_key(&cancelled, 1).await.unwrap();
    assert!(!s.delete_data_key(made[1].id, T0 + 20).await.unwrap());
    assert_eq!(s.get_data_key(made[1].id).await.unwrap().as_ref(), Some(&cancelled));

    assert!(s.delete_data_key(made[0].id, T0 + 20).await.unwrap());
    assert!(s.get_data_key(made[0].id).await.unwrap().is_none());
    assert!(!s.delete_data_key(made[0].id, T0 + 20).await.unwrap());
    assert_eq!(s.count_data_keys(acc).await.unwrap(), 4);
    let f = DataKeyFilter { tags: vec![TagFilter { key: "n".into(), values: vec![] }], ..filter() };
    assert_eq!(s.list_data_keys(acc, &gz(), &f).await.unwrap().1, 4, "its tags went with it");
    // Its name is free again.
    s.insert_data_key(&data_key(&cmk, "x0", T0)).await.unwrap();
}

/// Concurrent inserts (committed together by a group-committing backend): a member whose name
/// or id is taken gets its own conflict, and every other member is stored.
pub async fn group_commit_with_failing_members(s: Arc<dyn Store>) {
    let acc = account(&*s).await;
    let cmk = put_key(&*s, key(acc, &gz(), "cmk", T0), true).await;
    let existing = data_key(&cmk, "existing", T0);
    s.insert_data_key(&existing).await.unwrap();

    for round in 0..3 {
        let mut batch: Vec<(DataKeyRecord, Option<Conflict>)> = Vec::new();
        for n in 0..40 {
            let mut d = data_key(&cmk, &format!("r{round}-{n}"), T0);
            d.tags = tags(&[("round", &round.to_string()), ("n", &n.to_string())]);
            batch.push((d, None));
        }
        let mut taken = data_key(&cmk, "existing", T0);
        taken.tags = tags(&[("round", &round.to_string())]);
        batch.insert(7, (taken, Some(Conflict::DataKeyName)));
        let mut dup_id = data_key(&cmk, &format!("dup-id-{round}"), T0);
        dup_id.id = existing.id;
        batch.insert(20, (dup_id, Some(Conflict::Duplicate)));

        let mut tasks = JoinSet::new();
        for (n, (d, _)) in batch.iter().enumerate() {
            let (s, d) = (Arc::clone(&s), d.clone());
            tasks.spawn(async move { (n, s.insert_data_key(&d).await) });
        }
        let mut results: Vec<Option<Result<(), StoreError>>> = (0..batch.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (n, r) = done.unwrap();
            results[n] = Some(r);
        }
        for ((d, want), got) in batch.iter().zip(results) {
            let got = got.unwrap();
            match want {
                None => {
                    assert!(got.is_ok(), "{}: {got:?}", d.name);
                    assert_eq!(s.get_data_key(d.id).await.unwrap().as_ref(), Some(d));
                }
                Some(c) => assert_conflict(got, *c),
            }
        }
        let f = DataKeyFilter {
            tags: vec![TagFilter { key: "round".into(), values: vec![round.to_string()] }],
            ..filter()
        };
        assert_eq!(s.list_data_keys(acc, &gz(), &f).await.unwrap().1, 40, "no tags of the failed members");
    }
    assert_eq!(s.get_data_key(existing.id).await.unwrap().as_ref(), Some(&existing));

    // Two concurrent inserts of one new name: exactly one wins.
    let a = data_key(&cmk, "contested", T0);
    let b = data_key(&cmk, "contested", T0);
    let (sa, sb) = (Arc::clone(&s), Arc::clone(&s));
    let (ra, rb) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { sa.insert_data_key(&a).await }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { sb.insert_data_key(&b).await }
        })
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.is_ok() != rb.is_ok(), "one wins: {ra:?} {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert_conflict(loser, Conflict::DataKeyName);
    let f = DataKeyFilter { search: Some("contested".into()), ..filter() };
    assert_eq!(s.list_data_keys(acc, &gz(), &f).await.unwrap().1, 1);
}

/// A member that the database itself refuses (here a NUL character, which PostgreSQL cannot
/// store in text and SQLite can; the service refuses it before the store) fails alone: the
/// requests batched with it land.
pub async fn group_commit_member_the_database_refuses(s: Arc<dyn Store>) {
    let acc = account(&*s).await;
    let cmk = put_key(&*s, key(acc, &gz(), "cmk", T0), true).await;
    let mut batch: Vec<DataKeyRecord> = (0..30).map(|n| data_key(&cmk, &format!("good-{n}"), T0)).collect();
    let mut bad = data_key(&cmk, "bad", T0);
    bad.description = "nul \0 inside".into();
    batch.insert(11, bad.clone());
    let mut tasks = JoinSet::new();
    for d in batch.clone() {
        let s = Arc::clone(&s);
        tasks.spawn(async move { (d.id, s.insert_data_key(&d).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (id, r) = done.unwrap();
        if id == bad.id {
            assert!(matches!(r, Ok(()) | Err(StoreError::Unavailable(_))), "{r:?}");
        } else {
            assert!(r.is_ok(), "a good member failed with the bad one: {r:?}");
            assert!(s.get_data_key(id).await.unwrap().is_some());
        }
    }
}

/// Many concurrent inserts all land.
pub async fn group_commit_many(s: Arc<dyn Store>) {
    let acc = account(&*s).await;
    let cmk = put_key(&*s, key(acc, &gz(), "cmk", T0), true).await;
    let mut tasks = JoinSet::new();
    let mut made = Vec::new();
    for n in 0..600 {
        let mut d = data_key(&cmk, &format!("bulk-{n}"), T0 + n % 7);
        if n % 3 == 0 {
            d.tags = tags(&[("third", "yes")]);
        }
        made.push(d.id);
        let (s, d) = (Arc::clone(&s), d);
        tasks.spawn(async move { s.insert_data_key(&d).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(s.count_data_keys(acc).await.unwrap(), 600);
    let (all, total) = s.list_data_keys(acc, &gz(), &DataKeyFilter { limit: 1000, ..filter() }).await.unwrap();
    assert_eq!(total, 600);
    assert_eq!(sorted(dk_ids(&all)), sorted(made));
    let f = DataKeyFilter { tags: vec![TagFilter { key: "third".into(), values: vec![] }], limit: 1, ..filter() };
    assert_eq!(s.list_data_keys(acc, &gz(), &f).await.unwrap().1, 200);
}

/// Members sent at once that repeat one id, or one new name: the first of each lands, the
/// others fail alone (a multi-row insert must tell them apart), and their tags are not stored.
pub async fn group_commit_repeats_in_one_batch(s: Arc<dyn Store>) {
    let acc = account(&*s).await;
    let cmk = put_key(&*s, key(acc, &gz(), "cmk", T0), true).await;
    let mut same_id = data_key(&cmk, "same-id", T0);
    same_id.tags = tags(&[("k", "id")]);
    let mut again = same_id.clone();
    again.name = "same-id-other-name".into();
    let mut named = data_key(&cmk, "same-name", T0);
    named.tags = tags(&[("k", "name")]);
    let mut named_too = data_key(&cmk, "same-name", T0);
    named_too.tags = tags(&[("k", "name")]);
    let batch = [same_id.clone(), again, named.clone(), named_too, data_key(&cmk, "plain", T0)];
    let results = futures_join(&s, &batch).await;
    let ok = |n: usize| results[n].is_ok();
    assert!(ok(0) != ok(1), "one of the two members with one id lands: {results:?}");
    let loser = if ok(0) { 1 } else { 0 };
    assert!(matches!(results[loser], Err(StoreError::Conflict(Conflict::Duplicate))), "{results:?}");
    assert!(ok(2) != ok(3), "one of the two members with one name lands: {results:?}");
    let loser = if ok(2) { 3 } else { 2 };
    assert!(matches!(results[loser], Err(StoreError::Conflict(Conflict::DataKeyName))), "{results:?}");
    assert!(ok(4), "{results:?}");
    for k in ["id", "name"] {
        let f = DataKeyFilter { tags: vec![TagFilter { key: "k".into(), values: vec![k.into()] }], ..filter() };
        assert_eq!(s.list_data_keys(acc, &gz(), &f).await.unwrap().1, 1, "tags of the member that landed only");
    }
    assert_eq!(s.count_data_keys(acc).await.unwrap(), 3);
}

/// Inserts every record at once (so they share batches) and answers their results in order.
async fn futures_join(s: &Arc<dyn Store>, batch: &[DataKeyRecord]) -> Vec<Result<(), StoreError>> {
    let mut tasks = JoinSet::new();
    for (n, d) in batch.iter().enumerate() {
        let (s, d) = (Arc::clone(s), d.clone());
        tasks.spawn(async move { (n, s.insert_data_key(&d).await) });
    }
    let mut results: Vec<Option<Result<(), StoreError>>> = (0..batch.len()).map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (n, r) = done.unwrap();
        results[n] = Some(r);
    }
    results.into_iter().map(Option::unwrap).collect()
}
