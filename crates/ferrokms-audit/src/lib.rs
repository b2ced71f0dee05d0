//! The audit log of ferrokms: one JSON line per request, allowed or refused.
//!
//! # Layout
//! - [`Outcome`]: what a dialect front reports of one request (action, account, access key id,
//!   key id, result code): small fields, filled as the front goes.
//! - [`chain`]: the line format. Each record carries its sequence number and the SHA-256 of the
//!   record before it, and ends with its own hash; a checkpoint record signs the chain's head
//!   with the service's Ed25519 key.
//! - [`signer`]: that key, generated at first start, stored sealed under the root key; its
//!   public half is written beside the log, so a verifier needs no secret.
//! - [`writer`]: [`AuditLog`], one writer thread that gathers the records of the requests in
//!   flight, appends and fdatasyncs them once, then releases all their answers (group commit);
//!   files rotate at a size.
//! - [`verify`]: walks the files and names the first record that is missing, reordered,
//!   inserted or edited, and any checkpoint whose signature does not hold.
//!
//! Nothing secret is ever given to this crate: no plaintext, key material, signature or
//! secret key of a request; the fronts hand over names and ids only.

pub mod chain;
pub mod signer;
pub mod verify;
pub mod writer;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::SystemTime;

use serde::Serialize;

pub use signer::Signer;
pub use writer::{AuditConfig, AuditError, AuditLog};

/// Longest client-supplied string kept in a record (action, access key id, key id): longer ones
/// are cut, so a request cannot make its own record large.
pub const MAX_FIELD: usize = 128;

/// What a front knows of one request once it has answered it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The request id of the answer.
    pub request_id: String,
    /// The action: its name in the action table, or (unknown action) the name given, cut.
    pub action: Option<Cow<'static, str>>,
    /// The authenticated account.
    pub account: Option<u64>,
    /// The access key id (Tencent SecretId) the request claimed, verified or not.
    pub access_key_id: Option<String>,
    /// The key: the resolved key's id where the action resolved one, else the KeyId given.
    pub key_id: Option<String>,
    /// The key version, where known (Tencent: its number; Alibaba: its KeyVersionId).
    pub key_version: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    /// `OK`, or the error code answered.
    pub code: &'static str,
}

impl Outcome {
    /// Sets the action from the name a request gave, the table's own `&'static str` if it
    /// knows it.
    pub fn set_action(&mut self, known: Option<&'static str>, given: &str) {
        self.action = Some(match known {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(cut(given).to_owned()),
        });
    }
}

/// `s`, at most [`MAX_FIELD`] bytes (on a character boundary).
pub fn cut(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Which API a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Tencent Cloud KMS.
    Tencent,
    /// Alibaba Cloud KMS.
    Alibaba,
}

/// One request's record, before the writer gives it its place in the chain.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When the request arrived.
    pub time: SystemTime,
    /// Its dialect.
    pub dialect: Dialect,
    /// The connection's peer address.
    pub source: Option<SocketAddr>,
    /// Microseconds from arrival to the answer being ready (the audit write not counted).
    pub latency_us: u64,
    /// What the front reported.
    pub outcome: Outcome,
}

impl Entry {
    /// The record's fields as JSON object members (no braces), in the request's own task: the
    /// writer only adds the sequence number, the previous hash and its own.
    pub fn fields(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Fields<'a> {
            kind: &'static str,
            time: String,
            request_id: &'a str,
            dialect: Dialect,
            action: Option<&'a str>,
            account: Option<u64>,
            access_key_id: Option<&'a str>,
            key_id: Option<&'a str>,
            key_version: Option<&'a str>,
            source: Option<SocketAddr>,
            status: u16,
            code: &'a str,
            latency_us: u64,
        }
        let o = &self.outcome;
        let fields = Fields {
            kind: "request",
            time: chain::timestamp(self.time),
            request_id: cut(&o.request_id),
            dialect: self.dialect,
            action: o.action.as_deref(),
            account: o.account,
            access_key_id: o.access_key_id.as_deref().map(cut),
            key_id: o.key_id.as_deref().map(cut),
            key_version: o.key_version.as_deref().map(cut),
            source: self.source,
            status: o.status,
            code: if o.code.is_empty() { "OK" } else { o.code },
            latency_us: self.latency_us,
        };
        let mut out = serde_json::to_vec(&fields).unwrap_or_else(|_| b"{}".to_vec());
        // `{...}` → `...`: the writer puts them between `"seq":N,` and `,"prev":..`.
        out.pop();
        out.remove(0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_json_members_and_long_values_are_cut() {
        let mut o = Outcome { request_id: "r-1".into(), status: 200, ..Outcome::default() };
        o.set_action(None, &"X".repeat(1000));
        o.access_key_id = Some("é".repeat(100));
        let e = Entry {
            time: SystemTime::UNIX_EPOCH,
            dialect: Dialect::Alibaba,
            source: Some("127.0.0.1:9".parse().unwrap()),
            latency_us: 5,
            outcome: o,
        };
        let mut line = b"{".to_vec();
        line.extend(e.fields());
        line.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["action"].as_str().unwrap().len(), MAX_FIELD);
        assert!(v["access_key_id"].as_str().unwrap().len() <= MAX_FIELD);
        assert_eq!(v["code"], "OK");
        assert_eq!(v["dialect"], "alibaba");
        assert_eq!(v["source"], "127.0.0.1:9");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000Z");
        assert!(v["key_id"].is_null());
    }
}
