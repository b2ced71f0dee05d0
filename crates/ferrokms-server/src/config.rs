//! Server configuration: command-line flags over an optional TOML file over defaults.
//! Every field is documented in `docs/configuration.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The configuration file, as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Largest accepted clock difference of signed requests, seconds.
    pub max_clock_skew_secs: Option<i64>,
    /// Accept `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` (the SDKs' `unsignedPayload` option),
    /// whose signature does not cover the body. Off by default.
    #[serde(default)]
    pub allow_unsigned_payload: bool,
    /// TLS.
    pub tls: Option<TlsConfig>,
    /// Where the root key comes from on a new data directory.
    #[serde(default)]
    pub root_key: RootKeyConfig,
    /// Request quotas.
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// Rotation.
    #[serde(default)]
    pub rotation: RotationConfig,
    /// Background tasks.
    #[serde(default)]
    pub background: BackgroundConfig,
    /// Keys.
    #[serde(default)]
    pub keys: KeysConfig,
    /// The Tencent dialect.
    #[serde(default)]
    pub tencent: TencentConfig,
    /// The Alibaba dialect.
    #[serde(default)]
    pub alibaba: AlibabaConfig,
    /// The store: the embedded SQLite file, or PostgreSQL.
    #[serde(default)]
    pub store: StoreConfig,
    /// Connections: how many, and how long each may take.
    #[serde(default)]
    pub http: HttpConfig,
    /// The administration socket.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Path of the administration socket (unseal, seal, rotate-root); default
    /// `<data-dir>/admin.sock`. A Unix socket path is limited to about 100 bytes.
    pub socket: Option<PathBuf>,
    /// `retire-roots` keeps a root replaced less than this long ago, even with nothing sealed
    /// under it: a request that took the ring before the rotation may still be storing a value
    /// sealed under it. Default 60.
    #[serde(default = "retire_grace")]
    pub retire_grace_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { socket: None, retire_grace_secs: retire_grace() }
    }
}

fn retire_grace() -> u64 {
    crate::datadir::roots::RETIRE_GRACE_SECS
}

impl AdminConfig {
    /// The socket path for the data directory `dir`.
    pub fn socket_path(&self, dir: &std::path::Path) -> PathBuf {
        self.socket.clone().unwrap_or_else(|| dir.join(crate::admin_socket::SOCKET))
    }
}

/// `[audit]`: one hash-chained record per request, durable before its answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Whether requests are audited.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Refuse requests whose record cannot be written (else: log a warning and answer).
    #[serde(default = "yes")]
    pub fail_closed: bool,
    /// The audit directory [default: `<data-dir>/audit`].
    pub dir: Option<PathBuf>,
    /// Size at which a file is ended and the next begun, bytes.
    #[serde(default = "audit_file_bytes")]
    pub max_file_bytes: u64,
    /// Most records between two signed checkpoints.
    #[serde(default = "checkpoint_records")]
    pub checkpoint_records: u64,
    /// Longest time records stay without a checkpoint, seconds (checked by the background pass).
    #[serde(default = "sixty")]
    pub checkpoint_interval_secs: u64,
    /// Also write every record to standard output once it is durable.
    #[serde(default)]
    pub stdout: bool,
}

fn audit_file_bytes() -> u64 {
    64 << 20
}

fn checkpoint_records() -> u64 {
    10_000
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            fail_closed: true,
            dir: None,
            max_file_bytes: audit_file_bytes(),
            checkpoint_records: checkpoint_records(),
            checkpoint_interval_secs: sixty(),
            stdout: false,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Where the store is: `sqlite://PATH`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
    /// (libpq's query parameters, such as `sslmode=verify-full`, apply) for several nodes
    /// sharing one database. Default: the SQLite file `ferrokms.db` of the data directory.
    pub url: Option<String>,
    /// Longest a listing (ListKeys, ListKeyDetail, ListDataKeys, ...) may run, milliseconds;
    /// past it the listing is stopped and answered as busy.
    #[serde(default = "listing_ms")]
    pub listing_time_limit_ms: u64,
    /// Database connections reserved for listings (writes and lookups have their own).
    #[serde(default = "listing_connections")]
    pub listing_connections: u32,
    /// PostgreSQL: connections for writes and lookups.
    #[serde(default = "pg_connections")]
    pub max_connections: u32,
    /// PostgreSQL: longest any statement other than a listing may run, milliseconds.
    #[serde(default = "statement_ms")]
    pub statement_timeout_ms: u64,
    /// PostgreSQL: longest a request waits for a connection (a free one, or a new one while the
    /// server does not answer), milliseconds; past it the request fails with the retryable error.
    #[serde(default = "acquire_ms")]
    pub acquire_timeout_ms: u64,
    /// Not configured: set by `serve`. A PostgreSQL store that does not answer at start is tried
    /// again (with a warning each time) until it does, instead of failing the start.
    #[serde(skip)]
    pub wait_for_store: bool,
}

fn listing_ms() -> u64 {
    5000
}

fn listing_connections() -> u32 {
    4
}

fn pg_connections() -> u32 {
    16
}

fn acquire_ms() -> u64 {
    10_000
}

fn statement_ms() -> u64 {
    30_000
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            listing_time_limit_ms: listing_ms(),
            listing_connections: listing_connections(),
            max_connections: pg_connections(),
            statement_timeout_ms: statement_ms(),
            acquire_timeout_ms: acquire_ms(),
            wait_for_store: false,
        }
    }
}

impl StoreConfig {
    /// The SQLite store's options.
    pub fn sqlite(&self) -> ferrokms_store::sqlite::SqliteOptions {
        ferrokms_store::sqlite::SqliteOptions {
            listing_time_limit: std::time::Duration::from_millis(self.listing_time_limit_ms.max(1)),
            listing_connections: self.listing_connections.max(1),
        }
    }

    /// The PostgreSQL store's options.
    pub fn postgres(&self) -> ferrokms_store::postgres::PgOptions {
        ferrokms_store::postgres::PgOptions {
            max_connections: self.max_connections.max(1),
            listing_connections: self.listing_connections.max(1),
            listing_time_limit: std::time::Duration::from_millis(self.listing_time_limit_ms.max(1)),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms.max(1)),
            acquire_timeout: std::time::Duration::from_millis(self.acquire_timeout_ms.max(1)),
            ..ferrokms_store::postgres::PgOptions::default()
        }
    }
}

/// `[http]`: connection limits and timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Most connections open at once (further lowered to what `RLIMIT_NOFILE` leaves room for).
    #[serde(default = "max_connections")]
    pub max_connections: usize,
    /// Seconds a new connection has for its TLS handshake and first request head, and any
    /// request head has from its first byte to its last.
    #[serde(default = "ten")]
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may wait, with no request in flight, for its next request.
    #[serde(default = "sixty")]
    pub idle_timeout_secs: u64,
    /// Seconds a request has, once its head is in, for the whole of its body.
    #[serde(default = "ten")]
    pub body_read_timeout_secs: u64,
    /// Seconds in-flight requests are given to finish on SIGTERM or Ctrl-C.
    #[serde(default = "ten")]
    pub shutdown_timeout_secs: u64,
}

/// Largest accepted timeout, seconds.
const MAX_TIMEOUT_SECS: u64 = 86_400;

fn max_connections() -> usize {
    4096
}

fn sixty() -> u64 {
    60
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_connections: max_connections(),
            header_read_timeout_secs: ten(),
            idle_timeout_secs: sixty(),
            body_read_timeout_secs: ten(),
            shutdown_timeout_secs: ten(),
        }
    }
}

impl HttpConfig {
    /// Refuses values that would switch a protection off.
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("http.max_connections must be at least 1".into());
        }
        for (name, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
        ] {
            if v == 0 {
                return Err(format!("http.{name} must be at least 1"));
            }
        }
        for (name, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("shutdown_timeout_secs", self.shutdown_timeout_secs),
        ] {
            if v > MAX_TIMEOUT_SECS {
                return Err(format!("http.{name} must be at most {MAX_TIMEOUT_SECS} (a day)"));
            }
        }
        Ok(())
    }
}

/// `[alibaba]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaConfig {
    /// Region of requests that name none (the Tea SDK's ACS3 signature carries no region).
    #[serde(default = "hangzhou")]
    pub default_region: String,
    /// Most signature nonces remembered at once (each for the 15-minute skew window around its
    /// timestamp); beyond it requests are refused rather than let replays through.
    #[serde(default = "nonces")]
    pub nonce_capacity: usize,
    /// Most of them one account may hold, so one tenant never refuses another's requests.
    #[serde(default = "nonce_share")]
    pub nonce_share_per_account: usize,
}

fn hangzhou() -> String {
    "cn-hangzhou".into()
}

fn nonces() -> usize {
    4_000_000
}

fn nonce_share() -> usize {
    1_000_000
}

impl Default for AlibabaConfig {
    fn default() -> Self {
        Self { default_region: hangzhou(), nonce_capacity: nonces(), nonce_share_per_account: nonce_share() }
    }
}

/// `[tencent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentConfig {
    /// Most TC3 signatures remembered at once (each while its timestamp is valid), so that a
    /// signature stays bound to the action it was first seen with.
    #[serde(default = "signatures")]
    pub signature_capacity: usize,
    /// Most of them one account may hold.
    #[serde(default = "signature_share")]
    pub signature_share_per_account: usize,
}

fn signatures() -> usize {
    8_000_000
}

fn signature_share() -> usize {
    4_000_000
}

impl Default for TencentConfig {
    fn default() -> Self {
        Self { signature_capacity: signatures(), signature_share_per_account: signature_share() }
    }
}

/// TLS certificate and key (PEM files).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Root key source for a new data directory.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RootKeySource {
    /// A random key in `<data-dir>/root.key` (mode 0600).
    #[default]
    File,
    /// Derived from the passphrase in `FERROKMS_ROOT_PASSPHRASE` with Argon2id.
    Passphrase,
    /// An AES-256 key in a PKCS#11 token (`module`, `token_label`, `key_label`; the PIN from
    /// `pin_file` or `FERROKMS_PKCS11_PIN`).
    Pkcs11,
}

/// `[root_key]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RootKeyConfig {
    /// Source of a new data directory's root (later roots come from `ferrokms admin rotate-root`).
    #[serde(default)]
    pub source: RootKeySource,
    /// PKCS#11: path of the token's library (e.g. /usr/lib/softhsm/libsofthsm2.so).
    pub module: Option<PathBuf>,
    /// PKCS#11: label of the token.
    pub token_label: Option<String>,
    /// PKCS#11: label of the root key on the token (created there with a new data directory).
    pub key_label: Option<String>,
    /// PKCS#11: a file holding the user PIN (read at start); else `FERROKMS_PKCS11_PIN`.
    pub pin_file: Option<PathBuf>,
}

impl RootKeyConfig {
    /// A configuration of `source` with no PKCS#11 settings.
    pub fn of(source: RootKeySource) -> Self {
        Self { source, ..Self::default() }
    }
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether quotas apply.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Requests per second per account for actions not listed.
    #[serde(default = "default_rps")]
    pub default: u32,
    /// Requests per second per account, by action name.
    #[serde(default)]
    pub actions: HashMap<String, u32>,
}

fn yes() -> bool {
    true
}

fn default_rps() -> u32 {
    150
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { enabled: true, default: default_rps(), actions: HashMap::new() }
    }
}

/// `[rotation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationConfig {
    /// Smallest interval between two RotateKey calls on one key, seconds.
    #[serde(default = "day")]
    pub min_manual_interval_secs: u64,
}

fn day() -> u64 {
    86_400
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self { min_manual_interval_secs: day() }
    }
}

/// `[background]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundConfig {
    /// Seconds between passes over due deletions and rotations.
    #[serde(default = "ten")]
    pub interval_secs: u64,
}

fn ten() -> u64 {
    10
}

impl Default for BackgroundConfig {
    fn default() -> Self {
        Self { interval_secs: ten() }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Algorithm of Tencent ENCRYPT_DECRYPT keys: `AES_256` or `SM4`.
    #[serde(default = "aes")]
    pub symmetric_algorithm: String,
    /// How long cached metadata is trusted, milliseconds.
    #[serde(default = "second")]
    pub cache_ttl_ms: u64,
    /// Most keys held unsealed in memory at once (beyond it, half the cache is dropped).
    #[serde(default = "cache_capacity")]
    pub cache_capacity: usize,
    /// Most keys per account.
    #[serde(default = "key_limit")]
    pub max_keys_per_account: u64,
    /// Most hosted data keys per account.
    #[serde(default = "data_key_limit")]
    pub max_data_keys_per_account: u64,
    /// Most listings one account runs at once; more are answered as busy.
    #[serde(default = "listings_per_account")]
    pub max_concurrent_listings_per_account: usize,
}

fn cache_capacity() -> usize {
    100_000
}

fn listings_per_account() -> usize {
    2
}

fn data_key_limit() -> u64 {
    10_000_000
}

fn aes() -> String {
    "AES_256".into()
}

fn second() -> u64 {
    1000
}

fn key_limit() -> u64 {
    100_000
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            symmetric_algorithm: aes(),
            cache_ttl_ms: second(),
            cache_capacity: cache_capacity(),
            max_keys_per_account: key_limit(),
            max_data_keys_per_account: data_key_limit(),
            max_concurrent_listings_per_account: listings_per_account(),
        }
    }
}

/// Reads a configuration file.
pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid configuration {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_defaults_and_checks() {
        let c: FileConfig = toml::from_str("").expect("empty file");
        assert_eq!(c.http.max_connections, 4096);
        assert_eq!(
            (c.http.header_read_timeout_secs, c.http.idle_timeout_secs, c.http.body_read_timeout_secs),
            (10, 60, 10)
        );
        assert_eq!(c.http.shutdown_timeout_secs, 10);
        assert!(c.http.check().is_ok());
        let c: FileConfig = toml::from_str("[http]\nidle_timeout_secs = 0\n").expect("parses");
        assert!(c.http.check().unwrap_err().contains("idle_timeout_secs"));
        let c: FileConfig = toml::from_str("[http]\nbody_read_timeout_secs = 100000\n").expect("parses");
        assert!(c.http.check().is_err());
        let c: FileConfig = toml::from_str("[http]\nshutdown_timeout_secs = 0\n").expect("parses");
        assert!(c.http.check().is_ok());
        assert!(toml::from_str::<FileConfig>("[http]\nmax_conections = 5\n").is_err());
    }
}
