//! Work that falls due with time, against the real SQLite store in a fresh data directory:
//! scheduled deletions and rotations happen when their date passes, also after a restart, and
//! blobs of old versions keep decrypting. Dates are moved into the past through the store,
//! since the real windows are days long.

use std::path::Path;
use std::sync::Arc;

use ferrokms_core::context::EncryptionContext;
use ferrokms_core::model::{AccountId, KeyRecord, Region, Scope};
use ferrokms_core::service::{CreateKey, GenerateDataKey, HostedSpec, Kms};
use ferrokms_core::store::Store;
use ferrokms_core::{Error, model};
use ferrokms_crypto::blob::PayloadKind;
use ferrokms_server::config::{FileConfig, RootKeyConfig, RootKeySource};
use ferrokms_server::datadir;

async fn open(dir: &Path) -> (Arc<Kms>, Arc<dyn Store>) {
    let d = datadir::open(dir, &RootKeyConfig::of(RootKeySource::File)).await.unwrap();
    let store: Arc<dyn Store> = d.store.clone();
    (ferrokms_server::kms(&d, &FileConfig::default()).unwrap(), store)
}

fn scope() -> Scope {
    Scope { account: AccountId(100_000_000_001), region: Region::from_tencent("ap-guangzhou").unwrap() }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokms-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("data")
}

async fn backdate(store: &Arc<dyn Store>, key: KeyRecord, change: impl Fn(&mut KeyRecord)) {
    let mut k = store.get_key(key.id).await.unwrap().unwrap();
    let expected = k.revision;
    change(&mut k);
    k.revision += 1;
    store.update_key(&k, expected).await.unwrap();
}

fn create(alias: &str) -> CreateKey {
    CreateKey { alias: Some(alias.into()), ..CreateKey::default() }
}

#[tokio::test]
async fn scheduled_rotation_happens_when_due_and_old_blobs_still_decrypt() {
    let dir = temp_dir("rotation");
    let (kms, store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let key = kms.create_key(&s, create("rot")).await.unwrap();
    let none = EncryptionContext::default();
    let old = kms.encrypt(&s, key.id, b"before", PayloadKind::Bytes, &none).await.unwrap().blob;
    let key = kms.enable_key_rotation(&s, key.id, 30 * 86_400).await.unwrap();
    assert!(key.next_rotation_at >= model::now() + 29 * 86_400);
    assert_eq!(kms.run_due_work().await.unwrap().keys_rotated, 0, "not due yet");

    backdate(&store, key, |k| k.next_rotation_at = model::now() - 1).await;
    drop(kms);
    // A restart in between: the schedule is in the database.
    let (kms, _store) = open(&dir).await;
    let report = kms.run_due_work().await.unwrap();
    assert_eq!(report.keys_rotated, 1);
    let rotated = kms.describe_key(&s, store_key_id(&kms, &s).await).await.unwrap();
    assert_eq!(rotated.current_version, 2);
    assert!(rotated.next_rotation_at >= model::now() + 29 * 86_400, "next rotation rescheduled");
    let new = kms.encrypt(&s, rotated.id, b"after", PayloadKind::Bytes, &none).await.unwrap().blob;
    assert_eq!(&*kms.decrypt(&s, &old, &none).await.unwrap().plaintext, b"before");
    let opened = kms.decrypt(&s, &new, &none).await.unwrap();
    assert_eq!((opened.version, opened.plaintext.as_slice()), (2, &b"after"[..]));
    assert_eq!(kms.run_due_work().await.unwrap().keys_rotated, 0, "rotated once");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

async fn store_key_id(kms: &Kms, s: &Scope) -> uuid::Uuid {
    let (keys, _) =
        kms.list_keys(s, &ferrokms_core::store::KeyFilter { limit: 10, ..Default::default() }).await.unwrap();
    keys[0].id
}

#[tokio::test]
async fn deletion_happens_at_the_end_of_the_window_and_survives_restarts() {
    let dir = temp_dir("deletion");
    let (kms, store) = open(&dir).await;
    kms.create_account("a").await.unwrap();
    let s = scope();
    let key = kms.create_key(&s, create("del")).await.unwrap();
    let hosted = kms
        .generate_data_key(
            &s,
            GenerateDataKey {
                key_id: key.id,
                len: 32,
                context: EncryptionContext::default(),
                wrap: None,
                hosted: Some(HostedSpec { name: "dk".into(), description: String::new(), tags: vec![] }),
            },
        )
        .await
        .unwrap()
        .data_key_id
        .unwrap();
    kms.schedule_data_key_deletion(&s, hosted, 7).await.unwrap();
    kms.disable_key(&s, key.id).await.unwrap();
    let rules = ferrokms_core::service::DeletionRules { require_disabled: true, restore_to: model::KeyState::Disabled };
    let key = kms.schedule_key_deletion(&s, key.id, 7, rules).await.unwrap();
    assert_eq!(kms.run_due_work().await.unwrap().keys_deleted, 0, "window still open");

    backdate(&store, key.clone(), |k| k.deletion_date = model::now() - 1).await;
    let mut dk = store.get_data_key(hosted).await.unwrap().unwrap();
    let expected = dk.revision;
    dk.deletion_date = model::now() - 1;
    dk.revision += 1;
    store.update_data_key(&dk, expected).await.unwrap();
    drop(kms);

    let (kms, _) = open(&dir).await;
    let report = kms.run_due_work().await.unwrap();
    assert_eq!((report.keys_deleted, report.data_keys_deleted), (1, 1));
    assert!(matches!(kms.describe_key(&s, key.id).await, Err(Error::KeyNotFound)));
    assert!(matches!(kms.describe_data_key(&s, hosted).await, Err(Error::DataKeyNotFound)));
    assert!(kms.create_key(&s, create("del")).await.is_ok(), "the alias is free again");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// The periodic pass sweeps the replay memory: what a burst of requests left behind goes once its
/// timestamps expire, with no further request to trigger the expiry.
#[tokio::test]
async fn the_background_pass_empties_expired_replay_memory_without_new_traffic() {
    use ferrokms_core::replay::{Seen, SeenRequests};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    let dir = temp_dir("sweep");
    let (kms, _store) = open(&dir).await;
    // A 1-second skew window, so entries expire within about 3 s.
    let memory = Arc::new(SeenRequests::new(1, 10_000, 10_000));
    let now = i64::try_from(model::now()).unwrap();
    for i in 0..2_000u32 {
        assert_eq!(memory.check(AccountId(1), memory.identity(&[&i.to_be_bytes()]), 0, now, now), Seen::New);
    }
    let sweeps = Arc::new(AtomicUsize::new(0));
    let (m, n) = (Arc::clone(&memory), Arc::clone(&sweeps));
    let background = ferrokms_server::background::spawn(kms, Duration::from_millis(100), move || {
        n.fetch_add(1, Ordering::Relaxed);
        m.sweep(i64::try_from(model::now()).unwrap());
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while !memory.is_empty() {
        assert!(Instant::now() < deadline, "{} entries still held after 15 s", memory.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sweeps.load(Ordering::Relaxed) >= 2, "swept on every pass");
    background.stop(Duration::from_secs(5)).await;
}
