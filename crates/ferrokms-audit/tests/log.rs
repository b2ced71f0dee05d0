//! The writer and the verifier together, on real files: the chain across batches, files and
//! restarts; each kind of tampering found and named; checkpoint signatures; many concurrent
//! requests batched without a record lost or repeated; and a log that cannot be written failing
//! its requests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use ferrokms_audit::verify::{Report, verify_dir};
use ferrokms_audit::{AuditConfig, AuditLog, Dialect, Entry, Outcome, Signer};
use ferrokms_crypto::root::LocalRootKey;

fn temp_dir(name: &str) -> PathBuf {
    let n = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("ferrokms-audit-{name}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("audit")
}

fn root() -> LocalRootKey {
    LocalRootKey::from_bytes(&[7u8; 32]).unwrap()
}

fn entry(i: usize) -> Entry {
    Entry {
        time: SystemTime::now(),
        dialect: if i.is_multiple_of(2) { Dialect::Tencent } else { Dialect::Alibaba },
        source: Some("127.0.0.1:4000".parse().unwrap()),
        latency_us: 10,
        outcome: Outcome {
            request_id: format!("req-{i}"),
            action: Some("GenerateDataKey".into()),
            account: Some(1),
            access_key_id: Some("AKID1".into()),
            key_id: Some("k".into()),
            key_version: None,
            status: 200,
            code: "OK",
        },
    }
}

fn open(dir: &Path, cfg: impl FnOnce(&mut AuditConfig)) -> AuditLog {
    let mut c = AuditConfig::new(dir.to_path_buf());
    cfg(&mut c);
    AuditLog::open(c, Signer::load_or_create(dir, &root()).unwrap()).unwrap()
}

async fn write(log: &AuditLog, range: std::ops::Range<usize>) {
    for i in range {
        log.record(&entry(i)).await.unwrap();
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn put(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

fn first_file(dir: &Path) -> PathBuf {
    dir.join("audit-00000001.jsonl")
}

fn problems(r: &Report) -> String {
    r.problems.iter().map(|p| format!("{p}\n")).collect()
}

/// A log of 10 requests with a checkpoint every 4 records, closed (a final checkpoint).
async fn sample(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let log = open(&dir, |c| c.checkpoint_records = 4);
    write(&log, 0..10).await;
    log.close().await;
    dir
}

#[tokio::test]
async fn an_intact_log_verifies_across_restarts_and_files() {
    let dir = temp_dir("intact");
    let log = open(&dir, |c| c.max_file_bytes = 2000);
    write(&log, 0..20).await;
    log.close().await;
    drop(log);
    // A restart goes on with the chain, in a new file.
    let log = open(&dir, |_| {});
    write(&log, 20..25).await;
    log.close().await;
    let r = verify_dir(&dir, None);
    assert!(r.ok(), "{}", problems(&r));
    assert_eq!(r.records, 25);
    assert!(r.files >= 3, "{r}");
    assert_eq!(r.unsigned_tail, 0, "close signs the tail");
    // Every record is a JSON line with its fields.
    let all: Vec<serde_json::Value> = ferrokms_audit::writer::log_files(&dir)
        .unwrap()
        .flat_map(|(_, p)| lines(&p))
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    let requests: Vec<_> = all.iter().filter(|v| v["kind"] == "request").collect();
    assert_eq!(requests.len(), 25);
    for (i, v) in requests.iter().enumerate() {
        assert_eq!(v["request_id"], format!("req-{i}"));
        assert_eq!(v["action"], "GenerateDataKey");
    }
    for (i, v) in all.iter().enumerate() {
        assert_eq!(v["seq"], i as u64 + 1);
    }
}

#[tokio::test]
async fn an_edited_record_is_named() {
    let dir = sample("edit").await;
    let f = first_file(&dir);
    let mut l = lines(&f);
    l[2] = l[2].replace("\"code\":\"OK\"", "\"code\":\"NO\"");
    put(&f, &l);
    let r = verify_dir(&dir, None);
    assert!(!r.ok());
    let p = &r.problems[0];
    assert_eq!((p.line, p.seq), (Some(3), Some(3)), "{}", problems(&r));
    assert!(p.message.contains("edited"), "{p}");
}

#[tokio::test]
async fn a_removed_record_is_named() {
    let dir = sample("remove").await;
    let f = first_file(&dir);
    let mut l = lines(&f);
    l.remove(1);
    put(&f, &l);
    let r = verify_dir(&dir, None);
    let p = &r.problems[0];
    assert_eq!((p.line, p.seq), (Some(2), Some(3)), "{}", problems(&r));
    assert!(p.message.contains("records 2 to 2 are missing"), "{p}");
}

#[tokio::test]
async fn swapped_records_are_named() {
    let dir = sample("swap").await;
    let f = first_file(&dir);
    let mut l = lines(&f);
    l.swap(1, 2);
    put(&f, &l);
    let r = verify_dir(&dir, None);
    assert!(!r.ok());
    let p = &r.problems[0];
    assert_eq!((p.line, p.seq), (Some(2), Some(3)), "{}", problems(&r));
    assert!(r.problems.iter().any(|p| p.seq == Some(2) && p.message.contains("out of order")), "{}", problems(&r));
}

#[tokio::test]
async fn an_inserted_record_is_named() {
    let dir = sample("insert").await;
    let f = first_file(&dir);
    let mut l = lines(&f);
    // A copy of record 2 with its request id changed and its hash recomputed would still not
    // chain; a verbatim copy is a repeat.
    let copy = l[1].clone();
    l.insert(3, copy);
    put(&f, &l);
    let r = verify_dir(&dir, None);
    let p = &r.problems[0];
    assert_eq!((p.line, p.seq), (Some(4), Some(2)), "{}", problems(&r));
}

#[tokio::test]
async fn a_rewritten_chain_fails_at_the_next_checkpoint() {
    // Someone who edits a record and recomputes every hash after it keeps the chain whole, but
    // cannot sign: the next checkpoint no longer verifies.
    let dir = sample("rehash").await;
    let f = first_file(&dir);
    let l = lines(&f);
    let mut prev = [0u8; 32];
    let mut out = Vec::new();
    for line in &l {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        let mut fields = line[line.find(',').unwrap() + 1..line.find(",\"prev\"").unwrap()].to_owned();
        if seq == 2 {
            fields = fields.replace("req-1", "req-X");
        }
        prev = ferrokms_audit::chain::append(&mut out, seq, fields.as_bytes(), &prev);
    }
    std::fs::write(&f, &out).unwrap();
    let r = verify_dir(&dir, None);
    assert!(!r.ok());
    let p = &r.problems[0];
    assert_eq!(p.seq, Some(5), "the first checkpoint is record 5: {}", problems(&r));
    assert!(p.message.contains("signature does not verify"), "{p}");
    // Against another key, every checkpoint is refused.
    let other = Signer::generate().unwrap().0;
    let r = verify_dir(&sample("otherkey").await, Some(other.public_key()));
    assert!(r.problems.iter().all(|p| p.message.contains("another key")), "{}", problems(&r));
    assert_eq!(r.checkpoints, 0);
}

#[tokio::test]
async fn a_removed_file_and_a_cut_line_are_named() {
    let dir = temp_dir("files");
    let log = open(&dir, |c| c.max_file_bytes = 1);
    write(&log, 0..4).await;
    log.close().await;
    std::fs::remove_file(dir.join("audit-00000002.jsonl")).unwrap();
    let last = ferrokms_audit::writer::log_files(&dir).unwrap().last().unwrap().1;
    let text = std::fs::read(&last).unwrap();
    std::fs::write(&last, &text[..text.len() - 10]).unwrap();
    let r = verify_dir(&dir, None);
    let all = problems(&r);
    assert!(all.contains("audit-00000002.jsonl to audit-00000002.jsonl are missing"), "{all}");
    assert!(all.contains("incomplete last line"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_are_batched_each_recorded_once() {
    let dir = temp_dir("batch");
    let log = Arc::new(open(&dir, |c| c.checkpoint_records = 100));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { write(&log, t * 1000..t * 1000 + 200).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    log.close().await;
    let r = verify_dir(&dir, None);
    assert!(r.ok(), "{}", problems(&r));
    assert_eq!(r.records, 16 * 200);
    let mut ids: Vec<String> = lines(&first_file(&dir))
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "request")
        .map(|v| v["request_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16 * 200);
}

#[tokio::test]
async fn a_log_that_cannot_be_written_fails_its_requests_and_recovers() {
    // Tests run as root, whom permissions do not stop: the directory is replaced by a file, so
    // the next file (one per batch here) cannot be created.
    let dir = temp_dir("failclosed");
    let log = open(&dir, |c| c.max_file_bytes = 1);
    write(&log, 0..3).await;
    let moved = dir.with_extension("moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let e = log.record(&entry(3)).await.unwrap_err();
    assert!(e.to_string().contains("cannot be written"), "{e}");
    assert!(!log.healthy());
    assert!(log.record(&entry(4)).await.is_err());
    // Put back, the log goes on where it was durable: the refused records are not in it.
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&moved, &dir).unwrap();
    log.record(&entry(5)).await.unwrap();
    assert!(log.healthy());
    log.close().await;
    let r = verify_dir(&dir, None);
    assert!(r.ok(), "{}", problems(&r));
    assert_eq!(r.records, 4);
}
