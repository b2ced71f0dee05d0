//! Fresh PostgreSQL databases for tests: each test creates `ferrokms_t_<random>` and drops it
//! when done (also when it fails).
//!
//! The server is `FERROKMS_TEST_PG_URL` (a URL whose database the test connects to in order to
//! create and drop its own), by default `postgres://postgres@127.0.0.1:5432/test`, trying the
//! current user and `root` when there is no `postgres` role. If no PostgreSQL answers, the tests
//! fail; `FERROKMS_TEST_PG_URL=none` skips them on purpose.

use std::sync::{Arc, OnceLock};

use ferrokms_core::store::Store;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::PgStore;
use crate::postgres::PgOptions;

/// The environment variable naming the test server.
pub const URL_ENV: &str = "FERROKMS_TEST_PG_URL";

const DEFAULT_HOST: &str = "127.0.0.1:5432/test";

/// The URL of the server's maintenance database, once found.
pub fn base_url() -> Option<String> {
    static BASE: OnceLock<Option<String>> = OnceLock::new();
    BASE.get_or_init(|| {
        let given = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty());
        if given.as_deref() == Some("none") {
            return None;
        }
        let candidates = match given {
            Some(url) => vec![url],
            None => {
                let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
                vec![
                    format!("postgres://postgres@{DEFAULT_HOST}"),
                    format!("postgres://{user}@{DEFAULT_HOST}"),
                    format!("postgres://root@{DEFAULT_HOST}"),
                ]
            }
        };
        let found = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut errors = Vec::new();
            for url in candidates {
                match rt.block_on(PgConnection::connect(&url)) {
                    Ok(conn) => {
                        let _ = rt.block_on(conn.close());
                        return Ok(url);
                    }
                    Err(e) => errors.push(format!("{url}: {e}")),
                }
            }
            Err(errors.join("; "))
        })
        .join()
        .unwrap();
        match found {
            Ok(url) => Some(url),
            Err(why) => panic!(
                "no PostgreSQL answers ({why}): start one, point FERROKMS_TEST_PG_URL at it, \
                 or set FERROKMS_TEST_PG_URL=none to skip the PostgreSQL tests"
            ),
        }
    })
    .clone()
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let after_scheme = head.find("://").map_or(0, |n| n + 3);
    let server = match head[after_scheme..].find('/') {
        Some(n) => &head[..after_scheme + n],
        None => head,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A fresh database, dropped (with whatever is still connected to it) when this is dropped.
pub struct TempDatabase {
    base: String,
    name: String,
}

impl TempDatabase {
    /// Creates one on the server at `base`.
    pub async fn create(base: &str) -> Self {
        let name = format!("ferrokms_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(base).await.expect("connect to PostgreSQL");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        let _ = conn.close().await;
        Self { base: base.to_owned(), name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        with_database(&self.base, &self.name)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut conn = PgConnection::connect(&base).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}: {dropped:?}", self.name);
        }
    }
}

/// A fresh store on a fresh database, or `None` if PostgreSQL tests are switched off.
pub async fn open() -> Option<(Arc<dyn Store>, TempDatabase)> {
    let base = base_url()?;
    let db = TempDatabase::create(&base).await;
    let store = PgStore::open(&db.url(), &PgOptions::default()).await.expect("open a fresh PostgreSQL store");
    Some((Arc::new(store), db))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(with_database("postgres://u@h:1/test", "x"), "postgres://u@h:1/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
