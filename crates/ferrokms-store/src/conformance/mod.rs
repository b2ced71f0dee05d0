//! The store conformance suite: what every [`Store`] backend must do, as one `pub async fn` per
//! case, each taking a fresh, empty store.
//!
//! A backend runs it with [`conformance_tests!`](crate::conformance_tests), which expands every
//! case into its own `#[tokio::test]` (so the test runner runs them in parallel):
//!
//! ```ignore
//! async fn open() -> (Arc<dyn Store>, Cleanup) { /* a fresh, empty store */ }
//! ferrokms_store::conformance_tests!(open);
//! ```
//!
//! `open` returns the store and a guard dropped when the case ends (also when it fails): the
//! place to remove a temporary file or drop a temporary database. [`suite`] runs every case in
//! turn instead.
//!
//! The cases assert behaviour the service relies on, not an implementation: revisions are
//! compare-and-swap, every uniqueness rule answers its own [`Conflict`], listings are filtered,
//! ordered and paged the same way by every backend, failed writes leave nothing behind.

mod data_keys;
mod keys;
mod misc;
pub mod pg;

use std::future::Future;
use std::sync::Arc;

use ferrokms_core::model::{
    AccessKeyRecord, AccountId, AliasRecord, DataKeyRecord, KeyRecord, KeySpec, KeyState, KeyUsage, Origin, Region,
    Tag, VersionRecord,
};
use ferrokms_core::store::{Conflict, Store, StoreError};
use uuid::Uuid;

pub use data_keys::*;
pub use keys::*;
pub use misc::*;

/// Expands every conformance case into a `#[tokio::test]` over the stores `$open` makes.
///
/// `$open` is an `async fn() -> (Arc<dyn Store>, G)`: a fresh, empty store and a guard dropped
/// after the case (clean-up); or `-> Option<(Arc<dyn Store>, G)>`, `None` skipping the case (a
/// backend switched off on purpose, never one that is merely missing). The list of cases is
/// here, once; [`suite`] runs the same list.
#[macro_export]
macro_rules! conformance_tests {
    (@cases $mode:ident $arg:tt) => {
        $crate::conformance_tests!(@go $mode $arg;
            accounts,
            access_keys,
            keys_round_trip,
            key_revisions,
            key_conflicts,
            versions,
            remove_versions,
            aliases,
            alias_listing,
            key_listing_filters,
            key_listing_search,
            key_listing_tags,
            key_listing_order_and_paging,
            counts,
            key_deletion,
            deletion_racing_a_cancel,
            keys_due_for_deletion,
            keys_due_for_rotation,
            keys_with_expired_material,
            bindings,
            data_keys_round_trip,
            data_key_revisions,
            data_key_conflicts,
            data_key_listing_filters,
            data_key_listing_order_and_paging,
            data_key_deletion,
            group_commit_with_failing_members,
            group_commit_many,
            group_commit_repeats_in_one_batch,
            group_commit_member_the_database_refuses,
            tagging,
            sealed_values_walk,
            replace_sealed,
            meta_values,
            first_account,
            nonces,
            nonces_at_once,
            background_lease,
            heartbeats,
            changes,
            ping,
        );
    };
    (@go tests $open:tt; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((store, guard)) = $crate::conformance::Fixture::into_parts($open().await) else {
                    eprintln!("skipped: the backend is switched off for this run");
                    return;
                };
                $crate::conformance::$case(::std::sync::Arc::clone(&store)).await;
                store.close().await;
                drop(store);
                drop(guard);
            }
        )*
    };
    (@go suite $new:tt; $($case:ident),* $(,)?) => {
        $(
            let (store, guard) = $new().await;
            $case(::std::sync::Arc::clone(&store)).await;
            store.close().await;
            drop(store);
            drop(guard);
        )*
    };
    ($open:path) => {
        $crate::conformance_tests!(@cases tests $open);
    };
}

/// What `conformance_tests!`'s `$open` may answer.
pub trait Fixture {
    /// Dropped after the case.
    type Guard;
    /// The store and its guard, or `None` to skip the case.
    fn into_parts(self) -> Option<(Arc<dyn Store>, Self::Guard)>;
}

impl<G> Fixture for (Arc<dyn Store>, G) {
    type Guard = G;
    fn into_parts(self) -> Option<(Arc<dyn Store>, G)> {
        Some(self)
    }
}

impl<G> Fixture for Option<(Arc<dyn Store>, G)> {
    type Guard = G;
    fn into_parts(self) -> Option<(Arc<dyn Store>, G)> {
        self
    }
}

/// Runs every case in turn, each on a fresh store from `new_store`.
pub async fn suite<S, G, F, Fut>(new_store: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = (Arc<S>, G)>,
{
    let new = || async {
        let (s, g) = new_store().await;
        (s as Arc<dyn Store>, g)
    };
    crate::conformance_tests!(@cases suite new);
}

// ---- builders shared by the cases ----

/// A time well inside the range every backend stores.
pub(crate) const T0: u64 = 1_764_000_000;

pub(crate) fn region(name: &str) -> Region {
    Region(name.to_owned())
}

pub(crate) fn gz() -> Region {
    region("ap-guangzhou")
}

pub(crate) fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    let mut out: Vec<Tag> = pairs.iter().map(|(k, v)| Tag { key: (*k).to_owned(), value: (*v).to_owned() }).collect();
    out.sort();
    out
}

/// An Enabled AES key of `account` in `region` with alias `alias`, created at `created_at`.
pub(crate) fn key(account: AccountId, region: &Region, alias: &str, created_at: u64) -> KeyRecord {
    KeyRecord {
        id: Uuid::new_v4(),
        account,
        region: region.clone(),
        alias: alias.to_owned(),
        description: format!("key {alias}"),
        usage: KeyUsage::EncryptDecrypt,
        spec: KeySpec::Aes256,
        origin: Origin::Generated,
        state: KeyState::Enabled,
        created_at,
        deletion_date: 0,
        rotation_enabled: false,
        rotation_interval: 0,
        last_rotated_at: 0,
        next_rotation_at: 0,
        current_version: 1,
        deletion_protection: false,
        deletion_protection_description: String::new(),
        policy: String::new(),
        revision: 1,
        material_expires_at: 0,
        material_fingerprint: Vec::new(),
        tags: Vec::new(),
    }
}

/// Version `version` of `key`, with recognisable sealed bytes.
pub(crate) fn version_of(key: &KeyRecord, version: u32) -> VersionRecord {
    let mut sealed = b"sealed\x00\xff".to_vec();
    sealed.extend_from_slice(key.id.as_bytes());
    sealed.extend_from_slice(&version.to_be_bytes());
    VersionRecord {
        key_id: key.id,
        version,
        version_id: Uuid::new_v4(),
        sealed_material: sealed,
        created_at: key.created_at + u64::from(version),
    }
}

/// An Enabled hosted data key under `cmk` named `name`.
pub(crate) fn data_key(cmk: &KeyRecord, name: &str, created_at: u64) -> DataKeyRecord {
    DataKeyRecord {
        id: Uuid::new_v4(),
        account: cmk.account,
        region: cmk.region.clone(),
        key_id: cmk.id,
        name: name.to_owned(),
        description: format!("data key {name}"),
        number_of_bytes: 32,
        origin: Origin::Generated,
        state: KeyState::Enabled,
        created_at,
        deletion_date: 0,
        ciphertext: [b"ct\x00\x01\xfe".as_slice(), name.as_bytes()].concat(),
        context: br#"{"a":"b"}"#.to_vec(),
        revision: 1,
        tags: Vec::new(),
    }
}

pub(crate) fn access_key(id: &str, account: AccountId, created_at: u64) -> AccessKeyRecord {
    AccessKeyRecord {
        id: id.to_owned(),
        account,
        sealed_secret: [b"secret\x00\xff".as_slice(), id.as_bytes()].concat(),
        active: true,
        created_at,
    }
}

pub(crate) fn alias(account: AccountId, region: &Region, name: &str, key_id: Uuid, created_at: u64) -> AliasRecord {
    AliasRecord { account, region: region.clone(), name: name.to_owned(), key_id, created_at }
}

/// A fresh account.
pub(crate) async fn account(s: &dyn Store) -> AccountId {
    s.create_account("tenant", T0).await.expect("create_account").id
}

/// Stores `k` (with version 1 if `with_version`), answering it.
pub(crate) async fn put_key(s: &dyn Store, k: KeyRecord, with_version: bool) -> KeyRecord {
    let v = with_version.then(|| version_of(&k, 1));
    s.insert_key(&k, v.as_ref()).await.expect("insert_key");
    k
}

/// Asserts `r` is the conflict `want`.
#[track_caller]
pub(crate) fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, want: Conflict) {
    match r {
        Err(StoreError::Conflict(c)) => assert_eq!(c, want, "wrong conflict kind"),
        other => panic!("expected Conflict::{want:?}, got {other:?}"),
    }
}

/// The ids of `records`, in order.
pub(crate) fn ids<T>(records: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    records.iter().map(id).collect()
}

pub(crate) fn key_ids(records: &[KeyRecord]) -> Vec<Uuid> {
    ids(records, |k| k.id)
}

pub(crate) fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}
