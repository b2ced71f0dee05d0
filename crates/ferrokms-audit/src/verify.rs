//! Verifies an audit directory: every record's hash, the chain from record to record and file
//! to file, and every checkpoint's signature, and names where each problem is (file, line,
//! record sequence number).
//!
//! What it proves: with the chain intact and the last checkpoint's signature valid, no record
//! up to that checkpoint was removed, inserted, reordered or edited since it was signed, by
//! anyone without the service's key. Records after the last checkpoint are bound only by their
//! hashes (someone able to write the files could recompute those): they are counted apart.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::chain::{self, GENESIS, Hash};
use crate::signer;
use crate::writer::{file_name, log_files};

/// Most problems listed (the count goes on).
const MAX_LISTED: usize = 100;

/// One problem, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, if the problem is in one.
    pub file: Option<PathBuf>,
    /// Its line (from 1).
    pub line: Option<usize>,
    /// The record's sequence number, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(seq) = self.seq {
            write!(f, "record {seq}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What the verifier found.
#[derive(Debug, Default)]
pub struct Report {
    /// Files read.
    pub files: usize,
    /// Request records read.
    pub records: u64,
    /// Checkpoints whose signature holds.
    pub checkpoints: u64,
    /// The sequence number of the last valid checkpoint.
    pub last_checkpoint: Option<u64>,
    /// Records after it (not yet signed).
    pub unsigned_tail: u64,
    /// Everything wrong (at most [`MAX_LISTED`]).
    pub problems: Vec<Problem>,
    /// How many problems there were in all.
    pub problem_count: usize,
}

impl Report {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, file: Option<&Path>, line: Option<usize>, seq: Option<u64>, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem { file: file.map(Path::to_path_buf), line, seq, message });
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            writeln!(f, "PROBLEM {p}")?;
        }
        if self.problem_count > self.problems.len() {
            writeln!(f, "... and {} more problems", self.problem_count - self.problems.len())?;
        }
        write!(f, "{} files, {} request records, {} valid checkpoints", self.files, self.records, self.checkpoints)?;
        match self.last_checkpoint {
            Some(seq) => {
                write!(f, " (the last at record {seq}; {} records after it not yet signed)", self.unsigned_tail)?
            }
            None => write!(f, " ({} records not yet signed)", self.unsigned_tail)?,
        }
        if self.ok() { write!(f, ": OK") } else { write!(f, ": {} PROBLEMS", self.problem_count) }
    }
}

/// Verifies the audit directory `dir` against `public_key` (default: `dir`'s
/// `signing-key.pub`; pass one known out of band to be sure of it).
pub fn verify_dir(dir: &Path, public_key: Option<&[u8]>) -> Report {
    let mut report = Report::default();
    let published;
    let key = match public_key {
        Some(k) => Some(k),
        None => match signer::read_public_key(&dir.join(signer::PUBLIC_KEY_FILE)) {
            Ok(k) => {
                published = k;
                Some(published.as_slice())
            }
            Err(e) => {
                report.problem(None, None, None, format!("{e}: checkpoints cannot be verified"));
                None
            }
        },
    };
    let files = match log_files(dir) {
        Ok(f) => f.collect::<Vec<_>>(),
        Err(e) => {
            report.problem(None, None, None, e);
            return report;
        }
    };
    if files.is_empty() {
        report.problem(None, None, None, format!("{} holds no audit files", dir.display()));
        return report;
    }
    let mut chain = Walk { expect_seq: 1, expect_prev: GENESIS, first: true };
    let mut previous_no = None;
    for (no, path) in &files {
        if let Some(p) = previous_no
            && *no != p + 1
        {
            report.problem(
                None,
                None,
                None,
                format!("{} to {} are missing (files removed?)", file_name(p + 1), file_name(no - 1)),
            );
        }
        previous_no = Some(*no);
        report.files += 1;
        match std::fs::read(path) {
            Ok(bytes) => chain.file(&mut report, path, &bytes, key),
            Err(e) => report.problem(Some(path), None, None, format!("cannot read it: {e}")),
        }
    }
    report
}

struct Walk {
    expect_seq: u64,
    expect_prev: Hash,
    first: bool,
}

impl Walk {
    fn file(&mut self, report: &mut Report, path: &Path, bytes: &[u8], key: Option<&[u8]>) {
        let complete = bytes.last().is_none_or(|b| *b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let count = if complete { lines.len() - 1 } else { lines.len() };
        for (i, line) in lines.into_iter().take(count).enumerate() {
            let at = Some(i + 1);
            let last = i + 1 == count;
            if last && !complete {
                report.problem(Some(path), at, None, "incomplete last line (a write cut short?)".into());
                break;
            }
            let p = match chain::read(line) {
                Ok(p) => p,
                Err(e) => {
                    report.problem(Some(path), at, None, format!("{e}: a record was edited or inserted here"));
                    continue;
                }
            };
            let seq = Some(p.seq);
            if self.first && p.seq != 1 {
                report.problem(
                    Some(path),
                    at,
                    seq,
                    format!("the log starts at record {} instead of 1 (records 1 to {} removed?)", p.seq, p.seq - 1),
                );
            } else if p.seq != self.expect_seq {
                let what = if p.seq > self.expect_seq {
                    format!(
                        "expected record {} here: records {} to {} are missing, or were moved",
                        self.expect_seq,
                        self.expect_seq,
                        p.seq - 1
                    )
                } else {
                    format!("expected record {} here: this record is out of order or repeated", self.expect_seq)
                };
                report.problem(Some(path), at, seq, what);
            } else if p.prev != self.expect_prev {
                report.problem(
                    Some(path),
                    at,
                    seq,
                    "does not follow the record before it (its prev hash differs): a record before it was removed, \
                     inserted or replaced"
                        .into(),
                );
            }
            if !p.intact {
                report.problem(Some(path), at, seq, "edited: its hash does not match its contents".into());
            }
            self.first = false;
            self.expect_seq = p.seq + 1;
            self.expect_prev = p.hash;
            match p.kind.as_str() {
                "checkpoint" => Self::checkpoint(report, path, at, &p, key),
                _ => {
                    report.records += 1;
                    report.unsigned_tail += 1;
                }
            }
        }
    }

    fn checkpoint(report: &mut Report, path: &Path, at: Option<usize>, p: &chain::Parsed, key: Option<&[u8]>) {
        let Some(key) = key else { return };
        let seq = Some(p.seq);
        let (Some(public), Some(signature)) = (&p.public_key, &p.signature) else {
            report.problem(Some(path), at, seq, "a checkpoint without its key or signature".into());
            return;
        };
        if public.as_slice() != key {
            report.problem(Some(path), at, seq, "checkpoint signed by another key than the service's".into());
            return;
        }
        if !signer::verify(key, &chain::checkpoint_message(p.seq, &p.prev), signature) {
            let since = report.last_checkpoint.map_or("the start".to_string(), |s| format!("checkpoint {s}"));
            report.problem(
                Some(path),
                at,
                seq,
                format!(
                    "checkpoint signature does not verify: the records between {since} and this one were changed \
                     after it was signed"
                ),
            );
            return;
        }
        report.checkpoints += 1;
        report.last_checkpoint = Some(p.seq);
        report.unsigned_tail = 0;
    }
}
