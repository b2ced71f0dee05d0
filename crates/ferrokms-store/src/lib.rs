//! Storage backends of ferrokms, behind [`ferrokms_core::store::Store`].
//!
//! - [`sqlite`]: the embedded default (one file in the data directory, WAL, `synchronous=FULL`,
//!   group commit for hosted data keys).
//! - [`postgres`]: PostgreSQL, for several nodes sharing one database (migrations under an
//!   advisory lock, statement time limits, group commit as on SQLite).
//! - `conformance` (feature `conformance`): the test suite every backend must pass.

#[cfg(feature = "conformance")]
pub mod conformance;
mod filters;
mod group_commit;
pub mod postgres;
mod rows;
pub mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
