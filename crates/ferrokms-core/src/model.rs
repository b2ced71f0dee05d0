//! Domain types: identifiers, regions, keys and their versions, hosted data keys.

use uuid::Uuid;

use crate::Error;
pub use crate::keyspec::{KeySpec, KeyUsage};
/// Whether sealed bytes are raw bytes or a text string (the blob records it).
pub use ferrokms_crypto::blob::PayloadKind;

/// An account (a tenant). Keys of one account are invisible to every other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u64);

/// A region: the place a key lives. Regions are places, not dialects; the canonical name is the
/// Tencent one where Tencent has the place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(pub String);

/// Who is asking and where: every operation is scoped to one account and one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The calling account.
    pub account: AccountId,
    /// The region of the request.
    pub region: Region,
}

/// One row of the region table: the same place under each cloud's name.
#[derive(Debug, Clone, Copy)]
pub struct RegionName {
    /// Tencent Cloud's name.
    pub tencent: Option<&'static str>,
    /// Alibaba Cloud's name.
    pub alibaba: Option<&'static str>,
}

/// The regions ferrokms serves. One table for both dialects (see `docs/regions.md`).
pub const REGIONS: &[RegionName] = &[
    RegionName { tencent: Some("ap-guangzhou"), alibaba: Some("cn-guangzhou") },
    RegionName { tencent: Some("ap-shanghai"), alibaba: Some("cn-shanghai") },
    RegionName { tencent: Some("ap-beijing"), alibaba: Some("cn-beijing") },
    RegionName { tencent: Some("ap-chengdu"), alibaba: Some("cn-chengdu") },
    RegionName { tencent: Some("ap-hongkong"), alibaba: Some("cn-hongkong") },
    RegionName { tencent: Some("ap-singapore"), alibaba: Some("ap-southeast-1") },
    RegionName { tencent: Some("ap-tokyo"), alibaba: Some("ap-northeast-1") },
    RegionName { tencent: Some("ap-seoul"), alibaba: Some("ap-northeast-2") },
    RegionName { tencent: Some("ap-bangkok"), alibaba: Some("ap-southeast-7") },
    RegionName { tencent: Some("ap-jakarta"), alibaba: Some("ap-southeast-5") },
    RegionName { tencent: Some("na-siliconvalley"), alibaba: Some("us-west-1") },
    RegionName { tencent: Some("na-ashburn"), alibaba: Some("us-east-1") },
    RegionName { tencent: Some("eu-frankfurt"), alibaba: Some("eu-central-1") },
    RegionName { tencent: Some("ap-nanjing"), alibaba: None },
    RegionName { tencent: Some("ap-chongqing"), alibaba: None },
    RegionName { tencent: Some("ap-mumbai"), alibaba: Some("ap-south-1") },
    RegionName { tencent: Some("sa-saopaulo"), alibaba: None },
    RegionName { tencent: Some("ap-shanghai-fsi"), alibaba: None },
    RegionName { tencent: Some("ap-shenzhen-fsi"), alibaba: None },
    RegionName { tencent: Some("ap-beijing-fsi"), alibaba: None },
    RegionName { tencent: None, alibaba: Some("cn-hangzhou") },
    RegionName { tencent: None, alibaba: Some("cn-shenzhen") },
    RegionName { tencent: None, alibaba: Some("cn-qingdao") },
    RegionName { tencent: None, alibaba: Some("cn-zhangjiakou") },
    RegionName { tencent: None, alibaba: Some("cn-huhehaote") },
    RegionName { tencent: None, alibaba: Some("cn-wulanchabu") },
    RegionName { tencent: None, alibaba: Some("eu-west-1") },
    RegionName { tencent: None, alibaba: Some("me-east-1") },
];

impl Region {
    /// The region a Tencent region name denotes, if ferrokms serves it.
    pub fn from_tencent(name: &str) -> Option<Self> {
        REGIONS.iter().find(|r| r.tencent == Some(name)).map(Self::canonical)
    }

    /// The region an Alibaba region id denotes, if ferrokms serves it.
    pub fn from_alibaba(name: &str) -> Option<Self> {
        REGIONS.iter().find(|r| r.alibaba == Some(name)).map(Self::canonical)
    }

    fn canonical(row: &RegionName) -> Self {
        Self(row.tencent.or(row.alibaba).unwrap_or_default().to_owned())
    }

    /// This region's Alibaba id (its canonical name when Alibaba has no such place).
    pub fn alibaba_name(&self) -> &str {
        REGIONS
            .iter()
            .find(|r| r.tencent.or(r.alibaba) == Some(self.0.as_str()))
            .and_then(|r| r.alibaba)
            .unwrap_or(&self.0)
    }

    /// Tencent region names, in table order.
    pub fn tencent_names() -> impl Iterator<Item = &'static str> {
        REGIONS.iter().filter_map(|r| r.tencent)
    }

    /// Alibaba region ids, in table order.
    pub fn alibaba_names() -> impl Iterator<Item = &'static str> {
        REGIONS.iter().filter_map(|r| r.alibaba)
    }
}

/// Parses a key id (a UUID in its hyphenated form).
pub fn parse_key_id(text: &str) -> Result<Uuid, Error> {
    parse_uuid(text).ok_or_else(|| Error::InvalidKeyId(text.to_owned()))
}

/// Parses a data key id.
pub fn parse_data_key_id(text: &str) -> Result<Uuid, Error> {
    parse_uuid(text).ok_or_else(|| Error::InvalidDataKeyId(text.to_owned()))
}

fn parse_uuid(text: &str) -> Option<Uuid> {
    // Only the canonical 36-character form: no braces, no urn:, no simple form.
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

/// States of keys and hosted data keys (data keys use the first three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Not usable until enabled.
    Disabled,
    /// Scheduled for deletion at `deletion_date`.
    PendingDelete,
    /// EXTERNAL key waiting for its material.
    PendingImport,
    /// Decrypts but does not encrypt.
    Archived,
}

impl KeyState {
    /// Stable name (used in storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDelete => "PendingDelete",
            Self::PendingImport => "PendingImport",
            Self::Archived => "Archived",
        }
    }

    /// Parses [`KeyState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Enabled, Self::Disabled, Self::PendingDelete, Self::PendingImport, Self::Archived]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a key's material came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Generated by ferrokms.
    Generated,
    /// Imported by the caller (BYOK).
    External,
}

impl Origin {
    /// Stable name (used in storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "GENERATED",
            Self::External => "EXTERNAL",
        }
    }

    /// Parses [`Origin::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GENERATED" => Some(Self::Generated),
            "EXTERNAL" => Some(Self::External),
            _ => None,
        }
    }
}

/// A tag on a key or data key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A customer master key (CMK): its metadata, never its material.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Key id.
    pub id: Uuid,
    /// Owning account.
    pub account: AccountId,
    /// Region the key lives in.
    pub region: Region,
    /// Tencent alias (unique per account and region).
    pub alias: String,
    /// Free text.
    pub description: String,
    /// What the key is for.
    pub usage: KeyUsage,
    /// What the key is (algorithm family and parameters) for every version.
    pub spec: KeySpec,
    /// Generated or imported.
    pub origin: Origin,
    /// Lifecycle state.
    pub state: KeyState,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds at which a PendingDelete key is deleted; 0 if none.
    pub deletion_date: u64,
    /// Whether automatic rotation is on.
    pub rotation_enabled: bool,
    /// Automatic rotation period, seconds.
    pub rotation_interval: u64,
    /// Unix seconds of the last rotation; 0 if never.
    pub last_rotated_at: u64,
    /// Unix seconds of the next automatic rotation; 0 if none.
    pub next_rotation_at: u64,
    /// Version that encrypts (the newest).
    pub current_version: u32,
    /// Refuses scheduled deletion while on.
    pub deletion_protection: bool,
    /// Why deletion protection is on.
    pub deletion_protection_description: String,
    /// The key policy (Alibaba), stored and returned as given.
    pub policy: String,
    /// Incremented by every update; guards against lost updates.
    pub revision: u64,
    /// Unix seconds at which imported material expires; 0 if never (or not imported).
    pub material_expires_at: u64,
    /// Fingerprint of the imported material (see `service::import`), kept after the material is
    /// deleted so that only the same material can be imported again; empty if none.
    pub material_fingerprint: Vec<u8>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An alias (Alibaba `alias/...`): a name in an account and region that points at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// Owning account.
    pub account: AccountId,
    /// Region.
    pub region: Region,
    /// The full name, `alias/...`.
    pub name: String,
    /// The key it points at.
    pub key_id: Uuid,
    /// Unix seconds.
    pub created_at: u64,
}

/// One version of a key's material, sealed under the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Key id.
    pub key_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// Globally unique id of the version (Alibaba's KeyVersionId).
    pub version_id: Uuid,
    /// Material sealed by the root key, bound to account, key id and version.
    pub sealed_material: Vec<u8>,
    /// Unix seconds.
    pub created_at: u64,
}

impl std::fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionRecord")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A hosted data key: a data key that ferrokms keeps, sealed under a CMK.
#[derive(Debug, Clone, PartialEq)]
pub struct DataKeyRecord {
    /// Data key id.
    pub id: Uuid,
    /// Owning account.
    pub account: AccountId,
    /// Region.
    pub region: Region,
    /// The CMK that seals it.
    pub key_id: Uuid,
    /// Unique name per account and region.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Length of the data key in bytes.
    pub number_of_bytes: u32,
    /// Generated by ferrokms or imported.
    pub origin: Origin,
    /// Enabled, Disabled or PendingDelete.
    pub state: KeyState,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of scheduled deletion; 0 if none.
    pub deletion_date: u64,
    /// The ciphertext blob of the data key under the CMK.
    pub ciphertext: Vec<u8>,
    /// Canonical encryption context bound to `ciphertext`.
    pub context: Vec<u8>,
    /// Incremented by every update.
    pub revision: u64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// An account record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Account id.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// An API access key (Tencent SecretId/SecretKey, Alibaba AccessKeyId/Secret).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The public id.
    pub id: String,
    /// Owning account.
    pub account: AccountId,
    /// The secret, sealed by the root key and bound to the id.
    pub sealed_secret: Vec<u8>,
    /// Whether it may sign requests.
    pub active: bool,
    /// Unix seconds.
    pub created_at: u64,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A fresh request id: a version-4 UUID, lowercase and hyphenated. It needs no system call
/// (a `Uuid::new_v4` asks the kernel for 16 bytes each time): a per-process random key hashes a
/// counter, so ids never repeat within a process and cannot be told from random ones. A request
/// id is a label for logs and support, not a secret.
pub fn request_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEY: OnceLock<std::hash::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(std::hash::RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The low half is a bijection of the counter (unique); the high half a keyed hash of it.
    let low = n ^ key.hash_one(u64::MAX);
    let high = key.hash_one(n);
    let bytes = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().encode_lower(&mut buf).to_owned()
}

/// Current Unix time in seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let u = Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(id, &u.hyphenated().to_string());
        }
    }

    #[test]
    fn regions_map_between_dialects() {
        assert_eq!(Region::from_tencent("ap-guangzhou"), Region::from_alibaba("cn-guangzhou"));
        assert_eq!(Region::from_tencent("ap-singapore"), Region::from_alibaba("ap-southeast-1"));
        assert_eq!(Region::from_alibaba("cn-hangzhou").unwrap().0, "cn-hangzhou");
        assert!(Region::from_tencent("cn-guangzhou").is_none());
        assert!(Region::from_tencent("mars-1").is_none());
        assert_eq!(Region::from_tencent("ap-guangzhou").unwrap().alibaba_name(), "cn-guangzhou");
        assert_eq!(Region::from_alibaba("cn-hangzhou").unwrap().alibaba_name(), "cn-hangzhou");
        assert_eq!(Region::from_tencent("ap-nanjing").unwrap().alibaba_name(), "ap-nanjing");
    }

    #[test]
    fn key_ids_are_canonical_uuids() {
        assert!(parse_key_id("93866e69-9755-11ef-8e65-52540089bc41").is_ok());
        assert!(parse_key_id("93866e6997551 1ef8e6552540089bc41").is_err());
        assert!(parse_key_id("93866e69975511ef8e6552540089bc41").is_err());
        assert!(parse_key_id("").is_err());
        assert!(parse_key_id("{93866e69-9755-11ef-8e65-52540089bc41}").is_err());
    }
}
