//! Everything that differs between SQLite and PostgreSQL, in one place:
//! URL schemes, connection set-up and the migrations folder.

use super::{StoreError, StoreOptions};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, the default: one file under the data folder.
    Sqlite,
    /// For scale-out: several Portico instances on one database.
    Postgres,
}

impl Backend {
    /// Chooses the engine from a URL's scheme; an unknown scheme is refused.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(format!(
                "the database URL must start with sqlite:// or postgres://, not {:?}",
                if scheme.is_empty() { url } else { scheme }
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// Claims due outbox rows (`$1` now, `$2` lease end, `$3` limit). On
    /// PostgreSQL, `SKIP LOCKED` lets instances claim side by side; SQLite
    /// has one writer at a time, so the plain sub-select is already exclusive.
    pub(super) fn claim_outbox_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => concat!(
                "UPDATE outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM outbox \
                 WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3) RETURNING ",
                super::outbox::outbox_columns!()
            ),
            Backend::Postgres => concat!(
                "UPDATE outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM outbox \
                 WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
                super::outbox::outbox_columns!()
            ),
        }
    }

    pub(super) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub(super) async fn connect(
        self,
        url: &str,
        options: &StoreOptions,
    ) -> Result<AnyPool, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout);
        let pool = match self {
            // WAL lets readers run beside the writer; synchronous=FULL makes
            // every acknowledged commit survive a power cut; the busy timeout
            // makes concurrent writers queue instead of failing.
            Backend::Sqlite => pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => pool,
        };
        let url = match self {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        Ok(pool.connect(&url).await?)
    }
}

/// The channel live events travel on between instances (PostgreSQL).
pub const LIVE_CHANNEL: &str = "portico_live";

impl super::Store {
    /// Tells the other instances of a live event: `NOTIFY` on PostgreSQL;
    /// nothing on SQLite, where one instance owns the database.
    pub async fn notify_instances(&self, payload: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(LIVE_CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

/// Listens for the other instances' live events (PostgreSQL only).
pub async fn listen_instances(url: &str) -> Result<sqlx::postgres::PgListener, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(LIVE_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_chooses_the_engine() {
        assert_eq!(Backend::from_url("sqlite://x.db"), Ok(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://localhost/portico"),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://localhost/portico"),
            Ok(Backend::Postgres)
        );
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = Backend::from_url("mysql://localhost/portico").unwrap_err();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(Backend::from_url("portico.db").is_err());
    }
}
