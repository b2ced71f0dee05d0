//! Root-key rotation against the real SQLite store: after a rotation and its re-seal pass every
//! key version and access key secret is under the new root, a restart needs only the new root,
//! a value changed while the pass runs is not overwritten, and retiring the old root leaves
//! everything readable.

use std::path::Path;
use std::sync::Arc;

use ferrokms_core::context::EncryptionContext;
use ferrokms_core::model::{AccountId, Region, Scope};
use ferrokms_core::service::{CreateKey, Kms};
use ferrokms_core::store::Store;
use ferrokms_crypto::blob::PayloadKind;
use ferrokms_server::config::{FileConfig, RootKeyConfig, RootKeySource};
use ferrokms_server::datadir::{self, meta::Meta, roots};

async fn open(dir: &Path) -> (Arc<Kms>, datadir::DataDir) {
    let d = datadir::open(dir, &RootKeyConfig::of(RootKeySource::File)).await.unwrap();
    (ferrokms_server::kms(&d, &FileConfig::default()).unwrap(), d)
}

fn scope(account: AccountId) -> Scope {
    Scope { account, region: Region::from_tencent("ap-guangzhou").unwrap() }
}

#[tokio::test]
async fn rotation_reseals_everything_and_the_old_root_can_be_retired() {
    let base = std::env::temp_dir().join(format!("ferrokms-rootrot-{}", uuid::Uuid::new_v4()));
    let dir = base.join("data");
    let (kms, d) = open(&dir).await;
    let account = kms.create_account("a").await.unwrap().id;
    let access = kms.create_access_key(account, None).await.unwrap();
    let s = scope(account);
    let ctx = EncryptionContext::default();
    let mut blobs = Vec::new();
    for i in 0..20u8 {
        let key = kms.create_key(&s, CreateKey::default()).await.unwrap();
        let sealed = kms.encrypt(&s, key.id, &[i; 16], PayloadKind::Bytes, &ctx).await.unwrap();
        blobs.push((sealed.blob, i));
    }
    assert_eq!(
        kms.sealed_counts().await.unwrap().remaining.into_iter().collect::<Vec<_>>(),
        vec![(1, 22)],
        "20 key versions, an access key, the store's root check"
    );

    let unlocked = d.unlocked.clone().unwrap();
    let (meta, next) =
        roots::rotate(&dir, &d.meta, &unlocked, roots::NewRoot::File, &roots::Secrets::default(), 1).unwrap();
    kms.install_keyring(next.keyring());

    // A value that changes while the pass runs is not overwritten with a stale re-seal.
    let store: Arc<dyn Store> = d.store.clone();
    let page = store.sealed_values(None, 1).await.unwrap();
    assert!(!store.replace_sealed(&page[0].place, b"not what is stored", b"x").await.unwrap());

    let report = kms.reseal_pass().await.unwrap();
    assert_eq!(report.resealed, 22);
    assert_eq!(report.remaining.into_iter().collect::<Vec<_>>(), vec![(2, 22)]);
    assert_eq!(kms.reseal_pass().await.unwrap().resealed, 0, "a second pass has nothing to do");
    assert!(!dir.join("root.key").exists());
    d.store.close().await;
    drop(kms);

    // A restart: only root-2.key is on disk; root 1 unwraps under it.
    let (kms, d) = open(&dir).await;
    assert!(kms.credential(&access.id).await.unwrap().is_some(), "the access key secret was re-sealed");
    for (blob, i) in &blobs {
        assert_eq!(&*kms.decrypt(&s, blob, &ctx).await.unwrap().plaintext, &[*i; 16]);
    }
    let counts = kms.sealed_counts().await.unwrap().remaining;
    let (meta2, left, report) =
        roots::retire(&dir, &meta, d.unlocked.as_ref().unwrap(), &counts, ferrokms_core::model::now(), 0).unwrap();
    assert_eq!(report.retired, vec![1]);
    assert_eq!(left.ids(), vec![2]);
    assert_eq!(Meta::read(&dir).unwrap().roots.len(), meta2.roots.len());
    d.store.close().await;
    drop(kms);

    let (kms, d) = open(&dir).await;
    for (blob, i) in &blobs {
        assert_eq!(&*kms.decrypt(&s, blob, &ctx).await.unwrap().plaintext, &[*i; 16]);
    }
    d.store.close().await;
    std::fs::remove_dir_all(&base).unwrap();
}
