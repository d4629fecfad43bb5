//! The engine contract: the SQLite and PostgreSQL migrations are written
//! twice (one folder per engine, decision 0001), so this test migrates a
//! fresh database of each and compares what they define — tables, their
//! columns and the indexes made with `CREATE INDEX` — so the two cannot
//! drift apart unnoticed.

use crate::harness::TestDb;
use sqlx::{Connection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Tables with their columns, and `(table, index)` pairs.
#[derive(Debug, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, BTreeSet<String>>,
    indexes: BTreeSet<(String, String)>,
}

/// Tables that exist on one engine by design (none yet).
const ENGINE_SPECIFIC: &[&str] = &[];

/// X1's full-text indexes differ by design (migration 0085): SQLite keeps
/// FTS5 tables (`<table>_fts` and their shadow tables), PostgreSQL a
/// generated `search_vector` column with a GIN index (`<table>_search`),
/// and the time index its message search reads first
/// (`messages_newest_search`, migration 0110).
fn full_text(name: &str) -> bool {
    name.contains("_fts") || name == "search_vector" || name.ends_with("_search")
}

fn keep(table: &str) -> bool {
    !table.starts_with("_sqlx")
        && !table.starts_with("sqlite_")
        && !ENGINE_SPECIFIC.contains(&table)
        && !full_text(table)
}

async fn sqlite_schema(db: &TestDb) -> Schema {
    db.store().await.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let names: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(0))
            .filter(|name| keep(name))
            .collect();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns = sqlx::query("SELECT name FROM pragma_table_info($1)")
            .bind(&name)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect();
        tables.insert(name, columns);
    }
    let indexes = sqlx::query(
        "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
    .filter(|(table, _)| keep(table))
    .collect();
    Schema { tables, indexes }
}

async fn postgres_schema(db: &TestDb) -> Schema {
    db.store().await.close().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for row in columns {
        let table: String = row.get(0);
        let column: String = row.get(1);
        if keep(&table) && !full_text(&column) {
            tables.entry(table).or_default().insert(column);
        }
    }
    // Indexes that back a primary key or a UNIQUE constraint are named by
    // PostgreSQL itself and have no `CREATE INDEX` on SQLite's side.
    let indexes = sqlx::query(
        "SELECT tablename::text, indexname::text FROM pg_indexes
         WHERE schemaname = current_schema()
           AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
    .filter(|(table, index)| keep(table) && !full_text(index))
    .collect();
    Schema { tables, indexes }
}

#[tokio::test]
async fn both_engines_define_the_same_tables_columns_and_indexes() {
    let sqlite = sqlite_schema(&TestDb::sqlite()).await;
    assert!(
        sqlite.tables.contains_key("messages") && sqlite.tables.len() > 10,
        "the SQLite schema was read: {:?}",
        sqlite.tables.keys()
    );
    let Some(db) = TestDb::postgres().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PORTICO_TEST_POSTGRES_URL so the engines are compared"
        );
        eprintln!("PORTICO_TEST_POSTGRES_URL is not set: the engines were not compared");
        return;
    };
    let postgres = postgres_schema(&db).await;
    for (table, columns) in &sqlite.tables {
        assert_eq!(
            Some(columns),
            postgres.tables.get(table),
            "table {table}: SQLite's columns vs PostgreSQL's"
        );
    }
    let only_postgres: Vec<_> = postgres
        .tables
        .keys()
        .filter(|table| !sqlite.tables.contains_key(*table))
        .collect();
    assert!(
        only_postgres.is_empty(),
        "tables only on PostgreSQL: {only_postgres:?}"
    );
    assert_eq!(
        sqlite.indexes, postgres.indexes,
        "indexes: SQLite vs PostgreSQL"
    );
}
