//! The Alibaba Cloud KMS API (2016-01-20) on ferrokms.
//!
//! # Layout
//! - [`params`]: parameters from the query string and the form body, and the percent-encoding
//!   the signatures use.
//! - [`sign`]: ACS3-HMAC-SHA256, RPC signature v1 (HMAC-SHA1) and ACS4-HMAC-SHA256 verification.
//! - [`nonce`]: replay protection for signature nonces.
//! - `api`: the front door (authentication, region, action table, quotas, envelope).
//! - `actions`: one module per action family (decode → core → encode).
//! - [`error`]: the table from domain errors to Alibaba codes and HTTP statuses.
//! - [`render`]: JSON and XML envelopes, times, key metadata.

mod actions;
mod api;
pub mod error;
pub mod nonce;
pub mod params;
pub mod render;
mod request;
pub mod sign;

pub use actions::{ALL_ACTIONS, lookup};

/// The `x-acs-*` headers, named once (a lookup by `&str` parses and hashes the name every time).
pub(crate) mod names {
    use http::HeaderName;

    pub(crate) const X_ACS_ACTION: HeaderName = HeaderName::from_static("x-acs-action");
    pub(crate) const X_ACS_VERSION: HeaderName = HeaderName::from_static("x-acs-version");
    pub(crate) const X_ACS_DATE: HeaderName = HeaderName::from_static("x-acs-date");
    pub(crate) const X_ACS_SIGNATURE_NONCE: HeaderName = HeaderName::from_static("x-acs-signature-nonce");
    pub(crate) const X_ACS_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-acs-content-sha256");
}
pub use api::{AlibabaApi, Reply, VERSION};
