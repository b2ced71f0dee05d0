//! The writer: one thread owns the files. Requests hand it their record and wait; it takes
//! every record that has arrived meanwhile (up to [`MAX_BATCH`]), appends them in one write,
//! fdatasyncs once, and only then releases all their answers (group commit). While it syncs,
//! the next batch gathers.
//!
//! Files are `<dir>/audit-<n>.jsonl` (n: 8 digits); the chain runs on from file to file. A file
//! is ended with a checkpoint and a new one begun once it reaches `max_file_bytes`; every start
//! begins a new file too. Checkpoints are also written every `checkpoint_records` records, when
//! [`AuditLog::tick`] finds `checkpoint_interval` passed with records unsigned, and on close.
//!
//! A batch that cannot be written (disk full, file or directory not writable) fails every
//! request in it: the chain is rolled back to its last durable record, what may have been
//! written of the batch is cut off again where possible, and the next batch goes to a new file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use crate::chain::{self, GENESIS, Hash};
use crate::{Entry, Signer};

/// Most records written together.
pub const MAX_BATCH: usize = 1024;

/// Where and how the log is written.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The audit directory.
    pub dir: PathBuf,
    /// Size at which a file is ended and the next begun.
    pub max_file_bytes: u64,
    /// Records between two checkpoints at most.
    pub checkpoint_records: u64,
    /// Longest time records stay unsigned, given [`AuditLog::tick`] is called.
    pub checkpoint_interval: Duration,
    /// Also write every line to standard output (after it is durable), for shipping.
    pub stdout: bool,
}

impl AuditConfig {
    /// The defaults for `dir`: 64 MiB files, a checkpoint every 10 000 records or 60 s.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            max_file_bytes: 64 << 20,
            checkpoint_records: 10_000,
            checkpoint_interval: Duration::from_secs(60),
            stdout: false,
        }
    }
}

/// A record that could not be made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditError(pub String);

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the audit log cannot be written: {}", self.0)
    }
}

impl std::error::Error for AuditError {}

enum Msg {
    Record(Vec<u8>, oneshot::Sender<Result<(), AuditError>>),
    Tick,
    Close(oneshot::Sender<()>),
}

/// Handle to the writer.
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog(..)")
    }
}

impl AuditLog {
    /// Opens the log in `cfg.dir` (created, mode 0700), going on from its last record, and
    /// starts the writer thread.
    pub fn open(cfg: AuditConfig, signer: Signer) -> Result<Self, String> {
        std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("cannot create {}: {e}", cfg.dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&cfg.dir, std::fs::Permissions::from_mode(0o700));
        }
        let (file_no, seq, head) = resume(&cfg.dir)?;
        let healthy = Arc::new(AtomicBool::new(true));
        let writer = Writer {
            signer,
            file: None,
            file_no,
            len: 0,
            seq,
            head,
            since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            healthy: healthy.clone(),
            cfg,
        };
        // Unbounded: every record's request waits for its answer, so the connection limits
        // bound what can be queued.
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("ferrokms-audit".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(Self { tx, healthy })
    }

    /// Whether the last write succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Appends `entry` and returns once it is durable (or could not be made so).
    pub async fn record(&self, entry: &Entry) -> Result<(), AuditError> {
        let stopped = || AuditError("the audit writer stopped".into());
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Record(entry.fields(), done)).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Lets the writer sign a checkpoint if records have waited `checkpoint_interval` unsigned
    /// (call it periodically; never waits).
    pub fn tick(&self) {
        let _ = self.tx.send(Msg::Tick);
    }

    /// Writes everything sent so far and a final checkpoint, then stops the writer.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The log files of `dir`, by number.
pub fn log_files(dir: &Path) -> Result<std::vec::IntoIter<(u64, PathBuf)>, String> {
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files.into_iter()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name.strip_prefix("audit-").and_then(|n| n.strip_suffix(".jsonl"))
            && let Ok(n) = n.parse::<u64>()
        {
            files.push((n, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter())
}

/// File name of log file `n`.
pub fn file_name(n: u64) -> String {
    format!("audit-{n:08}.jsonl")
}

/// The number of the last file and the last record (sequence number and hash) of the log in
/// `dir`. An incomplete last line (a crash during a write, never acknowledged) is cut off.
fn resume(dir: &Path) -> Result<(u64, u64, Hash), String> {
    let files: Vec<_> = log_files(dir)?.collect();
    let last_no = files.last().map_or(0, |(n, _)| *n);
    for (i, (_, path)) in files.iter().enumerate().rev() {
        if let Some(p) = last_record(path, i + 1 == files.len())? {
            return Ok((last_no, p.seq, p.hash));
        }
    }
    Ok((last_no, 0, GENESIS))
}

fn last_record(path: &Path, newest: bool) -> Result<Option<chain::Parsed>, String> {
    let err = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new().read(true).write(newest).open(path).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    let from = len.saturating_sub(64 << 10);
    f.seek(SeekFrom::Start(from)).map_err(err)?;
    let mut tail = Vec::new();
    (&mut f).take(len - from).read_to_end(&mut tail).map_err(err)?;
    let Some(end) = tail.iter().rposition(|b| *b == b'\n') else {
        if tail.is_empty() {
            return Ok(None);
        }
        return Err(format!("{}: no complete record in its last 64 KiB", path.display()));
    };
    if end + 1 != tail.len() {
        if !newest {
            return Err(format!("{} ends in an incomplete record (see `ferrokms audit verify`)", path.display()));
        }
        tracing::warn!(file = %path.display(), "cutting off an incomplete last audit record (a crash during its write)");
        f.set_len(from + end as u64 + 1).and_then(|()| f.sync_data()).map_err(err)?;
    }
    let line_start = tail[..end].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if line_start == 0 && from > 0 {
        return Err(format!("{}: a record longer than 64 KiB", path.display()));
    }
    chain::parse(&tail[line_start..end])
        .map(Some)
        .map_err(|e| format!("{}: the last record: {e} (see `ferrokms audit verify`)", path.display()))
}

struct Writer {
    cfg: AuditConfig,
    signer: Signer,
    /// The file being appended to; `None`: begin a new one with the next write.
    file: Option<File>,
    file_no: u64,
    len: u64,
    /// The last durable record.
    seq: u64,
    head: Hash,
    since_checkpoint: u64,
    last_checkpoint: Instant,
    healthy: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self, rx: &mpsc::Receiver<Msg>) {
        let mut fields = Vec::with_capacity(MAX_BATCH);
        let mut waiting = Vec::with_capacity(MAX_BATCH);
        let mut buf = Vec::with_capacity(256 << 10);
        loop {
            let Ok(first) = rx.recv() else {
                self.close(&mut buf);
                return;
            };
            let mut next = Some(first);
            let mut close = None;
            let mut tick = false;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Record(f, done) => {
                        fields.push(f);
                        waiting.push(done);
                    }
                    Msg::Tick => tick = true,
                    Msg::Close(done) => {
                        close = Some(done);
                        break;
                    }
                }
                if fields.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !fields.is_empty() {
                let result = self.write_batch(&fields, &mut buf);
                fields.clear();
                for done in waiting.drain(..) {
                    let _ = done.send(result.clone());
                }
            }
            if tick && self.since_checkpoint > 0 && self.last_checkpoint.elapsed() >= self.cfg.checkpoint_interval {
                buf.clear();
                self.append_checkpoint(&mut buf);
                let _ = self.write_out(&buf);
            }
            if let Some(done) = close {
                self.close(&mut buf);
                let _ = done.send(());
                return;
            }
        }
    }

    fn close(&mut self, buf: &mut Vec<u8>) {
        if self.since_checkpoint > 0 && self.file.is_some() {
            buf.clear();
            self.append_checkpoint(buf);
            let _ = self.write_out(buf);
        }
    }

    /// Appends the records, with a checkpoint when one is due, and makes them durable; on
    /// failure the chain is as before.
    fn write_batch(&mut self, fields: &[Vec<u8>], buf: &mut Vec<u8>) -> Result<(), AuditError> {
        let result = self.begin_file_if_due(buf).and_then(|()| {
            buf.clear();
            for f in fields {
                self.seq += 1;
                self.head = chain::append(buf, self.seq, f, &self.head);
            }
            self.since_checkpoint += fields.len() as u64;
            if self.since_checkpoint >= self.cfg.checkpoint_records {
                self.append_checkpoint(buf);
            }
            self.write_out(buf)
        });
        match &result {
            Ok(()) => self.healthy.store(true, Ordering::Relaxed),
            Err(e) => {
                tracing::error!(error = %e, records = fields.len(), "audit write failed; the requests are refused");
                self.healthy.store(false, Ordering::Relaxed);
            }
        }
        result
    }

    /// Adds a checkpoint over the chain's head to `buf` (which continues the chain).
    fn append_checkpoint(&mut self, buf: &mut Vec<u8>) {
        let seq = self.seq + 1;
        let signature = self.signer.sign(&chain::checkpoint_message(seq, &self.head));
        let fields = chain::checkpoint_fields(SystemTime::now(), self.signer.public_key(), &signature);
        self.head = chain::append(buf, seq, &fields, &self.head);
        self.seq = seq;
        self.since_checkpoint = 0;
        self.last_checkpoint = Instant::now();
    }

    /// Ends a full file with a checkpoint and begins the next; begins one if there is none.
    fn begin_file_if_due(&mut self, buf: &mut Vec<u8>) -> Result<(), AuditError> {
        if self.file.is_some() && self.len < self.cfg.max_file_bytes {
            return Ok(());
        }
        if self.file.is_some() && self.since_checkpoint > 0 {
            buf.clear();
            self.append_checkpoint(buf);
            self.write_out(buf)?;
        }
        let path = self.cfg.dir.join(file_name(self.file_no + 1));
        let io = |e: std::io::Error| AuditError(format!("{}: {e}", path.display()));
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&path).map_err(io)?;
        // The new name must be durable before records in it are acknowledged.
        if let Err(e) = File::open(&self.cfg.dir).and_then(|d| d.sync_all()) {
            let _ = std::fs::remove_file(&path);
            return Err(io(e));
        }
        self.file = Some(file);
        self.file_no += 1;
        self.len = 0;
        Ok(())
    }

    /// Appends `buf` to the file and fdatasyncs it; the chain state already includes `buf`'s
    /// records and is rolled back (with the file) if that fails.
    fn write_out(&mut self, buf: &[u8]) -> Result<(), AuditError> {
        let Some(file) = self.file.as_mut() else {
            return Err(AuditError("no audit file is open".into()));
        };
        match file.write_all(buf).and_then(|()| file.sync_data()) {
            Ok(()) => {
                self.len += buf.len() as u64;
                if self.cfg.stdout {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(buf).and_then(|()| out.flush());
                }
                Ok(())
            }
            Err(e) => {
                // Cut off what may have been written; after a failed fdatasync the file's state
                // is not to be trusted either way, so the next write begins a new file.
                let _ = file.set_len(self.len).and_then(|()| file.sync_data());
                self.file = None;
                self.rewind(buf);
                Err(AuditError(format!("{}: {e}", self.cfg.dir.join(file_name(self.file_no)).display())))
            }
        }
    }

    /// Puts the chain back to before `buf`'s records (the last one's `seq` and hash are read
    /// back from the first line of `buf`: its `prev` is the hash before it).
    fn rewind(&mut self, buf: &[u8]) {
        let first = buf.split(|b| *b == b'\n').next().unwrap_or_default();
        if let Ok(p) = chain::parse(first) {
            self.seq = p.seq - 1;
            self.head = p.prev;
        }
        // The counters of checkpoints are kept: a checkpoint that did not land is owed again.
        self.since_checkpoint = self.since_checkpoint.max(1);
    }
}
