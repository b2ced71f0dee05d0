//! Storage backends of ferrokms, behind [`ferrokms_core::store::Store`].
//!
//! - [`sqlite`]: the embedded default (one file in the data directory, WAL, `synchronous=FULL`,
//!   group commit for hosted data keys).
//! - `conformance` (feature `conformance`): the test suite every backend must pass.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod sqlite;

pub use sqlite::SqliteStore;
