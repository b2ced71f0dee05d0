//! The Tencent Cloud KMS API (2019-01-18) on ferrokms.
//!
//! # Layout
//! - [`tc3`]: TC3-HMAC-SHA256 verification.
//! - [`sign_v1`]: signature v1 (`HmacSHA1`/`HmacSHA256`, form-encoded parameters).
//! - [`request`]: body decoding and the common field parsers.
//! - `actions`: the action table and one module per action family (decode → core → encode).
//! - [`error`]: the table from domain errors to Tencent codes.
//! - [`render`]: KeyMetadata and DataKeyMetadata.
//!
//! [`TencentApi::handle`] takes a request's parts and raw body and returns the response: always
//! HTTP 200, `Content-Type: application/json`, `{"Response": {..., "RequestId": ...}}`.

mod actions;
mod answer;
pub mod error;
#[doc(hidden)] // public for the fuzz targets only (fuzz/); not a stable API
pub mod query;
mod render;
pub mod request;
pub mod sign_v1;
pub mod tc3;

use std::net::SocketAddr;
use std::sync::Arc;

use ferrokms_audit::Outcome;
use ferrokms_core::model::{AccountId, Region, Scope};
use ferrokms_core::quota::RateLimiter;
use ferrokms_core::replay::{Seen, SeenRequests};
use ferrokms_core::service::Kms;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;

pub use actions::{ALL_ACTIONS, is_metadata_read, lookup};
use answer::Answer;
use error::ApiError;
use tc3::{SignatureError, SignedRequest, SigningKeyCache};

/// The API version this front speaks.
pub const VERSION: &str = "2019-01-18";
/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The Tencent front.
pub struct TencentApi {
    kms: Arc<Kms>,
    limits: Arc<RateLimiter>,
    signing_keys: SigningKeyCache,
    max_skew: i64,
    allow_unsigned_payload: bool,
    signatures: SeenRequests,
}

/// Tunables of the Tencent front.
#[derive(Debug, Clone)]
pub struct TencentOptions {
    /// Largest accepted difference between a request's timestamp and the server's clock, seconds.
    pub max_skew: i64,
    /// Accept `UNSIGNED-PAYLOAD`, whose signature does not cover the body.
    pub allow_unsigned_payload: bool,
    /// Most signatures remembered at once (see [`SeenRequests`]).
    pub signature_capacity: usize,
    /// Most of them one account may hold.
    pub signature_share: usize,
}

/// A verified TC3 request: who sent it, and the signature that stays bound to its action.
struct Authenticated {
    account: AccountId,
    signature: u64,
    /// The connection's number, 24 bits, never 0 (0: unknown).
    connection: u32,
    timestamp: i64,
    now: i64,
}

/// A response ready to send.
#[derive(Debug)]
pub struct Reply {
    /// Always 200 for this dialect.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Vec<u8>,
    /// What the audit record says of the request.
    pub audit: Outcome,
}

impl Reply {
    /// The Content-Type header value every response carries.
    pub fn content_type() -> HeaderValue {
        HeaderValue::from_static("application/json")
    }
}

/// The TC3 headers, named once (a lookup by `&str` parses the name every time).
pub(crate) mod names {
    use http::HeaderName;

    pub(crate) const X_TC_ACTION: HeaderName = HeaderName::from_static("x-tc-action");
    pub(crate) const X_TC_VERSION: HeaderName = HeaderName::from_static("x-tc-version");
    pub(crate) const X_TC_REGION: HeaderName = HeaderName::from_static("x-tc-region");
    pub(crate) const X_TC_TIMESTAMP: HeaderName = HeaderName::from_static("x-tc-timestamp");
    pub(crate) const X_TC_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-tc-content-sha256");
}

fn header_str<K: http::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

impl TencentApi {
    /// A front over `kms`.
    pub fn new(kms: Arc<Kms>, limits: Arc<RateLimiter>, opts: TencentOptions) -> Self {
        Self {
            kms,
            limits,
            signing_keys: SigningKeyCache::default(),
            max_skew: opts.max_skew,
            allow_unsigned_payload: opts.allow_unsigned_payload,
            signatures: SeenRequests::new(opts.max_skew, opts.signature_capacity, opts.signature_share),
        }
    }

    /// Drops the signatures whose timestamps have expired, in every shard of the memory.
    pub fn sweep_replay_memory(&self) {
        self.signatures.sweep(i64::try_from(ferrokms_core::model::now()).unwrap_or(i64::MAX));
    }

    /// Whether a request is addressed to this dialect: TC3 headers, or signature v1 parameters
    /// (`SecretId` and `Signature` in the query or in a form body).
    pub fn claims(headers: &HeaderMap, query: &str, body: &[u8]) -> bool {
        Self::claims_by_headers(headers) || sign_v1::detect(headers, query, body)
    }

    /// Whether the headers alone say the request is for this dialect: `X-TC-Action`, or a TC3
    /// Authorization.
    pub fn claims_by_headers(headers: &HeaderMap) -> bool {
        headers.contains_key(&names::X_TC_ACTION)
            || header_str(headers, AUTHORIZATION).is_some_and(|a| a.starts_with("TC3-"))
    }

    /// Whether a request is to be verified as signature v1 rather than TC3.
    fn is_v1(query: &str, headers: &HeaderMap, body: &[u8]) -> bool {
        !header_str(headers, AUTHORIZATION).is_some_and(|a| a.starts_with("TC3-"))
            && sign_v1::detect(headers, query, body)
    }

    /// The reply to every request while the service is sealed (given before authentication:
    /// the credentials are sealed too).
    pub fn sealed(&self) -> Reply {
        render(Err(ApiError::from(ferrokms_core::Error::Sealed)), Outcome::default())
    }

    /// The reply for a body larger than [`MAX_BODY`].
    pub fn too_large(&self) -> Reply {
        render(Err(too_large_error()), Outcome::default())
    }

    /// The reply for a request refused because its audit record cannot be written: an action
    /// that changes state may have taken effect (as after a timeout).
    pub fn audit_unavailable(&self) -> Reply {
        let e = ApiError::new(
            "InternalError",
            "The request was refused: its audit record cannot be written. An action that changes state may have \
             taken effect.",
        );
        render(Err(e), Outcome::default())
    }

    /// The reply for a body that did not arrive within `secs` seconds of the request head.
    pub fn body_timeout(&self, secs: u64) -> Reply {
        let e = ApiError::new(
            "InvalidRequest",
            format!("The request body did not arrive within {secs} seconds of its headers."),
        );
        render(Err(e), Outcome::default())
    }

    /// Answers one request; `peer` is the address of the connection it came over.
    pub async fn handle(
        &self,
        method: &Method,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<SocketAddr>,
    ) -> Reply {
        let mut audit = Outcome::default();
        if Self::is_v1(query, headers, body) {
            let result = self.answer_v1(method, query, headers, body, &mut audit).await;
            return render(result, audit);
        }
        let result = self.answer(method, query, headers, body, peer, &mut audit).await;
        if audit.key_id.is_none() && *method == Method::POST {
            audit.key_id = key_param(body);
        }
        render(result, audit)
    }

    async fn answer(
        &self,
        method: &Method,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<SocketAddr>,
        audit: &mut Outcome,
    ) -> Result<Answer, ApiError> {
        if body.len() > MAX_BODY {
            return Err(too_large_error());
        }
        // POST carries a JSON body; GET carries the same parameters flattened in the query.
        let method_name = match *method {
            Method::POST => "POST",
            Method::GET => "GET",
            _ => {
                return Err(ApiError::new("UnsupportedProtocol", "ferrokms accepts TC3-signed POST and GET requests."));
            }
        };
        let action_name = header_str(headers, &names::X_TC_ACTION).ok_or_else(|| ApiError::missing("Action"))?;
        audit.set_action(lookup(action_name), action_name);
        let verified = self.authenticate(method_name, query, headers, body, peer, audit).await?;
        audit.account = Some(verified.account.0);
        let json = match *method {
            Method::GET => std::borrow::Cow::Owned(query::to_json(query)?),
            _ => std::borrow::Cow::Borrowed(body),
        };
        let (version, region) = (header_str(headers, &names::X_TC_VERSION), header_str(headers, &names::X_TC_REGION));
        let out = self.execute(verified.account, Some(&verified), action_name, (version, region), &json, audit).await;
        if audit.key_id.is_none() && *method == Method::GET {
            audit.key_id = key_param(&json);
        }
        out
    }

    /// Checks the version and region, then runs the action for an authenticated account (with
    /// the TC3 signature to bind to the action: signature v1 covers the action itself).
    async fn execute(
        &self,
        account: AccountId,
        tc3: Option<&Authenticated>,
        action_name: &str,
        (version, region): (Option<&str>, Option<&str>),
        json: &[u8],
        audit: &mut Outcome,
    ) -> Result<Answer, ApiError> {
        match version {
            None | Some("") => return Err(ApiError::missing("Version")),
            Some(VERSION) => {}
            Some(v) => {
                return Err(ApiError::new("NoSuchVersion", format!("The API version `{v}` does not exist.")));
            }
        }
        let region_name = region.filter(|r| !r.is_empty()).ok_or_else(|| ApiError::missing("Region"))?;
        let region = Region::from_tencent(region_name).ok_or_else(|| {
            ApiError::new("UnsupportedRegion", format!("The region `{region_name}` is not supported."))
        })?;
        let action = lookup(action_name)
            .ok_or_else(|| ApiError::new("InvalidAction", format!("The action `{action_name}` does not exist.")))?;
        if let Err(t) = self.limits.check(account, action) {
            return Err(ApiError::new(
                "RequestLimitExceeded",
                format!("The request rate of {action} exceeds the limit of {} per second.", t.limit),
            ));
        }
        if let Some(verified) = tc3 {
            self.bind_signature(verified, action)?;
        }
        let ctx = actions::Ctx { kms: &self.kms, scope: Scope { account, region }, key: Default::default() };
        let out = actions::dispatch(&ctx, action, json).await.unwrap_or_else(|| {
            Err(ApiError::new(
                "UnsupportedOperation",
                format!("The action `{action}` is not supported by this ferrokms version (see docs/compatibility.md)."),
            ))
        });
        if let Some((id, version)) = ctx.key.get() {
            audit.key_id = Some(id.to_string());
            audit.key_version = version.map(|v| v.to_string());
        }
        out
    }

    /// The SDKs do not sign `X-TC-Action`: a signature is bound to the action it was first seen
    /// with, so a captured request cannot be resent elsewhere as another action that changes
    /// something or answers secrets (a DescribeKey body as DisableKey). Let through:
    /// - an identical resend (an SDK retry, over any connection), answered as the cloud does;
    /// - any action over the connection that first carried the signature (within one second one
    ///   client may send one body for two actions, which sign alike; nobody else speaks there);
    /// - an action that only reads metadata, from anywhere: clients sharing an access key send
    ///   `{}` to GetRegions and ListKeys within the same second, which sign alike too.
    ///
    /// The region is not bound: a request resent to another region meets that region's keys, as
    /// a resend to its own region would (docs/security.md).
    fn bind_signature(&self, v: &Authenticated, action: &str) -> Result<(), ApiError> {
        // The tag: the action's index in the table (exact) and the connection's number.
        let index = ALL_ACTIONS.iter().position(|a| *a == action).unwrap_or(usize::MAX);
        let action_bits = (index as u32 & 0xff) << 24;
        match self.signatures.check(v.account, v.signature, action_bits | v.connection, v.timestamp, v.now) {
            Seen::New => Ok(()),
            Seen::Before(tag) if tag & 0xff00_0000 == action_bits || is_metadata_read(action) => Ok(()),
            Seen::Before(tag) if v.connection != 0 && tag & 0x00ff_ffff == v.connection => Ok(()),
            Seen::Before(_) => Err(ApiError::new(
                "AuthFailure.SignatureFailure",
                "This signature was already used for another action; sign each request anew.",
            )),
            Seen::Full => Err(ApiError::new(
                "RequestLimitExceeded",
                "This account's share of replay protection is in use ([tencent] signature_share_per_account); \
                 retry shortly.",
            )),
        }
    }

    /// A connection's number: 24 bits of a keyed hash of its peer address, never 0 (which
    /// means none is known). Another connection passes for this one once in 2^24.
    fn connection_id(&self, peer: SocketAddr) -> u32 {
        let port = peer.port().to_be_bytes();
        let h = match peer.ip() {
            std::net::IpAddr::V4(ip) => self.signatures.identity(&[&ip.octets(), &port]),
            std::net::IpAddr::V6(ip) => self.signatures.identity(&[&ip.octets(), &port]),
        };
        (h as u32 & 0x00ff_ffff) | 1
    }

    async fn authenticate(
        &self,
        method: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        peer: Option<SocketAddr>,
        audit: &mut Outcome,
    ) -> Result<Authenticated, ApiError> {
        if !self.allow_unsigned_payload && header_str(headers, &names::X_TC_CONTENT_SHA256) == Some("UNSIGNED-PAYLOAD")
        {
            return Err(ApiError::new(
                "AuthFailure.InvalidAuthorization",
                "UNSIGNED-PAYLOAD is refused: the signature would not cover the body (see docs/security.md).",
            ));
        }
        let invalid_auth =
            || ApiError::new("AuthFailure.InvalidAuthorization", "The Authorization header is missing or malformed.");
        let value = header_str(headers, AUTHORIZATION).ok_or_else(invalid_auth)?;
        let auth = tc3::parse_authorization(value).map_err(|_| invalid_auth())?;
        audit.access_key_id = Some(ferrokms_audit::cut(auth.secret_id).to_owned());
        let timestamp = header_str(headers, &names::X_TC_TIMESTAMP).ok_or_else(|| ApiError::missing("Timestamp"))?;
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| ApiError::invalid_parameter("X-TC-Timestamp must be an integer number of seconds."))?;
        let credential = self.kms.credential(auth.secret_id).await?.ok_or_else(|| {
            ApiError::new("AuthFailure.SecretIdNotFound", "The SecretId does not exist or is disabled.")
        })?;
        let now = i64::try_from(ferrokms_core::model::now()).unwrap_or(i64::MAX);
        if now.abs_diff(timestamp) > self.max_skew.unsigned_abs() {
            return Err(ApiError::new(
                "AuthFailure.SignatureExpire",
                format!(
                    "The request timestamp {timestamp} is more than {} seconds from the server time {now}.",
                    self.max_skew
                ),
            ));
        }
        let req = SignedRequest { method, query, headers, body, timestamp };
        match tc3::verify(&self.signing_keys, &auth, &credential.secret, &req) {
            Ok(()) => Ok(Authenticated {
                account: credential.account,
                signature: self.signatures.identity(&[auth.secret_id.as_bytes(), &auth.signature]),
                connection: peer.map_or(0, |p| self.connection_id(p)),
                timestamp,
                now,
            }),
            Err(SignatureError::Malformed) => Err(invalid_auth()),
            Err(SignatureError::BadScope | SignatureError::Mismatch) => {
                Err(ApiError::new("AuthFailure.SignatureFailure", "The request signature does not match."))
            }
        }
    }
}

impl TencentApi {
    /// A signature v1 request: every parameter (action, region and version included) comes from
    /// the signed set, the query of a GET or the form body of a POST; headers steer nothing.
    async fn answer_v1(
        &self,
        method: &Method,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        audit: &mut Outcome,
    ) -> Result<Answer, ApiError> {
        if body.len() > MAX_BODY {
            return Err(too_large_error());
        }
        let (method_name, raw) = match *method {
            Method::GET => ("GET", query.as_bytes()),
            Method::POST if query.is_empty() => ("POST", body),
            Method::POST => {
                return Err(ApiError::invalid_parameter(
                    "A v1-signed POST carries its parameters in the form body; the query must be empty.",
                ));
            }
            _ => {
                return Err(ApiError::new("UnsupportedProtocol", "ferrokms accepts v1-signed POST and GET requests."));
            }
        };
        let params = sign_v1::Params::parse(raw)?;
        audit.access_key_id = params.get("SecretId").map(|id| ferrokms_audit::cut(id).to_owned());
        if let Some(name) = params.get("Action") {
            audit.set_action(lookup(name), name);
        }
        audit.key_id = params.get("KeyId").map(|id| ferrokms_audit::cut(id).to_owned());
        let account = self.authenticate_v1(method_name, headers, &params).await?;
        audit.account = Some(account.0);
        let action_name = params.get("Action").filter(|a| !a.is_empty()).ok_or_else(|| ApiError::missing("Action"))?;
        let json = query::pairs_to_json(params.action_parameters())?;
        let (version, region) = (params.get("Version"), params.get("Region"));
        self.execute(account, None, action_name, (version, region), &json, audit).await
    }

    async fn authenticate_v1(
        &self,
        method: &str,
        headers: &HeaderMap,
        params: &sign_v1::Params,
    ) -> Result<AccountId, ApiError> {
        let claimed = sign_v1::Claimed::from_params(params)?;
        let credential = self.kms.credential(claimed.secret_id).await?;
        let check = sign_v1::Check {
            method,
            host: header_str(headers, HOST).unwrap_or_default(),
            now: i64::try_from(ferrokms_core::model::now()).unwrap_or(i64::MAX),
            max_skew: self.max_skew,
        };
        sign_v1::verify(params, &claimed, credential.as_ref().map(|c| (c.secret.as_str(), c.account)), &check)
    }
}

fn too_large_error() -> ApiError {
    ApiError::new("RequestSizeLimitExceeded", format!("The request body is larger than {MAX_BODY} bytes."))
}

fn render(result: Result<Answer, ApiError>, mut audit: Outcome) -> Reply {
    let answer = match result {
        Ok(answer) => {
            audit.code = "OK";
            answer
        }
        Err(e) => {
            audit.code = e.code;
            Answer::from(json!({ "Error": { "Code": e.code, "Message": e.message } }))
        }
    };
    audit.request_id = ferrokms_core::model::request_id();
    audit.status = StatusCode::OK.as_u16();
    Reply { status: StatusCode::OK, body: answer.finish(&audit.request_id), audit }
}

/// The `KeyId` a JSON body gives, for the audit record of a request whose action did not
/// resolve a key (refused, or an action without one). Only other fields' values are skipped.
fn key_param(json: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct KeyParam<'a> {
        #[serde(rename = "KeyId", borrow)]
        key_id: Option<std::borrow::Cow<'a, str>>,
    }
    let p: KeyParam<'_> = serde_json::from_slice(json).ok()?;
    p.key_id.map(|id| ferrokms_audit::cut(&id).to_owned())
}
