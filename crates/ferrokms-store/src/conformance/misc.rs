//! Accounts, access keys, tags, the walk over sealed values, readiness.

use std::sync::Arc;

use ferrokms_core::model::AccountId;
use ferrokms_core::store::{Conflict, KeyFilter, SealedPlace, Store, TagFilter};
use uuid::Uuid;

use super::{T0, access_key, account, assert_conflict, data_key, gz, key, put_key, version_of};

/// Accounts get increasing ids from 100000000001 and are listed by id.
pub async fn accounts(s: Arc<dyn Store>) {
    let s = &*s;
    assert!(s.list_accounts().await.unwrap().is_empty());
    let a = s.create_account("default", T0).await.unwrap();
    assert_eq!(a.id, AccountId(100_000_000_001), "the first account id");
    assert_eq!(a.name, "default");
    assert_eq!(a.created_at, T0);
    let b = s.create_account("second", T0 + 1).await.unwrap();
    let c = s.create_account("多字节", T0 + 2).await.unwrap();
    assert!(a.id.0 < b.id.0 && b.id.0 < c.id.0, "increasing ids: {a:?} {b:?} {c:?}");
    assert_eq!(s.list_accounts().await.unwrap(), vec![a, b, c]);
}

/// Access keys: stored, read, listed by (account, creation, id), switched on and off.
pub async fn access_keys(s: Arc<dyn Store>) {
    let s = &*s;
    let a = account(s).await;
    let b = account(s).await;
    let keys = [
        access_key("AKIDzzz", a, T0 + 5),
        access_key("AKIDbbb", b, T0),
        access_key("AKIDccc", a, T0 + 1),
        access_key("AKIDaaa", a, T0 + 1),
        access_key("LTAIxyz", b, T0),
    ];
    for k in &keys {
        s.insert_access_key(k).await.unwrap();
    }
    assert_eq!(s.get_access_key("AKIDccc").await.unwrap().as_ref(), Some(&keys[2]));
    assert!(s.get_access_key("AKIDnone").await.unwrap().is_none());
    assert!(s.get_access_key("akidccc").await.unwrap().is_none(), "ids are exact");
    assert_conflict(s.insert_access_key(&access_key("AKIDccc", b, T0)).await, Conflict::Duplicate);
    assert_eq!(s.get_access_key("AKIDccc").await.unwrap().as_ref(), Some(&keys[2]));

    let listed: Vec<String> = s.list_access_keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, ["AKIDaaa", "AKIDccc", "AKIDzzz", "AKIDbbb", "LTAIxyz"]);

    assert!(s.set_access_key_active("AKIDaaa", false).await.unwrap());
    assert!(!s.get_access_key("AKIDaaa").await.unwrap().unwrap().active);
    assert!(s.set_access_key_active("AKIDaaa", false).await.unwrap(), "it exists, whatever it was");
    assert!(s.set_access_key_active("AKIDaaa", true).await.unwrap());
    assert!(s.get_access_key("AKIDaaa").await.unwrap().unwrap().active);
    assert!(!s.set_access_key_active("AKIDnone", true).await.unwrap());
}

/// Tags: any text, one value per key, on keys and data keys separately.
pub async fn tagging(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut k = key(acc, &gz(), "tagged", T0);
    let many: Vec<(String, String)> = (0..50).map(|n| (format!("key-{n:02}"), format!("value {n} ✓"))).collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    k.tags = super::tags(&pairs);
    let k = put_key(s, k, true).await;
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap().tags, k.tags, "ordered by tag key");

    let mut d = data_key(&k, "tagged", T0);
    d.tags = super::tags(&[("key-00", "other value"), ("only-dk", "x")]);
    s.insert_data_key(&d).await.unwrap();
    assert_eq!(s.get_data_key(d.id).await.unwrap().unwrap().tags, d.tags);
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap().tags, k.tags, "a data key's tags are its own");

    let f = KeyFilter {
        tags: vec![TagFilter { key: "key-00".into(), values: vec!["other value".into()] }],
        limit: 10,
        ..Default::default()
    };
    assert!(s.list_keys(acc, &gz(), &f).await.unwrap().0.is_empty());
    let f = KeyFilter {
        tags: vec![TagFilter { key: "key-07".into(), values: vec!["value 7 ✓".into()] }],
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.list_keys(acc, &gz(), &f).await.unwrap().1, 1);

    // Dropping every tag, then setting one again.
    let mut bare = k.clone();
    bare.tags = Vec::new();
    bare.revision = 2;
    s.update_key(&bare, 1).await.unwrap();
    assert!(s.get_key(k.id).await.unwrap().unwrap().tags.is_empty());
    let mut one = bare.clone();
    one.tags = tags_of(&[("key-07", "again")]);
    one.revision = 3;
    s.update_key(&one, 2).await.unwrap();
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap().tags, one.tags);
}

fn tags_of(pairs: &[(&str, &str)]) -> Vec<ferrokms_core::model::Tag> {
    super::tags(pairs)
}

/// The walk over sealed values: key versions by (key id, version), then access keys by id, in
/// pages that resume after any place, with each value's account.
pub async fn sealed_values_walk(s: Arc<dyn Store>) {
    let s = &*s;
    assert!(s.sealed_values(None, 10).await.unwrap().is_empty());
    let a = account(s).await;
    let b = account(s).await;
    let mut want: Vec<(SealedPlace, AccountId, Vec<u8>)> = Vec::new();
    for (n, owner) in [a, b, a, b, a].into_iter().enumerate() {
        let k = put_key(s, key(owner, &gz(), &format!("s{n}"), T0), true).await;
        let mut current = k.clone();
        // Versions 1..=n+1, so 10 sorts after 9 only where it should.
        for v in 2..=(n as u32 * 3 + 1) {
            let mut next = current.clone();
            next.current_version = v;
            next.revision += 1;
            s.add_version(&next, current.revision, &version_of(&k, v)).await.unwrap();
            current = next;
        }
        for v in s.list_versions(k.id).await.unwrap() {
            want.push((SealedPlace::KeyVersion { key_id: k.id, version: v.version }, owner, v.sealed_material));
        }
    }
    // A key without material has nothing sealed.
    let mut pending = key(a, &gz(), "pending", T0);
    pending.state = ferrokms_core::model::KeyState::PendingImport;
    put_key(s, pending, false).await;
    want.sort_by(|x, y| match (&x.0, &y.0) {
        (SealedPlace::KeyVersion { key_id: k1, version: v1 }, SealedPlace::KeyVersion { key_id: k2, version: v2 }) => {
            (k1.to_string(), v1).cmp(&(k2.to_string(), v2))
        }
        _ => std::cmp::Ordering::Equal,
    });
    let mut access = Vec::new();
    for (id, owner) in [("AKIDb", a), ("AKIDa", b), ("LTAIc", a), ("AKIDC", b)] {
        let k = access_key(id, owner, T0);
        s.insert_access_key(&k).await.unwrap();
        access.push((SealedPlace::AccessKey { id: id.to_owned() }, owner, k.sealed_secret));
    }
    access.sort_by(|x, y| match (&x.0, &y.0) {
        (SealedPlace::AccessKey { id: i1 }, SealedPlace::AccessKey { id: i2 }) => i1.as_bytes().cmp(i2.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    });
    want.extend(access);

    let as_tuples = |page: Vec<ferrokms_core::store::SealedValue>| {
        page.into_iter().map(|v| (v.place, v.account, v.sealed)).collect::<Vec<_>>()
    };
    let all = as_tuples(s.sealed_values(None, 10_000).await.unwrap());
    assert_eq!(all, want, "versions by (key id, version), then access keys by id (byte order)");

    for size in [1u32, 2, 7, 37] {
        let mut walked = Vec::new();
        let mut after: Option<SealedPlace> = None;
        loop {
            let page = as_tuples(s.sealed_values(after.as_ref(), size).await.unwrap());
            assert!(page.len() <= size as usize);
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            let full = page.len() == size as usize;
            walked.extend(page);
            if !full {
                break;
            }
        }
        assert_eq!(walked, want, "pages of {size}");
    }
    // Resuming after a place that has gone (deleted meanwhile) continues after where it was.
    let gone = SealedPlace::KeyVersion { key_id: Uuid::nil(), version: 1 };
    assert_eq!(as_tuples(s.sealed_values(Some(&gone), 10_000).await.unwrap()), want);
    let gone = SealedPlace::AccessKey { id: "AKIDB".into() };
    let rest: Vec<_> = want
        .iter()
        .filter(|v| matches!(&v.0, SealedPlace::AccessKey { id } if id.as_str() > "AKIDB"))
        .cloned()
        .collect();
    assert_eq!(as_tuples(s.sealed_values(Some(&gone), 10_000).await.unwrap()), rest);
}

/// `replace_sealed` is compare-and-swap on the sealed bytes.
pub async fn replace_sealed(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let k = put_key(s, key(acc, &gz(), "resealed", T0), true).await;
    let v1 = s.get_version(k.id, 1).await.unwrap().unwrap();
    let place = SealedPlace::KeyVersion { key_id: k.id, version: 1 };
    let new = vec![7u8, 0, 255, 1];
    assert!(!s.replace_sealed(&place, b"not what is there", &new).await.unwrap());
    assert_eq!(s.get_version(k.id, 1).await.unwrap().unwrap().sealed_material, v1.sealed_material);
    assert!(s.replace_sealed(&place, &v1.sealed_material, &new).await.unwrap());
    let after = s.get_version(k.id, 1).await.unwrap().unwrap();
    assert_eq!(after.sealed_material, new);
    assert_eq!(after.version_id, v1.version_id, "only the sealed bytes change");
    assert!(!s.replace_sealed(&place, &v1.sealed_material, &new).await.unwrap(), "the old value is gone");
    let missing = SealedPlace::KeyVersion { key_id: k.id, version: 2 };
    assert!(!s.replace_sealed(&missing, &v1.sealed_material, &new).await.unwrap());

    let ak = access_key("AKIDreseal", acc, T0);
    s.insert_access_key(&ak).await.unwrap();
    let place = SealedPlace::AccessKey { id: ak.id.clone() };
    assert!(!s.replace_sealed(&place, &new, b"x").await.unwrap());
    assert!(s.replace_sealed(&place, &ak.sealed_secret, b"resealed secret").await.unwrap());
    let got = s.get_access_key(&ak.id).await.unwrap().unwrap();
    assert_eq!(got.sealed_secret, b"resealed secret");
    assert_eq!((got.account, got.active, got.created_at), (ak.account, ak.active, ak.created_at));
    assert!(!s.replace_sealed(&SealedPlace::AccessKey { id: "AKIDnone".into() }, b"", b"x").await.unwrap());
    // A walk sees the new values.
    let walked = s.sealed_values(None, 100).await.unwrap();
    assert!(
        walked
            .iter()
            .any(|v| v.place == SealedPlace::AccessKey { id: ak.id.clone() } && v.sealed == b"resealed secret")
    );
}

/// Named values of the store: the first writer wins, replacements are compare-and-swap.
pub async fn meta_values(store: Arc<dyn Store>) {
    let s = &*store;
    assert!(s.get_meta("root_check").await.unwrap().is_none());
    let first = vec![0u8, 1, 255, 0];
    assert_eq!(s.put_meta_if_absent("root_check", &first).await.unwrap(), first);
    assert_eq!(s.put_meta_if_absent("root_check", b"second").await.unwrap(), first, "the first value stays");
    assert_eq!(s.get_meta("root_check").await.unwrap(), Some(first.clone()));
    assert!(s.get_meta("other").await.unwrap().is_none(), "names are separate");

    assert!(!s.replace_meta("root_check", b"not it", b"x").await.unwrap());
    assert!(s.replace_meta("root_check", &first, b"resealed").await.unwrap());
    assert_eq!(s.get_meta("root_check").await.unwrap().as_deref(), Some(&b"resealed"[..]));
    assert!(!s.replace_meta("root_check", &first, b"y").await.unwrap(), "the old value is gone");
    assert!(!s.replace_meta("missing", b"", b"y").await.unwrap());
    assert!(s.get_meta("missing").await.unwrap().is_none(), "replacing creates nothing");

    // Concurrent first writers: every one is told the same winner.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8u8 {
        let store = Arc::clone(&store);
        tasks.spawn(async move { store.put_meta_if_absent("contested", &[n]).await.unwrap() });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.unwrap());
    }
    let stored = s.get_meta("contested").await.unwrap().unwrap();
    assert!(answers.iter().all(|a| *a == stored), "{answers:?} vs {stored:?}");
}

/// A fresh store answers its readiness probe.
pub async fn ping(s: Arc<dyn Store>) {
    s.ping().await.unwrap();
}

/// Several callers taking the first account of an empty store at once: one account, made by
/// exactly one of them; later calls find it.
pub async fn first_account(s: Arc<dyn Store>) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = s.clone();
        calls.spawn(async move { s.first_account("default", T0).await.unwrap() });
    }
    let mut made = 0;
    let mut ids = std::collections::HashSet::new();
    while let Some(r) = calls.join_next().await {
        let (a, created) = r.unwrap();
        made += usize::from(created);
        ids.insert(a.id);
    }
    assert_eq!((made, ids.len()), (1, 1), "one account, made once");
    assert_eq!(s.list_accounts().await.unwrap().len(), 1);
    let other = s.create_account("second", T0 + 1).await.unwrap();
    let (first, created) = s.first_account("default", T0 + 2).await.unwrap();
    assert!(!created && first.id.0 < other.id.0, "the first account, not a new one");
}

/// Nonces: a store shared between processes records each once per account until it expires;
/// one a process owns answers every claim true (its memory refuses local replays). Purging
/// keeps unexpired nonces.
pub async fn nonces(s: Arc<dyn Store>) {
    let s = &*s;
    let now = ferrokms_core::model::now();
    let (a, b) = (AccountId(1), AccountId(2));
    assert!(s.claim_nonce(a, b"ak\0n1", now + 900).await.unwrap());
    let shared = !s.claim_nonce(a, b"ak\0n1", now + 900).await.unwrap();
    if !shared {
        s.purge_nonces(now).await.unwrap();
        return;
    }
    assert!(s.claim_nonce(b, b"ak\0n1", now + 900).await.unwrap(), "per account");
    assert!(s.claim_nonce(a, b"ak\0n2", now + 900).await.unwrap());
    // An expired nonce may be used again (its row taken over, purged or not).
    assert!(s.claim_nonce(a, b"ak\0old", 1).await.unwrap());
    assert!(s.claim_nonce(a, b"ak\0old", now + 900).await.unwrap(), "expired: free again");
    assert!(!s.claim_nonce(a, b"ak\0old", now + 900).await.unwrap());
    s.purge_nonces(now).await.unwrap();
    assert!(!s.claim_nonce(a, b"ak\0n1", now + 900).await.unwrap(), "unexpired nonces survive the purge");
    // Claims at once: exactly one wins.
    let claims = futures_join(s, a, b"ak\0race", now + 900).await;
    assert_eq!(claims, 1);
}

/// Many claims at once (they share batches on a store that batches them): of each nonce,
/// claimed twice per account, exactly one claim per account wins, and a claim over an expired
/// nonce wins as a fresh one does.
pub async fn nonces_at_once(s: Arc<dyn Store>) {
    let now = ferrokms_core::model::now();
    let accounts = [AccountId(1), AccountId(2)];
    assert!(s.claim_nonce(accounts[0], b"ak\0stale", 1).await.unwrap());
    let mut claims = tokio::task::JoinSet::new();
    for _ in 0..2 {
        for n in 0..50u32 {
            for account in accounts {
                let s = Arc::clone(&s);
                let nonce = if n == 0 { b"ak\0stale".to_vec() } else { format!("ak\0many-{n}").into_bytes() };
                claims.spawn(async move {
                    let won = s.claim_nonce(account, &nonce, now + 900).await;
                    (account, nonce, won)
                });
            }
        }
    }
    let mut won: std::collections::HashMap<(u64, Vec<u8>), usize> = std::collections::HashMap::new();
    let mut total = 0;
    while let Some(done) = claims.join_next().await {
        let (account, nonce, result) = done.unwrap();
        total += 1;
        *won.entry((account.0, nonce)).or_default() += usize::from(result.unwrap());
    }
    assert_eq!((total, won.len()), (200, 100));
    let shared = won.values().all(|w| *w == 1);
    let owned = won.values().all(|w| *w == 2);
    assert!(shared || owned, "each nonce once per account (shared store) or every claim (own store): {won:?}");
}

async fn futures_join(s: &dyn Store, account: AccountId, nonce: &[u8], exp: u64) -> usize {
    let (x, y, z) = tokio::join!(
        s.claim_nonce(account, nonce, exp),
        s.claim_nonce(account, nonce, exp),
        s.claim_nonce(account, nonce, exp)
    );
    [x, y, z].into_iter().filter(|r| *r.as_ref().unwrap()).count()
}

/// The background lease: on a shared store one holder at a time, free again once dropped; a
/// store one process owns always grants it.
pub async fn background_lease(s: Arc<dyn Store>) {
    let first = s.background_lease().await.unwrap().expect("free at first");
    let second = s.background_lease().await.unwrap();
    let shared = second.is_none();
    drop(second);
    drop(first);
    if shared {
        let mut again = None;
        for _ in 0..50 {
            again = s.background_lease().await.unwrap();
            if again.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(again.is_some(), "a dropped lease is released");
    }
}

/// Heartbeats count the nodes alive: expired ones are not counted.
pub async fn heartbeats(s: Arc<dyn Store>) {
    let now = ferrokms_core::model::now();
    let (n1, n2) = (Uuid::new_v4(), Uuid::new_v4());
    let one = s.heartbeat(n1, now, 6).await.unwrap();
    assert_eq!(one, 1);
    let two = s.heartbeat(n2, now, 6).await.unwrap();
    assert!(two == 1 || two == 2, "{two}");
    if two == 2 {
        assert_eq!(s.heartbeat(n1, now, 6).await.unwrap(), 2, "a beat again is the same node");
        assert_eq!(s.heartbeat(n1, now + 10, 6).await.unwrap(), 1, "n2 fell silent");
    }
}

/// A store that tells changes tells a change to a key and to an access key (made by anyone:
/// here by the store itself, as another node would).
pub async fn changes(s: Arc<dyn Store>) {
    use ferrokms_core::store::Change;
    let Some(mut rx) = s.changes() else { return };
    assert!(s.changes().is_none(), "taken once");
    let a = account(&*s).await;
    s.insert_access_key(&access_key("AKIDtold", a, T0)).await.unwrap();
    s.set_access_key_active("AKIDtold", false).await.unwrap();
    // A new key is not told (no process can have it cached yet); a change to it is.
    let k = put_key(&*s, key(a, &gz(), "told", T0), false).await;
    let mut disabled = k.clone();
    disabled.state = ferrokms_core::model::KeyState::Disabled;
    disabled.revision = 2;
    s.update_key(&disabled, 1).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(seen.contains(&Change::Key(k.id)) && seen.contains(&Change::AccessKey("AKIDtold".into()))) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(c)) => seen.push(c),
            _ => panic!("changes not told within 5 s: {seen:?}"),
        }
    }
}
