//! The store conformance suite against PostgreSQL, each case in a fresh database
//! `ferrokms_t_<random>` that is dropped when the case ends (see
//! `ferrokms_store::conformance::pg` for which server, and `FERROKMS_TEST_PG_URL`).

use ferrokms_core::store::{Conflict, KeyFilter, Store, StoreError};
use ferrokms_store::PgStore;
use ferrokms_store::postgres::PgOptions;
use sqlx::{Connection, PgConnection};

use ferrokms_store::conformance::pg::{TempDatabase, base_url, open};

ferrokms_store::conformance_tests!(open);

/// Nodes starting together on one new database: the migrations run once (under the advisory
/// lock), every node opens, and they share rows and their revisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_a_database() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let url = db.url();
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = url.clone();
        opening.spawn(async move { PgStore::open(&url, &PgOptions::default()).await });
    }
    let mut nodes = Vec::new();
    while let Some(opened) = opening.join_next().await {
        nodes.push(opened.unwrap().expect("every node opens"));
    }
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ferrokms_migrations").fetch_one(&mut conn).await.unwrap();
    assert_eq!(applied, 3, "each migration applied once");
    let _ = conn.close().await;

    let (a, b) = (&nodes[0], &nodes[1]);
    let account = a.create_account("shared", 1).await.unwrap();
    assert_eq!(b.list_accounts().await.unwrap(), vec![account.clone()]);
    let mut k = ferrokms_core::model::KeyRecord {
        id: uuid::Uuid::new_v4(),
        account: account.id,
        region: ferrokms_core::model::Region("ap-guangzhou".into()),
        alias: "shared".into(),
        description: String::new(),
        usage: ferrokms_core::model::KeyUsage::EncryptDecrypt,
        spec: ferrokms_core::model::KeySpec::Aes256,
        origin: ferrokms_core::model::Origin::Generated,
        state: ferrokms_core::model::KeyState::Enabled,
        created_at: 1,
        deletion_date: 0,
        rotation_enabled: false,
        rotation_interval: 0,
        last_rotated_at: 0,
        next_rotation_at: 0,
        current_version: 0,
        deletion_protection: false,
        deletion_protection_description: String::new(),
        policy: String::new(),
        revision: 1,
        material_expires_at: 0,
        material_fingerprint: Vec::new(),
        tags: Vec::new(),
    };
    a.insert_key(&k, None).await.unwrap();
    assert_eq!(b.get_key(k.id).await.unwrap().as_ref(), Some(&k));
    // Both nodes update from revision 1 at once: exactly one wins.
    k.revision = 2;
    let (ka, kb) = (k.clone(), KeyRecordExt::with_description(&k, "from b"));
    let (ra, rb) = tokio::join!(a.update_key(&ka, 1), b.update_key(&kb, 1));
    let stale = [&ra, &rb].iter().filter(|r| matches!(r, Err(StoreError::Conflict(Conflict::Stale)))).count();
    assert_eq!((ra.is_ok() as u8 + rb.is_ok() as u8, stale), (1, 1), "{ra:?} {rb:?}");
    for n in nodes {
        n.close().await;
    }
}

trait KeyRecordExt {
    fn with_description(&self, text: &str) -> Self;
}

impl KeyRecordExt for ferrokms_core::model::KeyRecord {
    fn with_description(&self, text: &str) -> Self {
        Self { description: text.into(), ..self.clone() }
    }
}

/// A missing server is an error that names where it looked, not a hang.
#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let opts = PgOptions { acquire_timeout: std::time::Duration::from_secs(2), ..PgOptions::default() };
    let e = PgStore::open("postgres://nobody:secret-pw@127.0.0.1:1/nothing", &opts).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(!text.contains("secret-pw"), "the password is not shown: {text}");

    // A host that does not answer at all: bounded by the acquire timeout.
    let opts = PgOptions { acquire_timeout: std::time::Duration::from_secs(1), ..PgOptions::default() };
    let started = std::time::Instant::now();
    let e = PgStore::open("postgres://nobody:secret-pw@10.255.255.1:5432/nothing", &opts).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{e}");
    assert!(e.to_string().contains("10.255.255.1"), "{e}");
}

/// A node configured with one connection still serves: the connections the store keeps for
/// itself (the change listener's, the two group-commit writers') come on top of it, so they
/// never leave requests waiting for the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_still_serves_everything() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let opts =
        PgOptions { max_connections: 1, acquire_timeout: std::time::Duration::from_secs(3), ..PgOptions::default() };
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(PgStore::open(&db.url(), &opts).await.unwrap());
    let work = async {
        ferrokms_store::conformance::group_commit_many(store.clone()).await;
        ferrokms_store::conformance::nonces_at_once(store.clone()).await;
        ferrokms_store::conformance::keys_round_trip(store.clone()).await;
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), work).await.expect("no request starves");
}

/// A listing held up past its time limit (here by a lock that blocks every read of the table)
/// is stopped and answered as `Interrupted`; the store keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_past_its_time_limit_is_stopped() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let opts = PgOptions { listing_time_limit: std::time::Duration::from_millis(300), ..PgOptions::default() };
    let store = PgStore::open(&db.url(), &opts).await.unwrap();
    let account = store.create_account("a", 1).await.unwrap().id;
    let region = ferrokms_core::model::Region("ap-guangzhou".into());

    let mut blocker = PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE keys IN ACCESS EXCLUSIVE MODE").execute(&mut blocker).await.unwrap();
    let started = std::time::Instant::now();
    let f = KeyFilter { limit: 10, ..Default::default() };
    let e = store.list_keys(account, &region, &f).await.unwrap_err();
    assert!(matches!(&e, StoreError::Interrupted(why) if why.contains("300 ms")), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "stopped at its limit, not the lock timeout");
    sqlx::raw_sql("ROLLBACK").execute(&mut blocker).await.unwrap();
    let _ = blocker.close().await;

    let (keys, total) = store.list_keys(account, &region, &f).await.unwrap();
    assert!(keys.is_empty() && total == 0);
    store.close().await;
}

/// The purge deletes every expired nonce, more than one of its chunks, and keeps the live
/// ones; a claim holding an expired row while the purge runs neither waits for it nor fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nonce_purge_goes_in_chunks_past_claims() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let store = std::sync::Arc::new(PgStore::open(&db.url(), &PgOptions::default()).await.unwrap());
    let now = ferrokms_core::model::now();
    let account = ferrokms_core::model::AccountId(1);
    let mut conn = PgConnection::connect(&db.url()).await.unwrap();
    sqlx::query(
        "INSERT INTO nonces (account_id, nonce, expires_at) \
         SELECT 1, convert_to('old' || g, 'UTF8'), 1 FROM generate_series(1, 2500) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(store.claim_nonce(account, b"live", now + 900).await.unwrap());
    // A transaction holding one expired row, as a claim taking it over does.
    let mut holder = PgConnection::connect(&db.url()).await.unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM nonces WHERE nonce = convert_to('old7', 'UTF8') FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), store.purge_nonces(now))
        .await
        .expect("the purge does not wait for a held row")
        .unwrap();
    tx.rollback().await.unwrap();
    let left: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT nonce FROM nonces ORDER BY nonce").fetch_all(&mut conn).await.unwrap();
    assert_eq!(left, vec![b"live".to_vec(), b"old7".to_vec()], "all expired but the held one are gone");
    let _ = conn.close().await;
}

/// The connections the group-commit writers keep are tested again after they waited: with every
/// connection of the store cut by the server while it was idle (a restart, a proxy's idle
/// timeout), the next nonce claim and data key batch succeed at the first try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_connections_cut_while_idle_are_not_used() {
    let Some(base) = base_url() else { return };
    let db = TempDatabase::create(&base).await;
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(PgStore::open(&db.url(), &PgOptions::default()).await.unwrap());
    let now = ferrokms_core::model::now();
    let account = ferrokms_core::model::AccountId(1);
    assert!(store.claim_nonce(account, b"before", now + 900).await.unwrap());
    ferrokms_store::conformance::group_commit_many(store.clone()).await;
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(cut.len() >= 2, "the writers' connections were cut: {cut:?}");
    let _ = admin.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(store.claim_nonce(account, b"after", now + 900).await.expect("the nonce writer reconnects"));
    ferrokms_store::conformance::group_commit_many(store.clone()).await;
}
