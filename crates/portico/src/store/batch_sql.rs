//! The connection a batch of sends is written on (M1, M2): a transaction
//! of the pool ([`StoreTx`]), or, on SQLite, the message writer's own
//! connection ([`super::sqlite_writer`]), which runs a whole batch in one
//! hand-off to its thread instead of one per statement. The batch's
//! statements are the same texts on both; only how they are run differs.

use super::backend::Backend;
use super::{StoreError, StoreResult, StoreTx};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A value bound to a statement's `$n` (`n` its place in the list).
#[derive(Clone, Debug)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

impl From<String> for Bind {
    fn from(value: String) -> Self {
        Bind::Text(value)
    }
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}

/// The columns of a row read, by position.
pub(super) trait Columns {
    fn text(&self, i: usize) -> StoreResult<String>;
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>>;
    fn int(&self, i: usize) -> StoreResult<i64>;
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>>;
}

/// A row as a batch's statement returns it.
pub(super) trait FromColumns: Sized {
    fn from_columns(row: &impl Columns) -> StoreResult<Self>;
}

impl FromColumns for String {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        row.text(0)
    }
}

impl FromColumns for (String, i64) {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.text(0)?, row.int(1)?))
    }
}

impl FromColumns for (String, String, String) {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.text(0)?, row.text(1)?, row.text(2)?))
    }
}

impl FromColumns for (String, String, String, i64) {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.text(0)?, row.text(1)?, row.text(2)?, row.int(3)?))
    }
}

impl FromColumns for (String, String, String, Option<String>) {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        Ok((row.text(0)?, row.text(1)?, row.text(2)?, row.opt_text(3)?))
    }
}

/// The statements of a batch's transaction. Committing is the caller's:
/// each connection has its own transaction type.
pub(super) trait BatchSql {
    /// The engine, for the statements whose text differs between them.
    fn backend(&self) -> Backend;

    /// Runs `sql` with `binds` as `$1`, `$2`, … and returns its rows.
    async fn rows<T: FromColumns>(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<Vec<T>>;

    /// Runs `sql` with `binds`; returns how many rows it changed.
    async fn exec(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<u64>;
}

type AnyQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

fn any_query(sql: &str, binds: &[Bind]) -> AnyQuery {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.clone()),
            Bind::Int(n) => query.bind(*n),
        };
    }
    query
}

impl Columns for AnyRow {
    fn text(&self, i: usize) -> StoreResult<String> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.try_get(i)?)
    }
}

impl BatchSql for StoreTx {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn rows<T: FromColumns>(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<Vec<T>> {
        any_query(sql, binds)
            .fetch_all(&mut *self.tx)
            .await?
            .iter()
            .map(T::from_columns)
            .collect()
    }

    async fn exec(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<u64> {
        Ok(any_query(sql, binds)
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> StoreResult<String> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.get(i)?)
    }
}

/// A batch's transaction on the SQLite message writer's connection: every
/// statement runs on the calling thread (the writer's), prepared once and
/// kept in the connection's statement cache.
pub(super) struct SqliteBatch<'c> {
    pub(super) tx: rusqlite::Transaction<'c>,
}

impl SqliteBatch<'_> {
    fn statement(&self, sql: &str, binds: &[Bind]) -> StoreResult<rusqlite::CachedStatement<'_>> {
        let mut statement = self.tx.prepare_cached(sql)?;
        for (n, bind) in binds.iter().enumerate() {
            let name = format!("${}", n + 1);
            let at = statement.parameter_index(&name)?.ok_or_else(|| {
                StoreError::Corrupt(format!("a batch statement has no parameter {name}"))
            })?;
            match bind {
                Bind::Text(text) => statement.raw_bind_parameter(at, text)?,
                Bind::Int(v) => statement.raw_bind_parameter(at, v)?,
            }
        }
        Ok(statement)
    }
}

impl BatchSql for SqliteBatch<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn rows<T: FromColumns>(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<Vec<T>> {
        let mut statement = self.statement(sql, binds)?;
        let mut rows = statement.raw_query();
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            read.push(T::from_columns(row)?);
        }
        Ok(read)
    }

    async fn exec(&mut self, sql: &str, binds: &[Bind]) -> StoreResult<u64> {
        let mut statement = self.statement(sql, binds)?;
        Ok(statement.raw_execute()? as u64)
    }
}
