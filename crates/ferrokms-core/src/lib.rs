//! The KMS domain of ferrokms, shared by every API dialect.
//!
//! # Layout
//! - [`keyspec`]: what a key is ([`keyspec::KeySpec`]) and is for ([`keyspec::KeyUsage`]), with each
//!   dialect's names and the algorithms each spec allows, in one table.
//! - [`model`]: identifiers, regions, keys, key versions, hosted data keys and their states.
//! - [`context`]: encryption contexts and their canonical form.
//! - [`validate`]: the field rules the cloud APIs share (aliases, names, lengths).
//! - [`error`]: the one domain error; each dialect maps it to its own codes in one table.
//! - [`store`]: the [`store::Store`] trait that storage backends implement.
//! - [`service`]: [`service::Kms`], the operations (create, encrypt, generate data key, rotate...).
//!
//! Nothing here speaks HTTP or SQL: fronts decode requests into these types, backends persist them.

pub mod context;
pub mod error;
pub mod keyspec;
pub mod model;
pub mod quota;
pub mod replay;
pub mod service;
pub mod store;
pub mod validate;

pub use error::{Error, Result};

/// The SHA-256 hex form both dialects' request signatures use, so the fronts need no crypto
/// crate of their own.
pub mod digest {
    pub use ferrokms_crypto::digest::Sha256Hex;
}
