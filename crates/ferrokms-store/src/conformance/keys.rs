//! Keys, versions, aliases, their listings and the due-work queries over them.

use std::sync::Arc;

use ferrokms_core::model::{KeySpec, KeyState, KeyUsage, Origin};
use ferrokms_core::store::{Conflict, KeyFilter, Order, SealedPlace, Store, TagFilter};
use uuid::Uuid;

use super::{T0, account, alias, assert_conflict, gz, key, key_ids, put_key, region, sorted, tags, version_of};

/// Every field of a key, its first version and its tags come back as stored.
pub async fn keys_round_trip(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut k = key(acc, &gz(), "everything", T0);
    k.description = "多字节 description ' \" \\ %".into();
    k.usage = KeyUsage::SignVerify;
    k.spec = KeySpec::EcSm2;
    k.origin = Origin::External;
    k.state = KeyState::Disabled;
    k.deletion_date = T0 + 7;
    k.rotation_enabled = true;
    k.rotation_interval = 86_400 * 365;
    k.last_rotated_at = T0 + 1;
    k.next_rotation_at = T0 + 86_400 * 365;
    k.current_version = 1;
    k.deletion_protection = true;
    k.deletion_protection_description = "keep".into();
    k.policy = r#"{"Statement":[]}"#.into();
    k.revision = 42;
    k.material_expires_at = T0 + 3600;
    k.material_fingerprint = vec![0, 1, 2, 0xff, 0];
    k.tags = tags(&[("team", "kms"), ("env", "prod"), ("空", "")]);
    let v = version_of(&k, 1);
    s.insert_key(&k, Some(&v)).await.unwrap();
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&k));
    assert_eq!(s.get_version(k.id, 1).await.unwrap().as_ref(), Some(&v));
    assert_eq!(s.list_versions(k.id).await.unwrap(), vec![v]);

    // A key without material (EXTERNAL, PendingImport) has no version.
    let mut pending = key(acc, &gz(), "pending", T0);
    pending.origin = Origin::External;
    pending.state = KeyState::PendingImport;
    pending.current_version = 0;
    s.insert_key(&pending, None).await.unwrap();
    assert_eq!(s.get_key(pending.id).await.unwrap().as_ref(), Some(&pending));
    assert!(s.list_versions(pending.id).await.unwrap().is_empty());
    assert!(s.get_version(pending.id, 1).await.unwrap().is_none());

    assert!(s.get_key(Uuid::new_v4()).await.unwrap().is_none());
    assert!(s.get_version(k.id, 2).await.unwrap().is_none());
    assert!(s.list_versions(Uuid::new_v4()).await.unwrap().is_empty());
}

/// Updates are compare-and-swap on the revision; a lost race changes nothing.
pub async fn key_revisions(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut k = key(acc, &gz(), "cas", T0);
    k.tags = tags(&[("a", "1"), ("b", "2")]);
    let k = put_key(s, k, true).await;

    let mut next = k.clone();
    next.description = "second".into();
    next.state = KeyState::Disabled;
    next.revision = 2;
    next.tags = tags(&[("b", "20"), ("c", "3")]);
    s.update_key(&next, 1).await.unwrap();
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&next), "fields and the whole tag set replaced");

    // A writer that read revision 1 loses.
    let mut late = k.clone();
    late.description = "late".into();
    late.revision = 2;
    late.tags = Vec::new();
    assert_conflict(s.update_key(&late, 1).await, Conflict::Stale);
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&next), "a stale update changes nothing");

    // A key that does not exist is stale too (it was deleted under the writer).
    let ghost = key(acc, &gz(), "ghost", T0);
    assert_conflict(s.update_key(&ghost, 1).await, Conflict::Stale);
    assert!(s.get_key(ghost.id).await.unwrap().is_none());

    let mut third = next.clone();
    third.revision = 3;
    third.tags = Vec::new();
    s.update_key(&third, 2).await.unwrap();
    assert_eq!(s.get_key(k.id).await.unwrap().unwrap().tags, Vec::new());
}

/// A taken alias is `Conflict::Alias`, a taken id `Conflict::Duplicate`; neither leaves a part of
/// the failed insert behind, and a failed update changes nothing.
pub async fn key_conflicts(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let first = put_key(s, key(acc, &gz(), "shared", T0), true).await;

    let mut same_alias = key(acc, &gz(), "shared", T0);
    same_alias.tags = tags(&[("t", "v")]);
    let v = version_of(&same_alias, 1);
    assert_conflict(s.insert_key(&same_alias, Some(&v)).await, Conflict::Alias);
    assert!(s.get_key(same_alias.id).await.unwrap().is_none());
    assert!(s.get_version(same_alias.id, 1).await.unwrap().is_none(), "no version of a refused key");
    let (listed, _) = s
        .list_keys(
            acc,
            &gz(),
            &KeyFilter { tags: vec![TagFilter { key: "t".into(), values: vec![] }], limit: 10, ..Default::default() },
        )
        .await
        .unwrap();
    assert!(listed.is_empty(), "no tags of a refused key");

    // The alias is unique per account and region only.
    put_key(s, key(acc, &region("ap-shanghai"), "shared", T0), true).await;
    put_key(s, key(other, &gz(), "shared", T0), true).await;

    let mut same_id = key(acc, &gz(), "another", T0);
    same_id.id = first.id;
    assert_conflict(s.insert_key(&same_id, None).await, Conflict::Duplicate);
    assert_eq!(s.get_key(first.id).await.unwrap().as_ref(), Some(&first));

    // Renaming onto a taken alias.
    let second = put_key(s, key(acc, &gz(), "second", T0), true).await;
    let mut renamed = second.clone();
    renamed.alias = "shared".into();
    renamed.revision = 2;
    assert_conflict(s.update_key(&renamed, 1).await, Conflict::Alias);
    assert_eq!(s.get_key(second.id).await.unwrap().as_ref(), Some(&second));

    // A version id is globally unique.
    let mut dup_version = version_of(&second, 2);
    dup_version.version_id = s.get_version(first.id, 1).await.unwrap().unwrap().version_id;
    let mut rotated = second.clone();
    rotated.current_version = 2;
    rotated.revision = 2;
    assert_conflict(s.add_version(&rotated, 1, &dup_version).await, Conflict::Duplicate);
    assert_eq!(s.get_key(second.id).await.unwrap().as_ref(), Some(&second));
}

/// Versions are added with a compare-and-swap on the key, atomically, and listed oldest first.
pub async fn versions(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let k = put_key(s, key(acc, &gz(), "rotating", T0), true).await;
    let mut current = k.clone();
    let mut all = vec![s.get_version(k.id, 1).await.unwrap().unwrap()];
    for n in 2..=12u32 {
        let v = version_of(&k, n);
        let mut next = current.clone();
        next.current_version = n;
        next.last_rotated_at = T0 + u64::from(n);
        next.revision = current.revision + 1;
        s.add_version(&next, current.revision, &v).await.unwrap();
        all.push(v);
        current = next;
    }
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&current));
    assert_eq!(s.list_versions(k.id).await.unwrap(), all, "oldest first, numerically (10 after 9)");
    assert_eq!(s.get_version(k.id, 11).await.unwrap().as_ref(), Some(&all[10]));

    // A rotation that lost the race adds nothing.
    let mut stale = current.clone();
    stale.current_version = 13;
    stale.revision = current.revision + 1;
    assert_conflict(s.add_version(&stale, current.revision - 1, &version_of(&k, 13)).await, Conflict::Stale);
    assert!(s.get_version(k.id, 13).await.unwrap().is_none());

    // The same version number twice: Duplicate, and the key is not updated.
    let mut again = current.clone();
    again.revision = current.revision + 1;
    again.description = "must not stick".into();
    assert_conflict(s.add_version(&again, current.revision, &version_of(&k, 12)).await, Conflict::Duplicate);
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&current));
    assert_eq!(s.list_versions(k.id).await.unwrap(), all);

    // Versions of another key are not listed.
    let other = put_key(s, key(acc, &gz(), "other", T0), true).await;
    assert_eq!(s.list_versions(other.id).await.unwrap().len(), 1);
}

/// `remove_versions` deletes every version and updates the key, atomically, with a CAS.
pub async fn remove_versions(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut k = key(acc, &gz(), "imported", T0);
    k.origin = Origin::External;
    k.material_fingerprint = vec![9; 32];
    let k = put_key(s, k, true).await;
    let mut rotated = k.clone();
    rotated.current_version = 2;
    rotated.revision = 2;
    s.add_version(&rotated, 1, &version_of(&k, 2)).await.unwrap();
    let keep = put_key(s, key(acc, &gz(), "untouched", T0), true).await;

    let mut gone = rotated.clone();
    gone.state = KeyState::PendingImport;
    gone.revision = 3;
    assert_conflict(s.remove_versions(&gone, 1).await, Conflict::Stale);
    assert_eq!(s.list_versions(k.id).await.unwrap().len(), 2, "a stale removal removes nothing");

    s.remove_versions(&gone, 2).await.unwrap();
    assert!(s.list_versions(k.id).await.unwrap().is_empty());
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&gone));
    assert_eq!(s.list_versions(keep.id).await.unwrap().len(), 1);
    let walked = s.sealed_values(None, 100).await.unwrap();
    assert!(
        !walked.iter().any(|v| matches!(v.place, SealedPlace::KeyVersion { key_id, .. } if key_id == k.id)),
        "removed material is not walked for re-sealing"
    );
}

/// Aliases: unique per account and region, repointed, deleted.
pub async fn aliases(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let k1 = put_key(s, key(acc, &gz(), "k1", T0), true).await;
    let k2 = put_key(s, key(acc, &gz(), "k2", T0), true).await;
    let a = alias(acc, &gz(), "alias/app", k1.id, T0);
    s.insert_alias(&a).await.unwrap();
    assert_eq!(s.get_alias(acc, &gz(), "alias/app").await.unwrap().as_ref(), Some(&a));
    assert_conflict(s.insert_alias(&alias(acc, &gz(), "alias/app", k2.id, T0 + 1)).await, Conflict::Alias);
    assert_eq!(s.get_alias(acc, &gz(), "alias/app").await.unwrap().as_ref(), Some(&a), "the first one stays");

    // Another region or account may hold the same name.
    let elsewhere = alias(acc, &region("ap-beijing"), "alias/app", k2.id, T0);
    s.insert_alias(&elsewhere).await.unwrap();
    let theirs = alias(other, &gz(), "alias/app", k2.id, T0);
    s.insert_alias(&theirs).await.unwrap();
    assert!(s.get_alias(acc, &gz(), "alias/none").await.unwrap().is_none());
    assert!(s.get_alias(acc, &region("ap-tokyo"), "alias/app").await.unwrap().is_none());

    assert!(s.update_alias(acc, &gz(), "alias/app", k2.id).await.unwrap());
    assert_eq!(s.get_alias(acc, &gz(), "alias/app").await.unwrap().unwrap().key_id, k2.id);
    assert!(!s.update_alias(acc, &gz(), "alias/none", k2.id).await.unwrap());
    assert!(!s.update_alias(acc, &region("ap-tokyo"), "alias/app", k2.id).await.unwrap());

    assert!(s.delete_alias(acc, &gz(), "alias/app").await.unwrap());
    assert!(!s.delete_alias(acc, &gz(), "alias/app").await.unwrap());
    assert!(s.get_alias(acc, &gz(), "alias/app").await.unwrap().is_none());
    assert_eq!(s.get_alias(acc, &region("ap-beijing"), "alias/app").await.unwrap().as_ref(), Some(&elsewhere));
    assert_eq!(s.get_alias(other, &gz(), "alias/app").await.unwrap().as_ref(), Some(&theirs));
    // The name is free again.
    s.insert_alias(&alias(acc, &gz(), "alias/app", k1.id, T0 + 2)).await.unwrap();
}

/// Alias listings: by name (byte order), of one key if asked, paged, with the total.
pub async fn alias_listing(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let k1 = put_key(s, key(acc, &gz(), "k1", T0), true).await;
    let k2 = put_key(s, key(acc, &gz(), "k2", T0), true).await;
    let names = ["alias/b", "alias/A", "alias/a", "alias/c_1", "alias/c%", "alias/B"];
    for (n, name) in names.iter().enumerate() {
        let target = if n % 2 == 0 { k1.id } else { k2.id };
        s.insert_alias(&alias(acc, &gz(), name, target, T0 + 10 - n as u64)).await.unwrap();
    }
    s.insert_alias(&alias(acc, &region("ap-beijing"), "alias/x", k1.id, T0)).await.unwrap();
    s.insert_alias(&alias(other, &gz(), "alias/y", k1.id, T0)).await.unwrap();

    let mut want: Vec<&str> = names.to_vec();
    want.sort_unstable();
    let (all, total) = s.list_aliases(acc, &gz(), None, 0, 100).await.unwrap();
    assert_eq!(total, 6);
    assert_eq!(all.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), want, "byte order of the names");

    let mut paged = Vec::new();
    for offset in (0..8).step_by(4) {
        let (page, total) = s.list_aliases(acc, &gz(), None, offset, 4).await.unwrap();
        assert_eq!(total, 6, "the total does not depend on the page");
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let (beyond, total) = s.list_aliases(acc, &gz(), None, 50, 10).await.unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 6);

    let (of_k2, total) = s.list_aliases(acc, &gz(), Some(k2.id), 0, 100).await.unwrap();
    assert_eq!(total, 3);
    assert!(of_k2.iter().all(|a| a.key_id == k2.id));
    let (page, total) = s.list_aliases(acc, &gz(), Some(k2.id), 1, 1).await.unwrap();
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(page[0], of_k2[1]);
    let (none, total) = s.list_aliases(acc, &gz(), Some(Uuid::new_v4()), 0, 10).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(total, 0);
}

fn filter() -> KeyFilter {
    KeyFilter { limit: 100, order: Order::OldestFirst, ..Default::default() }
}

/// Each filter field of `list_keys` alone and together; accounts and regions never mix.
pub async fn key_listing_filters(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let mut made = Vec::new();
    let shapes = [
        (KeyState::Enabled, Origin::Generated, KeyUsage::EncryptDecrypt, KeySpec::Aes256),
        (KeyState::Disabled, Origin::Generated, KeyUsage::EncryptDecrypt, KeySpec::Sm4),
        (KeyState::PendingDelete, Origin::External, KeyUsage::EncryptDecrypt, KeySpec::Aes256),
        (KeyState::PendingImport, Origin::External, KeyUsage::EncryptDecrypt, KeySpec::Sm4),
        (KeyState::Enabled, Origin::Generated, KeyUsage::SignVerify, KeySpec::EcP256),
        (KeyState::Archived, Origin::Generated, KeyUsage::SignVerify, KeySpec::Rsa2048),
        (KeyState::Enabled, Origin::Generated, KeyUsage::GenerateVerifyMac, KeySpec::HmacSha256),
    ];
    for (n, (state, origin, usage, spec)) in shapes.into_iter().enumerate() {
        let mut k = key(acc, &gz(), &format!("k{n}"), T0 + n as u64);
        (k.state, k.origin, k.usage, k.spec) = (state, origin, usage, spec);
        made.push(put_key(s, k, state != KeyState::PendingImport).await);
    }
    put_key(s, key(acc, &region("ap-shanghai"), "elsewhere", T0), true).await;
    put_key(s, key(other, &gz(), "theirs", T0), true).await;

    let pick = |f: &dyn Fn(&ferrokms_core::model::KeyRecord) -> bool| {
        made.iter().filter(|k| f(k)).map(|k| k.id).collect::<Vec<_>>()
    };
    let run = |f: KeyFilter| async move {
        let (keys, total) = s.list_keys(acc, &gz(), &f).await.unwrap();
        assert_eq!(total, keys.len() as u64, "limit 100 shows everything");
        keys
    };

    let all = run(filter()).await;
    assert_eq!(all, made, "whole records, oldest first");

    let f = KeyFilter { states: vec![KeyState::Enabled], ..filter() };
    assert_eq!(key_ids(&run(f).await), pick(&|k| k.state == KeyState::Enabled));
    let f = KeyFilter { states: vec![KeyState::Disabled, KeyState::PendingDelete, KeyState::Archived], ..filter() };
    assert_eq!(
        key_ids(&run(f).await),
        pick(&|k| matches!(k.state, KeyState::Disabled | KeyState::PendingDelete | KeyState::Archived))
    );
    let f = KeyFilter { origin: Some(Origin::External), ..filter() };
    assert_eq!(key_ids(&run(f).await), pick(&|k| k.origin == Origin::External));
    let f = KeyFilter { usages: vec![KeyUsage::SignVerify, KeyUsage::GenerateVerifyMac], ..filter() };
    assert_eq!(key_ids(&run(f).await), pick(&|k| k.usage != KeyUsage::EncryptDecrypt));
    let f = KeyFilter { specs: vec![KeySpec::Sm4], ..filter() };
    assert_eq!(key_ids(&run(f).await), pick(&|k| k.spec == KeySpec::Sm4));
    let f = KeyFilter {
        states: vec![KeyState::Enabled, KeyState::PendingImport],
        origin: Some(Origin::Generated),
        usages: vec![KeyUsage::EncryptDecrypt, KeyUsage::SignVerify],
        specs: vec![KeySpec::Aes256, KeySpec::EcP256, KeySpec::Sm4],
        ..filter()
    };
    assert_eq!(key_ids(&run(f).await), vec![made[0].id, made[4].id], "every filter must match");
    let f = KeyFilter { specs: vec![KeySpec::MlKem768], ..filter() };
    assert!(run(f).await.is_empty());

    let (theirs, total) = s.list_keys(other, &gz(), &filter()).await.unwrap();
    assert_eq!((theirs.len(), total), (1, 1));
    assert_eq!(theirs[0].alias, "theirs");
    let (none, total) = s.list_keys(acc, &region("ap-tokyo"), &filter()).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(total, 0);
}

/// The search matches a substring of the id or the alias, ASCII letters in either case, and
/// takes `%`, `_` and `\` literally.
pub async fn key_listing_search(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let aliases = ["payments-prod", "Payments-Dev", "100%_sure", "100x-sure", "back\\slash", "unrelated"];
    let mut made = Vec::new();
    for (n, a) in aliases.iter().enumerate() {
        made.push(put_key(s, key(acc, &gz(), a, T0 + n as u64), true).await);
    }
    let search = |text: &str| {
        let f = KeyFilter { search: Some(text.to_owned()), ..filter() };
        async move { s.list_keys(acc, &gz(), &f).await.unwrap() }
    };
    let aliases_of = |keys: Vec<ferrokms_core::model::KeyRecord>| keys.into_iter().map(|k| k.alias).collect::<Vec<_>>();

    assert_eq!(aliases_of(search("payments").await.0), ["payments-prod", "Payments-Dev"]);
    assert_eq!(aliases_of(search("PROD").await.0), ["payments-prod"]);
    assert_eq!(aliases_of(search("%_").await.0), ["100%_sure"], "% and _ are not wildcards");
    assert_eq!(aliases_of(search("0_").await.0), Vec::<String>::new());
    assert_eq!(aliases_of(search("k\\s").await.0), ["back\\slash"]);
    let (all, total) = search("").await;
    assert_eq!((all.len(), total), (aliases.len(), aliases.len() as u64), "an empty search matches everything");

    // A piece of an id finds the key.
    let target = &made[5];
    let piece = &target.id.to_string()[9..23];
    let (found, total) = search(piece).await;
    assert_eq!(total, 1);
    assert_eq!(found[0].id, target.id);
    let (found, _) = search(&target.id.to_string().to_uppercase()).await;
    assert_eq!(key_ids(&found), vec![target.id]);
}

/// Tag filters: every filter must match; a filter without values accepts any value; tags of
/// other accounts and of data keys never match.
pub async fn key_listing_tags(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let specs: [&[(&str, &str)]; 5] = [
        &[("env", "prod"), ("team", "a")],
        &[("env", "dev"), ("team", "a")],
        &[("env", "prod"), ("team", "b")],
        &[("team", "a")],
        &[],
    ];
    let mut made = Vec::new();
    for (n, t) in specs.iter().enumerate() {
        let mut k = key(acc, &gz(), &format!("t{n}"), T0 + n as u64);
        k.tags = tags(t);
        made.push(put_key(s, k, true).await);
    }
    let mut theirs = key(other, &gz(), "theirs", T0);
    theirs.tags = tags(&[("env", "prod"), ("team", "a")]);
    put_key(s, theirs.clone(), true).await;
    let mut dk = super::data_key(&theirs, "dk", T0);
    dk.account = acc;
    dk.tags = tags(&[("env", "prod"), ("team", "a")]);
    s.insert_data_key(&dk).await.unwrap();

    let by = |filters: Vec<TagFilter>| {
        let f = KeyFilter { tags: filters, ..filter() };
        async move {
            let (keys, total) = s.list_keys(acc, &gz(), &f).await.unwrap();
            assert_eq!(total, keys.len() as u64);
            key_ids(&keys)
        }
    };
    let tf = |k: &str, v: &[&str]| TagFilter { key: k.into(), values: v.iter().map(|s| (*s).to_owned()).collect() };
    let m = |n: &[usize]| n.iter().map(|&i| made[i].id).collect::<Vec<_>>();

    assert_eq!(by(vec![tf("env", &["prod"])]).await, m(&[0, 2]));
    assert_eq!(by(vec![tf("env", &["prod", "dev"])]).await, m(&[0, 1, 2]));
    assert_eq!(by(vec![tf("env", &[])]).await, m(&[0, 1, 2]), "no values: any value");
    assert_eq!(by(vec![tf("env", &["prod"]), tf("team", &["a"])]).await, m(&[0]));
    assert_eq!(by(vec![tf("team", &["a"]), tf("env", &[])]).await, m(&[0, 1]));
    assert_eq!(by(vec![tf("team", &["a", "b"])]).await, m(&[0, 1, 2, 3]));
    assert_eq!(by(vec![tf("env", &["staging"])]).await, m(&[]));
    assert_eq!(by(vec![tf("nope", &[])]).await, m(&[]));
    assert_eq!(by(vec![tf("ENV", &["prod"])]).await, m(&[]), "tag keys are exact");

    // Listed keys carry their tags.
    let (listed, _) =
        s.list_keys(acc, &gz(), &KeyFilter { tags: vec![tf("env", &["dev"])], ..filter() }).await.unwrap();
    assert_eq!(listed[0].tags, made[1].tags);
}

/// Newest or oldest first, keys created in the same second in the order they were stored, and
/// pages that add up to the whole listing.
pub async fn key_listing_order_and_paging(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    // Creation seconds out of insertion order, with ties.
    let seconds = [T0 + 5, T0, T0 + 5, T0 + 2, T0 + 5, T0, T0 + 9, T0 + 2, T0 + 5, T0 + 1, T0 + 5];
    let mut made = Vec::new();
    for (n, at) in seconds.iter().enumerate() {
        made.push(put_key(s, key(acc, &gz(), &format!("o{n}"), *at), true).await);
    }
    let mut oldest = made.clone();
    oldest.sort_by_key(|k| k.created_at); // stable: ties stay in insertion order
    let oldest = key_ids(&oldest);
    let mut newest = oldest.clone();
    newest.reverse();

    for (order, want) in [(Order::OldestFirst, &oldest), (Order::NewestFirst, &newest)] {
        let f = KeyFilter { order, limit: 100, ..Default::default() };
        let (all, total) = s.list_keys(acc, &gz(), &f).await.unwrap();
        assert_eq!(total, seconds.len() as u64);
        assert_eq!(&key_ids(&all), want, "{order:?}");
        for size in [1u64, 3, 4] {
            let mut paged = Vec::new();
            let mut offset = 0;
            while offset < total + size {
                let f = KeyFilter { order, limit: size, offset, ..Default::default() };
                let (page, t) = s.list_keys(acc, &gz(), &f).await.unwrap();
                assert_eq!(t, total, "the total does not depend on the page");
                assert!(page.len() as u64 <= size);
                paged.extend(key_ids(&page));
                offset += size;
            }
            assert_eq!(&paged, want, "{order:?} in pages of {size}");
        }
    }
    // The default order is newest first.
    let (all, _) = s.list_keys(acc, &gz(), &KeyFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(key_ids(&all), newest);
    // Paging applies after filtering.
    let f =
        KeyFilter { search: Some("o1".into()), order: Order::OldestFirst, limit: 1, offset: 1, ..Default::default() };
    let (page, total) = s.list_keys(acc, &gz(), &f).await.unwrap();
    assert_eq!(total, 2, "o1 and o10");
    assert_eq!(page[0].id, made[10].id, "o1 (T0) comes before o10 (T0 + 5)");
}

/// Counts: every region of the account, nothing of other accounts.
pub async fn counts(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    assert_eq!(s.count_keys(acc).await.unwrap(), 0);
    assert_eq!(s.count_data_keys(acc).await.unwrap(), 0);
    let k = put_key(s, key(acc, &gz(), "a", T0), true).await;
    put_key(s, key(acc, &region("ap-beijing"), "b", T0), true).await;
    let mut pending = key(acc, &region("ap-tokyo"), "c", T0);
    pending.state = KeyState::PendingDelete;
    put_key(s, pending, true).await;
    put_key(s, key(other, &gz(), "d", T0), true).await;
    assert_eq!(s.count_keys(acc).await.unwrap(), 3);
    assert_eq!(s.count_keys(other).await.unwrap(), 1);

    s.insert_data_key(&super::data_key(&k, "x", T0)).await.unwrap();
    let mut elsewhere = super::data_key(&k, "x", T0);
    elsewhere.region = region("ap-beijing");
    s.insert_data_key(&elsewhere).await.unwrap();
    assert_eq!(s.count_data_keys(acc).await.unwrap(), 2);
    assert_eq!(s.count_data_keys(other).await.unwrap(), 0);
}

/// `delete_key` deletes a due PendingDelete key with everything hanging off it, and nothing else.
pub async fn key_deletion(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut doomed = key(acc, &gz(), "doomed", T0);
    doomed.state = KeyState::PendingDelete;
    doomed.deletion_date = T0 + 100;
    doomed.tags = tags(&[("env", "prod")]);
    let doomed = put_key(s, doomed, true).await;
    let mut rotated = doomed.clone();
    rotated.current_version = 2;
    rotated.revision = 2;
    s.add_version(&rotated, 1, &version_of(&doomed, 2)).await.unwrap();
    s.insert_alias(&alias(acc, &gz(), "alias/doomed", doomed.id, T0)).await.unwrap();
    s.bind_resource(doomed.id, "cos", "bucket-1").await.unwrap();
    let mut neighbour = key(acc, &gz(), "neighbour", T0);
    neighbour.tags = tags(&[("env", "prod")]);
    let neighbour = put_key(s, neighbour, true).await;
    s.insert_alias(&alias(acc, &gz(), "alias/neighbour", neighbour.id, T0)).await.unwrap();
    s.bind_resource(neighbour.id, "cos", "bucket-1").await.unwrap();

    assert!(!s.delete_key(doomed.id, T0 + 99).await.unwrap(), "not due yet");
    assert!(s.get_key(doomed.id).await.unwrap().is_some());
    assert!(!s.delete_key(neighbour.id, T0 + 1000).await.unwrap(), "not PendingDelete");
    assert!(!s.delete_key(Uuid::new_v4(), T0 + 1000).await.unwrap(), "no such key");

    assert!(s.delete_key(doomed.id, T0 + 100).await.unwrap(), "due at its deletion date");
    assert!(s.get_key(doomed.id).await.unwrap().is_none());
    assert!(s.list_versions(doomed.id).await.unwrap().is_empty());
    assert!(s.get_alias(acc, &gz(), "alias/doomed").await.unwrap().is_none());
    assert!(!s.unbind_resource(doomed.id, "cos", "bucket-1").await.unwrap(), "its bindings went");
    assert!(!s.delete_key(doomed.id, T0 + 1000).await.unwrap(), "deleted once");
    let f = KeyFilter { tags: vec![TagFilter { key: "env".into(), values: vec![] }], ..filter() };
    assert_eq!(key_ids(&s.list_keys(acc, &gz(), &f).await.unwrap().0), vec![neighbour.id]);

    // A key stored again under the same id (a restore) starts without the old tags.
    let mut reborn = key(acc, &gz(), "reborn", T0);
    reborn.id = doomed.id;
    put_key(s, reborn.clone(), true).await;
    assert_eq!(s.get_key(doomed.id).await.unwrap().as_ref(), Some(&reborn));

    // The neighbour kept everything.
    assert_eq!(s.get_key(neighbour.id).await.unwrap().as_ref(), Some(&neighbour));
    assert!(s.get_alias(acc, &gz(), "alias/neighbour").await.unwrap().is_some());
    assert!(s.unbind_resource(neighbour.id, "cos", "bucket-1").await.unwrap());
}

/// A deletion pass that read a key as due, racing a CancelKeyDeletion that won: the key stays.
pub async fn deletion_racing_a_cancel(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut k = key(acc, &gz(), "saved", T0);
    k.state = KeyState::PendingDelete;
    k.deletion_date = T0 + 10;
    let k = put_key(s, k, true).await;
    let due = s.keys_due_for_deletion(T0 + 20).await.unwrap();
    assert_eq!(key_ids(&due), vec![k.id]);

    let mut cancelled = k.clone();
    cancelled.state = KeyState::Disabled;
    cancelled.deletion_date = 0;
    cancelled.revision = 2;
    s.update_key(&cancelled, 1).await.unwrap();
    assert!(!s.delete_key(k.id, T0 + 20).await.unwrap(), "the cancellation won");
    assert_eq!(s.get_key(k.id).await.unwrap().as_ref(), Some(&cancelled));

    // Rescheduled later than the pass's due time: still kept.
    let mut later = cancelled.clone();
    later.state = KeyState::PendingDelete;
    later.deletion_date = T0 + 500;
    later.revision = 3;
    s.update_key(&later, 2).await.unwrap();
    assert!(!s.delete_key(k.id, T0 + 20).await.unwrap());
    assert!(s.get_key(k.id).await.unwrap().is_some());
    assert!(s.delete_key(k.id, T0 + 500).await.unwrap());
}

/// Keys in PendingDelete whose date has come, of every account and region.
pub async fn keys_due_for_deletion(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let other = account(s).await;
    let mut want = Vec::new();
    for (n, (owner, reg, state, date)) in [
        (acc, gz(), KeyState::PendingDelete, T0 + 10),
        (acc, gz(), KeyState::PendingDelete, T0 + 20),
        (acc, region("ap-beijing"), KeyState::PendingDelete, T0 + 5),
        (other, gz(), KeyState::PendingDelete, T0 + 20),
        (acc, gz(), KeyState::PendingDelete, T0 + 21),
        (acc, gz(), KeyState::Enabled, T0 + 5),
        (acc, gz(), KeyState::Disabled, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut k = key(owner, &reg, &format!("d{n}"), T0);
        k.state = state;
        k.deletion_date = date;
        let k = put_key(s, k, true).await;
        if state == KeyState::PendingDelete && date <= T0 + 20 {
            want.push(k.id);
        }
    }
    assert_eq!(sorted(key_ids(&s.keys_due_for_deletion(T0 + 20).await.unwrap())), sorted(want));
    assert!(s.keys_due_for_deletion(T0 + 4).await.unwrap().is_empty());
    let due = s.keys_due_for_deletion(T0 + 1000).await.unwrap();
    assert_eq!(due.len(), 5);
    assert!(due.iter().all(|k| k.state == KeyState::PendingDelete));
}

/// Enabled keys with rotation on whose next rotation time has come; whole records with tags.
pub async fn keys_due_for_rotation(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut want = Vec::new();
    for (n, (state, on, next)) in [
        (KeyState::Enabled, true, T0 + 10),
        (KeyState::Enabled, true, T0 + 20),
        (KeyState::Enabled, true, T0 + 21),
        (KeyState::Enabled, true, 0),
        (KeyState::Enabled, false, T0 + 5),
        (KeyState::Disabled, true, T0 + 5),
        (KeyState::PendingDelete, true, T0 + 5),
        (KeyState::Archived, true, T0 + 5),
    ]
    .into_iter()
    .enumerate()
    {
        let mut k = key(acc, &gz(), &format!("r{n}"), T0);
        k.state = state;
        k.rotation_enabled = on;
        k.rotation_interval = 86_400;
        k.next_rotation_at = next;
        k.tags = tags(&[("n", &n.to_string())]);
        let k = put_key(s, k, true).await;
        if state == KeyState::Enabled && on && next > 0 && next <= T0 + 20 {
            want.push(k);
        }
    }
    let mut due = s.keys_due_for_rotation(T0 + 20).await.unwrap();
    due.sort_by_key(|k| k.id);
    want.sort_by_key(|k| k.id);
    assert_eq!(due, want, "whole records, tags included");
    assert!(s.keys_due_for_rotation(T0 + 9).await.unwrap().is_empty());
}

/// Keys whose imported material expired and that still hold it; whole records with tags.
pub async fn keys_with_expired_material(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let mut want = Vec::new();
    for (n, (state, expires)) in [
        (KeyState::Enabled, T0 + 10),
        (KeyState::Disabled, T0 + 20),
        (KeyState::Archived, T0 + 1),
        (KeyState::Enabled, T0 + 21),
        (KeyState::Enabled, 0),
        (KeyState::PendingImport, T0 + 5),
        (KeyState::PendingDelete, T0 + 5),
    ]
    .into_iter()
    .enumerate()
    {
        let mut k = key(acc, &gz(), &format!("m{n}"), T0);
        k.origin = Origin::External;
        k.state = state;
        k.material_expires_at = expires;
        k.tags = tags(&[("n", &n.to_string())]);
        let k = put_key(s, k, state != KeyState::PendingImport).await;
        if expires > 0 && expires <= T0 + 20 && !matches!(state, KeyState::PendingImport | KeyState::PendingDelete) {
            want.push(k);
        }
    }
    let mut due = s.keys_with_expired_material(T0 + 20).await.unwrap();
    due.sort_by_key(|k| k.id);
    want.sort_by_key(|k| k.id);
    assert_eq!(due, want);
    assert!(s.keys_with_expired_material(T0).await.unwrap().is_empty());
}

/// Bindings are idempotent to add and report whether they were there when removed.
pub async fn bindings(s: Arc<dyn Store>) {
    let s = &*s;
    let acc = account(s).await;
    let k = put_key(s, key(acc, &gz(), "bound", T0), true).await;
    s.bind_resource(k.id, "cbs", "disk-1").await.unwrap();
    s.bind_resource(k.id, "cbs", "disk-1").await.unwrap();
    s.bind_resource(k.id, "cbs", "disk-2").await.unwrap();
    s.bind_resource(k.id, "cos", "disk-1").await.unwrap();
    assert!(s.unbind_resource(k.id, "cbs", "disk-1").await.unwrap());
    assert!(!s.unbind_resource(k.id, "cbs", "disk-1").await.unwrap(), "bound twice, one binding");
    assert!(s.unbind_resource(k.id, "cbs", "disk-2").await.unwrap());
    assert!(s.unbind_resource(k.id, "cos", "disk-1").await.unwrap());
    assert!(!s.unbind_resource(k.id, "cos", "disk-1").await.unwrap());
    assert!(!s.unbind_resource(Uuid::new_v4(), "cos", "x").await.unwrap());
}
