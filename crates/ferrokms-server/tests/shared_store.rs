//! Data directories over a shared store (PostgreSQL, a fresh database per test; see
//! `ferrokms_store::conformance::pg`): nodes holding the same root keys share keys and data,
//! a new data directory cannot take over a store in use, and a node with another root refuses
//! to start with a message that says what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrokms_core::context::EncryptionContext;
use ferrokms_core::model::{Region, Scope};
use ferrokms_core::service::{CreateKey, Kms};
use ferrokms_crypto::blob::PayloadKind;
use ferrokms_server::config::{FileConfig, RootKeyConfig, RootKeySource, StoreConfig};
use ferrokms_server::datadir::{self, DataDir};
use ferrokms_store::conformance::pg::{TempDatabase, base_url};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrokms-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("data")
}

fn store(url: &str) -> StoreConfig {
    StoreConfig { url: Some(url.to_owned()), ..StoreConfig::default() }
}

async fn open(dir: &Path, url: &str) -> Result<(Arc<Kms>, DataDir), String> {
    let d = datadir::open_with(dir, &RootKeyConfig::of(RootKeySource::File), &store(url)).await?;
    Ok((ferrokms_server::kms(&d, &FileConfig::default()).unwrap(), d))
}

fn copy_keyring(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["ferrokms.json", "root.key"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_the_same_root_share_a_store_and_others_are_refused() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let url = db.url();

    let a_dir = temp_dir("node-a");
    let (a, a_data) = open(&a_dir, &url).await.unwrap();
    assert!(!a_dir.join("ferrokms.db").exists(), "no SQLite file beside a PostgreSQL store");
    assert!(a_data.store_location.starts_with("postgres://") && a_data.store_location.contains("ferrokms_t_"));
    let account = a.create_account("shared").await.unwrap().id;
    let scope = Scope { account, region: Region::from_tencent("ap-guangzhou").unwrap() };
    let key = a.create_key(&scope, CreateKey::default()).await.unwrap();
    let ctx = EncryptionContext::default();
    let blob = a.encrypt(&scope, key.id, b"shared secret", PayloadKind::Bytes, &ctx).await.unwrap().blob;

    // A new data directory would make a new root: refused before it is made.
    let fresh = temp_dir("node-new");
    let e = open(&fresh, &url).await.err().expect("a new data directory on a store in use is refused");
    assert!(e.contains("already in use") && e.contains("Copy ferrokms.json"), "{e}");
    assert!(!fresh.join("ferrokms.json").exists(), "no root key was made");

    // A second node with a copy of the first one's keyring: same keys, same data.
    let b_dir = temp_dir("node-b");
    copy_keyring(&a_dir, &b_dir);
    let (b, b_data) = open(&b_dir, &url).await.unwrap();
    assert_eq!(&*b.decrypt(&scope, &blob, &ctx).await.unwrap().plaintext, b"shared secret");
    let from_b = b.encrypt(&scope, key.id, b"from b", PayloadKind::Bytes, &ctx).await.unwrap().blob;
    assert_eq!(&*a.decrypt(&scope, &from_b, &ctx).await.unwrap().plaintext, b"from b");

    // A node whose data directory holds another root (made against another store).
    let other_dir = temp_dir("node-other");
    let other = datadir::open(&other_dir, &RootKeyConfig::of(RootKeySource::File)).await.unwrap();
    other.store.close().await;
    // With a password in the URL (trust authentication ignores it), which no message repeats.
    let (scheme, rest) = url.split_once("://").unwrap();
    let with_password = match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') => format!("{scheme}://{user}:pw-marker-77@{host}"),
        _ => url.clone(),
    };
    assert!(with_password.contains("pw-marker-77"), "the test URL takes a password: {url}");
    let e = open(&other_dir, &with_password).await.err().expect("another root is refused");
    assert!(e.contains("does not match the store") && e.contains("postgres://"), "{e}");
    assert!(!e.contains("pw-marker-77"), "{e}");

    // The admin tool (or a restart) without the store's URL does not quietly start an empty
    // SQLite store in the data directory.
    let e = datadir::open(&b_dir, &RootKeyConfig::of(RootKeySource::File)).await.err().expect("refused");
    assert!(e.contains("does not exist") && e.contains("--store"), "{e}");
    assert!(!b_dir.join("ferrokms.db").exists());

    for d in [a_data, b_data] {
        d.store.close().await;
    }
    for dir in [a_dir, b_dir, fresh, other_dir] {
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }
}

#[tokio::test]
async fn a_bad_store_url_is_refused() {
    let dir = temp_dir("bad-url");
    let e = open(&dir, "postgress://kms:hunter2-marker@db/kms").await.err().unwrap();
    assert!(e.contains("expected sqlite://PATH or postgres://"), "{e}");
    assert!(!e.contains("hunter2-marker"), "the password of a mistyped URL is not repeated: {e}");
    assert!(e.contains("@db/kms"), "{e}");
    assert!(!dir.exists(), "nothing was created");
    // The scheme is not case-sensitive (as libpq's is not).
    assert!(datadir::StoreLocation::of(&dir, Some("POSTGRES://db/kms")).is_ok());
}

#[tokio::test]
async fn an_sqlite_url_puts_the_database_where_it_says() {
    let dir = temp_dir("sqlite-url");
    let file = dir.parent().unwrap().join("elsewhere.db");
    let (kms, d) = open(&dir, &format!("sqlite://{}", file.display())).await.unwrap();
    kms.create_account("a").await.unwrap();
    d.store.close().await;
    assert!(file.exists());
    assert!(!dir.join("ferrokms.db").exists());
    // Reopened through the same URL, with the same root.
    let (kms, d) = open(&dir, &format!("sqlite://{}", file.display())).await.unwrap();
    assert_eq!(kms.list_accounts().await.unwrap().len(), 1);
    d.store.close().await;
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// Two nodes doing the background pass at the same moment (without the lease that normally
/// keeps the second out): the revision compare-and-swap lets exactly one rotate a due key. With
/// the lease, one node does the pass and the other skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_running_the_pass_at_once_rotate_a_due_key_once() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let url = db.url();
    let a_dir = temp_dir("pass-a");
    let (a, a_data) = open(&a_dir, &url).await.unwrap();
    let b_dir = temp_dir("pass-b");
    copy_keyring(&a_dir, &b_dir);
    let (b, b_data) = open(&b_dir, &url).await.unwrap();
    let account = a.create_account("shared").await.unwrap().id;
    let scope = Scope { account, region: Region::from_tencent("ap-guangzhou").unwrap() };
    for round in 0..5 {
        let key = a.create_key(&scope, CreateKey::default()).await.unwrap();
        let key = a.enable_key_rotation(&scope, key.id, 30 * 86_400).await.unwrap();
        let mut due = a_data.store.get_key(key.id).await.unwrap().unwrap();
        let expected = due.revision;
        due.next_rotation_at = 1;
        due.revision += 1;
        a_data.store.update_key(&due, expected).await.unwrap();
        let (ra, rb) = tokio::join!(a.run_due_work_unleased(), b.run_due_work_unleased());
        let rotated = ra.unwrap().keys_rotated + rb.unwrap().keys_rotated;
        assert_eq!(rotated, 1, "round {round}: exactly one node rotated");
        assert_eq!(a_data.store.list_versions(key.id).await.unwrap().len(), 2, "round {round}: one new version");
    }
    // The lease: held by one node, the other's pass is skipped; released, it is free again.
    let lease = a_data.store.background_lease().await.unwrap().expect("free at first");
    assert!(b.run_due_work().await.unwrap().skipped, "another node holds the lease");
    assert!(b_data.store.background_lease().await.unwrap().is_none());
    drop(lease);
    let mut freed = false;
    for _ in 0..50 {
        if !b.run_due_work().await.unwrap().skipped {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "a dropped lease is released");
    a_data.store.close().await;
    b_data.store.close().await;
    let _ = std::fs::remove_dir_all(a_dir.parent().unwrap());
    let _ = std::fs::remove_dir_all(b_dir.parent().unwrap());
}
