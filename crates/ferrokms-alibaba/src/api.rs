//! The Alibaba front door: authentication, region, action table, quotas, and the envelope.

use std::sync::Arc;

use ferrokms_audit::{Outcome, cut};
use ferrokms_core::model::{AccountId, Region, Scope};
use ferrokms_core::quota::RateLimiter;
use ferrokms_core::service::Kms;
use http::header::{AUTHORIZATION, AsHeaderName, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::actions;
use crate::error::ApiError;
use crate::names::{X_ACS_ACTION, X_ACS_VERSION};
use crate::nonce::{NonceCheck, Nonces};
use crate::params::Params;
use crate::render::{self, Format};
use crate::request::Ctx;
use crate::sign::{self, HttpRequest, Scheme, SignError};

/// The API version this front speaks.
pub const VERSION: &str = "2016-01-20";
/// Accepted clock difference of signed requests (spec section 9), seconds.
const MAX_SKEW: i64 = 15 * 60;

/// The Alibaba front.
pub struct AlibabaApi {
    kms: Arc<Kms>,
    limits: Arc<RateLimiter>,
    nonces: Nonces,
    default_region: Region,
}

/// A response ready to send.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type.
    pub content_type: HeaderValue,
    /// `x-acs-retry-after`, on throttling.
    pub retry_after: Option<HeaderValue>,
    /// The body.
    pub body: Vec<u8>,
    /// What the audit record says of the request.
    pub audit: Outcome,
}

fn header<K: AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// `kms.<region>.aliyuncs.com` or `kms-vpc.<region>.aliyuncs.com` (port allowed).
fn region_of_host(host: &str) -> Option<&str> {
    let host = host.split(':').next()?;
    let rest = host.strip_prefix("kms.").or_else(|| host.strip_prefix("kms-vpc."))?;
    rest.strip_suffix(".aliyuncs.com")
}

impl AlibabaApi {
    /// A front over `kms`; requests that name no region go to `default_region`. At most
    /// `nonce_capacity` nonces are remembered at once, `nonce_share` of them one account's.
    pub fn new(
        kms: Arc<Kms>,
        limits: Arc<RateLimiter>,
        default_region: Region,
        nonce_capacity: usize,
        nonce_share: usize,
    ) -> Self {
        Self { kms, limits, nonces: Nonces::new(MAX_SKEW, nonce_capacity, nonce_share), default_region }
    }

    /// Drops the nonces whose timestamps have expired, in every shard of the memory.
    pub fn sweep_replay_memory(&self) {
        self.nonces.sweep(i64::try_from(ferrokms_core::model::now()).unwrap_or(i64::MAX));
    }

    /// Whether a request is addressed to this dialect (the Tencent front, asked first, claims
    /// TC3 requests): an `x-acs-action` header, an ACS Authorization, an RPC-style `Action`
    /// parameter in the query, or a form body (where the RPC SDK may put its parameters).
    pub fn claims(headers: &HeaderMap, query: &str) -> bool {
        Self::claims_by_headers(headers)
            || form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "Action")
            || header(headers, CONTENT_TYPE).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    }

    /// Whether the headers alone say the request is for this dialect: `x-acs-action`, or an
    /// ACS3/ACS4 Authorization.
    pub fn claims_by_headers(headers: &HeaderMap) -> bool {
        headers.contains_key(X_ACS_ACTION)
            || header(headers, AUTHORIZATION).is_some_and(|a| a.starts_with("ACS3-") || a.starts_with("ACS4-"))
    }

    /// The reply for a body over the size limit.
    pub fn too_large(&self, headers: &HeaderMap) -> Reply {
        let e = ApiError::invalid("body", "the request body is too large");
        error_reply(Format::Json, headers, &e, Outcome::default())
    }

    /// The reply for a request refused because its audit record cannot be written: 503
    /// `ServiceUnavailableTemporary`. An action that changes state may have taken effect (as
    /// after a timeout).
    pub fn audit_unavailable(&self, headers: &HeaderMap) -> Reply {
        let e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableTemporary",
            "The request was refused: its audit record cannot be written. An action that changes state may have \
             taken effect.",
        );
        error_reply(Format::Json, headers, &e, Outcome::default())
    }

    /// The reply to every request while the service is sealed: 503 (given before
    /// authentication: the credentials are sealed too).
    pub fn sealed(&self, headers: &HeaderMap) -> Reply {
        error_reply(Format::Json, headers, &ApiError::from(ferrokms_core::Error::Sealed), Outcome::default())
    }

    /// The reply for a body that did not arrive within `secs` seconds of the request head:
    /// 408 `RequestTimeout` (the KMS documentation lists no code for it).
    pub fn body_timeout(&self, headers: &HeaderMap, secs: u64) -> Reply {
        let e = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            format!("The request body did not arrive within {secs} seconds of its headers."),
        );
        error_reply(Format::Json, headers, &e, Outcome::default())
    }

    /// Answers one request.
    pub async fn handle(&self, method: &Method, query: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
        let content_type = header(headers, CONTENT_TYPE);
        let params = match Params::new(query, body, content_type) {
            Ok(p) => p,
            Err(e) => {
                return error_reply(Format::Json, headers, &ApiError::invalid("parameters", &e), Outcome::default());
            }
        };
        let format = match params.get("Format") {
            Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
            _ => Format::Json,
        };
        let mut audit = Outcome::default();
        let result = self.answer(method, headers, body, &params, &mut audit).await;
        if audit.key_id.is_none() {
            audit.key_id = params.get("KeyId").map(|id| cut(id).to_owned());
        }
        match result {
            Ok((action, value)) => {
                let named = value.get("KeyId").or_else(|| value.get("KeyMetadata")?.get("KeyId"));
                if let Some(id) = named.and_then(|v| v.as_str()) {
                    audit.key_id = Some(cut(id).to_owned());
                }
                audit.key_version = value.get("KeyVersionId").and_then(|v| v.as_str()).map(|v| cut(v).to_owned());
                audit.request_id = ferrokms_core::model::request_id();
                audit.status = StatusCode::OK.as_u16();
                audit.code = "OK";
                Reply {
                    status: StatusCode::OK,
                    content_type: HeaderValue::from_static(format.content_type()),
                    retry_after: None,
                    body: render::body(format, action, value, &audit.request_id),
                    audit,
                }
            }
            Err(e) => error_reply(format, headers, &e, audit),
        }
    }

    async fn answer(
        &self,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
        params: &Params,
        audit: &mut Outcome,
    ) -> Result<(&'static str, serde_json::Map<String, serde_json::Value>), ApiError> {
        if *method != Method::POST && *method != Method::GET {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "UnsupportedHTTPMethod", "Use POST or GET."));
        }
        if let Some(name) = params.duplicate_name() {
            // The signature sorts parameters: with a name twice, which value counts is unsigned.
            return Err(ApiError::invalid(name, "given more than once"));
        }
        let Some(given) = header(headers, X_ACS_ACTION).or_else(|| params.get("Action")).filter(|a| !a.is_empty())
        else {
            return Err(ApiError::missing("Action"));
        };
        audit.set_action(actions::lookup(given), given);
        let req = HttpRequest { method: method.as_str(), headers, body };
        let verified = self.authenticate(&req, params, audit).await?;
        audit.account = Some(verified.account.0);
        // Only what the signature covers may steer the request: ACS3/ACS4 sign the x-acs-*
        // headers and the host; the RPC signature covers the parameters and nothing else.
        let rpc = matches!(verified.scheme, Scheme::RpcV1 { .. });
        let action_name = signed(headers, params, rpc, &X_ACS_ACTION, "Action")?.unwrap_or_default();
        audit.set_action(actions::lookup(action_name), action_name);
        match signed(headers, params, rpc, &X_ACS_VERSION, "Version")? {
            Some(VERSION) => {}
            None => return Err(ApiError::missing("Version")),
            Some(v) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidVersion",
                    format!("Specified parameter Version `{v}` is not valid."),
                ));
            }
        }
        let host = if rpc { None } else { header(headers, HOST) };
        let region = self.region(params, verified.scope_region.as_deref(), host)?;
        let action = actions::lookup(action_name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            )
        })?;
        if let Err(t) = self.limits.check(verified.account, action) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Throttling",
                format!("Request was denied due to request throttling: {action} allows {} per second.", t.limit),
            ));
        }
        // Only a verified request for a known action within its quota may use up a nonce, so
        // nobody can burn another caller's nonces or fill the memory with throttled requests.
        let nonce = verified.nonce.as_deref().unwrap_or_default();
        let (check, claim) = self.nonces.check_and_insert(
            verified.account,
            &verified.access_key_id,
            nonce,
            verified.timestamp,
            verified.now,
        );
        match check {
            NonceCheck::Fresh => {}
            NonceCheck::Replayed => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "SignatureNonceUsed",
                    "Specified signature nonce was used already.",
                ));
            }
            NonceCheck::Full => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableTemporary",
                    "This access key's share of replay protection is in use ([alibaba] nonce_share_per_account); \
                     retry shortly.",
                ));
            }
        }
        // Fresh here; on a store shared by several nodes, also fresh everywhere else (a replay
        // to another node is refused there). One insert per request; SQLite answers at once.
        let mut shared = Vec::with_capacity(verified.access_key_id.len() + 1 + nonce.len());
        shared.extend_from_slice(verified.access_key_id.as_bytes());
        shared.push(0);
        shared.extend_from_slice(nonce.as_bytes());
        let expires_at = u64::try_from(verified.timestamp.saturating_add(MAX_SKEW)).unwrap_or_default();
        let fresh = match self.kms.claim_nonce(verified.account, &shared, expires_at).await {
            Ok(fresh) => fresh,
            Err(e) => {
                // Recorded nowhere (or, after a lost commit answer, in the store, which then
                // refuses the retry itself): the client's retry must not be taken for a replay here.
                if let Some(claim) = claim {
                    self.nonces.release(claim);
                }
                return Err(ApiError::from(e));
            }
        };
        if !fresh {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        let ctx = Ctx { kms: &self.kms, scope: Scope { account: verified.account, region }, params };
        let Some(outcome) = actions::dispatch(&ctx, action).await else {
            // An action ferrokms does not implement did nothing: its nonce need not take room.
            if let Some(claim) = claim {
                self.nonces.release(claim);
            }
            return Err(ApiError::unsupported(&format!("The action {action}")));
        };
        let value = outcome.map_err(|e| dry_run_outcome(&ctx, e))?;
        Ok((action, value))
    }

    fn region(&self, params: &Params, from_scope: Option<&str>, host: Option<&str>) -> Result<Region, ApiError> {
        let named =
            params.get("RegionId").filter(|r| !r.is_empty()).or(from_scope).or_else(|| host.and_then(region_of_host));
        match named {
            None => Ok(self.default_region.clone()),
            Some(name) => Region::from_alibaba(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidRegionId",
                    format!("The region {name} is not supported."),
                )
            }),
        }
    }

    /// Verifies the signature and the timestamp.
    async fn authenticate(
        &self,
        req: &HttpRequest<'_>,
        params: &Params,
        audit: &mut Outcome,
    ) -> Result<Verified, ApiError> {
        let claimed = sign::claimed(req, params).map_err(sign_error)?.ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "IncompleteSignature", "The request is not signed.")
        })?;
        audit.access_key_id = Some(cut(&claimed.access_key_id).to_owned());
        let credential = self.kms.credential(&claimed.access_key_id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        })?;
        let now = i64::try_from(ferrokms_core::model::now()).unwrap_or(i64::MAX);
        if now.abs_diff(claimed.timestamp) > MAX_SKEW.unsigned_abs() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        sign::verify(&claimed, &credential.secret, req, params).map_err(sign_error)?;
        let scope_region = match &claimed.scheme {
            Scheme::Acs4 { region, .. } => Some(region.clone()),
            _ => None,
        };
        Ok(Verified {
            account: credential.account,
            access_key_id: claimed.access_key_id,
            nonce: claimed.nonce,
            scheme: claimed.scheme,
            scope_region,
            timestamp: claimed.timestamp,
            now,
        })
    }
}

/// With `DryRun=true`, invalid parameters answer `ValidationError` (the DryRun results of the
/// API are DryRunOperationError, ValidationError and AccessDeniedError); other errors stay.
fn dry_run_outcome(ctx: &Ctx<'_>, e: ApiError) -> ApiError {
    let invalid = matches!(e.code, "InvalidParameter" | "MissingParameter");
    if invalid && ctx.dry_run().unwrap_or(false) {
        return ApiError::new(StatusCode::BAD_REQUEST, "ValidationError", e.message);
    }
    e
}

/// What a verified signature establishes.
struct Verified {
    account: AccountId,
    access_key_id: String,
    nonce: Option<String>,
    scheme: Scheme,
    scope_region: Option<String>,
    /// The signed timestamp.
    timestamp: i64,
    now: i64,
}

/// A value that must be covered by the signature: for RPC requests the parameter (a header of
/// the same meaning must agree with it); otherwise the signed `x-acs-*` header, else the parameter.
fn signed<'a>(
    headers: &'a HeaderMap,
    params: &'a Params,
    rpc: bool,
    header_name: &HeaderName,
    param: &str,
) -> Result<Option<&'a str>, ApiError> {
    let from_header = header(headers, header_name);
    let from_param = params.get(param);
    if rpc {
        if from_header.is_some_and(|h| Some(h) != from_param) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "IncompleteSignature",
                format!("The {header_name} header disagrees with the signed {param} parameter."),
            ));
        }
        return Ok(from_param);
    }
    Ok(from_header.or(from_param))
}

fn sign_error(e: SignError) -> ApiError {
    let bad = StatusCode::BAD_REQUEST;
    match e {
        SignError::Missing("Timestamp") => {
            ApiError::new(bad, "IllegalTimestamp", "The Timestamp parameter is missing.")
        }
        SignError::Missing(name) => ApiError::missing(name),
        SignError::Incomplete(why) => ApiError::new(bad, "IncompleteSignature", why),
        SignError::BadTimestamp(v) => {
            ApiError::new(bad, "InvalidTimeStamp.Format", format!("Specified time stamp `{v}` is not valid."))
        }
        SignError::UnsupportedMethod(m) => {
            ApiError::new(bad, "IncompleteSignature", format!("Unsupported signature method: {m}."))
        }
        SignError::BodyHashMismatch => {
            ApiError::new(bad, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body.")
        }
        SignError::Mismatch { string_to_sign } => ApiError::new(
            bad,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        ),
    }
}

fn error_reply(format: Format, headers: &HeaderMap, e: &ApiError, mut audit: Outcome) -> Reply {
    audit.request_id = ferrokms_core::model::request_id();
    audit.status = e.status.as_u16();
    audit.code = e.code;
    let host = header(headers, HOST).unwrap_or_default();
    Reply {
        status: e.status,
        content_type: HeaderValue::from_static(format.content_type()),
        retry_after: (e.code == "Throttling").then(|| HeaderValue::from_static("1")),
        body: render::error_body(format, &audit.request_id, host, e.code, &e.message),
        audit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_the_standard_host_names() {
        assert_eq!(region_of_host("kms.cn-shanghai.aliyuncs.com"), Some("cn-shanghai"));
        assert_eq!(region_of_host("kms-vpc.cn-beijing.aliyuncs.com:443"), Some("cn-beijing"));
        assert_eq!(region_of_host("127.0.0.1:8300"), None);
    }
}
