//! The Tencent Cloud KMS API (2019-01-18) on ferrokms.
//!
//! # Layout
//! - [`tc3`]: TC3-HMAC-SHA256 verification.
//! - [`request`]: body decoding and the common field parsers.
//! - `actions`: the action table and one module per action family (decode → core → encode).
//! - [`error`]: the table from domain errors to Tencent codes.
//! - [`render`]: KeyMetadata and DataKeyMetadata.
//!
//! [`TencentApi::handle`] takes a request's parts and raw body and returns the response: always
//! HTTP 200, `Content-Type: application/json`, `{"Response": {..., "RequestId": ...}}`.

mod actions;
pub mod error;
#[doc(hidden)] // public for the fuzz targets only (fuzz/); not a stable API
pub mod query;
mod render;
pub mod request;
pub mod tc3;

use std::sync::Arc;

use ferrokms_core::model::{Region, Scope};
use ferrokms_core::quota::RateLimiter;
use ferrokms_core::service::Kms;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

pub use actions::{ALL_ACTIONS, lookup};
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
}

/// A response ready to send.
#[derive(Debug)]
pub struct Reply {
    /// Always 200 for this dialect.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The Content-Type header value every response carries.
    pub fn content_type() -> HeaderValue {
        HeaderValue::from_static("application/json")
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

impl TencentApi {
    /// A front over `kms`, refusing timestamps more than `max_skew` seconds from now, and
    /// unsigned payloads unless `allow_unsigned_payload`.
    pub fn new(kms: Arc<Kms>, limits: Arc<RateLimiter>, max_skew: i64, allow_unsigned_payload: bool) -> Self {
        Self { kms, limits, signing_keys: SigningKeyCache::default(), max_skew, allow_unsigned_payload }
    }

    /// Whether a request is addressed to this dialect.
    pub fn claims(headers: &HeaderMap) -> bool {
        headers.contains_key("x-tc-action")
            || header_str(headers, "authorization").is_some_and(|a| a.starts_with("TC3-"))
    }

    /// The reply for a body larger than [`MAX_BODY`].
    pub fn too_large(&self) -> Reply {
        render(Err(too_large_error()))
    }

    /// Answers one request.
    pub async fn handle(&self, method: &Method, query: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
        render(self.answer(method, query, headers, body).await)
    }

    async fn answer(&self, method: &Method, query: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
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
        let action_name = header_str(headers, "x-tc-action").ok_or_else(|| ApiError::missing("Action"))?;
        let account = self.authenticate(method_name, query, headers, body).await?;
        let json = match *method {
            Method::GET => std::borrow::Cow::Owned(query::to_json(query)?),
            _ => std::borrow::Cow::Borrowed(body),
        };
        match header_str(headers, "x-tc-version") {
            None | Some("") => return Err(ApiError::missing("Version")),
            Some(VERSION) => {}
            Some(v) => {
                return Err(ApiError::new("NoSuchVersion", format!("The API version `{v}` does not exist.")));
            }
        }
        let region_name =
            header_str(headers, "x-tc-region").filter(|r| !r.is_empty()).ok_or_else(|| ApiError::missing("Region"))?;
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
        let ctx = actions::Ctx { kms: &self.kms, scope: Scope { account, region } };
        actions::dispatch(&ctx, action, &json).await.unwrap_or_else(|| {
            Err(ApiError::new(
                "UnsupportedOperation",
                format!("The action `{action}` is not supported by this ferrokms version (see docs/compatibility.md)."),
            ))
        })
    }

    async fn authenticate(
        &self,
        method: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ferrokms_core::model::AccountId, ApiError> {
        if !self.allow_unsigned_payload && header_str(headers, "x-tc-content-sha256") == Some("UNSIGNED-PAYLOAD") {
            return Err(ApiError::new(
                "AuthFailure.InvalidAuthorization",
                "UNSIGNED-PAYLOAD is refused: the signature would not cover the body (see docs/security.md).",
            ));
        }
        let invalid_auth =
            || ApiError::new("AuthFailure.InvalidAuthorization", "The Authorization header is missing or malformed.");
        let value = header_str(headers, "authorization").ok_or_else(invalid_auth)?;
        let auth = tc3::parse_authorization(value).map_err(|_| invalid_auth())?;
        let timestamp = header_str(headers, "x-tc-timestamp").ok_or_else(|| ApiError::missing("Timestamp"))?;
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
            Ok(()) => Ok(credential.account),
            Err(SignatureError::Malformed) => Err(invalid_auth()),
            Err(SignatureError::BadScope | SignatureError::Mismatch) => {
                Err(ApiError::new("AuthFailure.SignatureFailure", "The request signature does not match."))
            }
        }
    }
}

fn too_large_error() -> ApiError {
    ApiError::new("RequestSizeLimitExceeded", format!("The request body is larger than {MAX_BODY} bytes."))
}

fn render(result: Result<Value, ApiError>) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = match result {
        Ok(Value::Object(mut map)) => {
            map.insert("RequestId".into(), Value::String(request_id));
            Value::Object(map)
        }
        Ok(_) => json!({ "RequestId": request_id }),
        Err(e) => json!({ "Error": { "Code": e.code, "Message": e.message }, "RequestId": request_id }),
    };
    let body = serde_json::to_vec(&json!({ "Response": response })).unwrap_or_default();
    Reply { status: StatusCode::OK, body }
}
