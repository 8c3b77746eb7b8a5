//! The catalog queries pgJDBC, psql and SQLAlchemy send (recorded from a PostgreSQL 15 by
//! vm-tests/clients/drivers_vs_postgres.py, in `driver_catalog_queries.sql`), planned and run
//! as the server runs them, with answers checked where the driver suite checks them.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

const QUERIES: &str = include_str!("driver_catalog_queries.sql");

fn sessions() -> (crate::catalog::Sessions, datafusion::prelude::SessionContext) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("region", DataType::Utf8, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("units", DataType::Int64, true),
        Field::new("amount", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), vec![
        Arc::new(StringArray::from(vec!["north", "south"])),
        Arc::new(StringArray::from(vec!["2025-01", "2025-02"])),
        Arc::new(Int64Array::from(vec![1, 2])),
        Arc::new(Float64Array::from(vec![1.5, 2.5])),
    ])
    .unwrap();
    let sessions = crate::catalog::Sessions::new().unwrap();
    sessions.set_users(vec!["analyst".into()]);
    let ctx = sessions.session(vec![("sales".into(), "revenue".into(), schema, vec![batch])], vec![], crate::catalog::test_pool()).unwrap();
    crate::catalog::apply_settings(&ctx, &crate::settings::Settings::default(), "analyst").unwrap();
    (sessions, ctx)
}

/// The answer to `sql` as the server plans it (its parser and rewrites, then the text again),
/// as a table of text.
async fn answer(s: &crate::catalog::Sessions, ctx: &datafusion::prelude::SessionContext, sql: &str) -> Result<String, String> {
    let stmt = crate::sql::parse(s, sql).map_err(|e| format!("{e:?}"))?.remove(0).to_string();
    let batches = ctx.sql(&stmt).await.map_err(|e| format!("{stmt}: {e}"))?.collect().await.map_err(|e| format!("{stmt}: {e}"))?;
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches).map_err(|e| e.to_string())?.to_string())
}

fn row_with(text: &str, cells: &[&str]) -> bool {
    text.lines().any(|l| {
        let got: Vec<&str> = l.split('|').map(str::trim).collect();
        cells.iter().all(|c| got.contains(c))
    })
}

#[tokio::test]
async fn every_recorded_driver_query_runs() {
    let (s, ctx) = sessions();
    let mut failed = vec![];
    for q in QUERIES.split("\n-- ").filter(|q| !q.trim().is_empty()) {
        let (check, sql) = q.trim_start_matches("-- ").split_once('\n').unwrap();
        let sql = sql.replace("$1", "23");
        let text = match answer(&s, &ctx, &sql).await {
            Ok(t) => t,
            Err(e) => {
                failed.push(format!("{check}: {e}"));
                continue;
            }
        };
        let ok = match check {
            "jdbc.getSchemas" => ["sales", "pg_catalog", "information_schema"].iter().all(|n| row_with(&text, &[n])),
            "psql.du" => row_with(&text, &["analyst"]),
            "psql.dT" if sql.contains("integer") => row_with(&text, &["pg_catalog", "integer"]),
            "psql.df" if sql.contains("upper") => row_with(&text, &["pg_catalog", "upper", "text", "func"]),
            "sqlalchemy.get_columns" => row_with(&text, &["units", "bigint"]),
            _ => true,
        };
        if !ok {
            failed.push(format!("{check}: unexpected answer to {sql}:\n{text}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test]
async fn get_type_info_tells_arrays_and_composites() {
    let (s, ctx) = sessions();
    let text = answer(&s, &ctx, "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typname FROM pg_catalog.pg_type WHERE typname IN ('int4', '_int4') ORDER BY 2").await.unwrap();
    assert!(row_with(&text, &["true", "_int4"]) && row_with(&text, &["false", "int4"]), "{text}");
    let text = answer(&s, &ctx, "SELECT t.typname FROM pg_catalog.pg_type t WHERE t.typname = 'int4' AND (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))").await.unwrap();
    assert!(row_with(&text, &["int4"]), "{text}");
    // More than one row: PostgreSQL's error, never a pick.
    let err = answer(&s, &ctx, "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pg_catalog' AND (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid) IS NOT NULL").await.unwrap_err();
    assert!(err.contains("more than one row returned by a subquery used as an expression"), "{err}");
}

/// The cube's primary key (its dimensions) as pgJDBC's getPrimaryKeys and SQLAlchemy's
/// get_pk_constraint read it (`16386`, the table's oid in the recording, is the cube's here).
#[tokio::test]
async fn the_dimensions_are_the_primary_key() {
    let (s, ctx) = sessions();
    let oid = answer(&s, &ctx, "SELECT oid FROM pg_catalog.pg_class WHERE relname = 'revenue'").await.unwrap();
    let oid = oid.lines().nth(3).unwrap().trim_matches(|c| c == '|' || c == ' ').to_string();
    for q in include_str!("driver_key_queries.sql").split("\n-- ").filter(|q| !q.trim().is_empty()) {
        let (check, sql) = q.trim_start_matches("-- ").split_once('\n').unwrap();
        let text = answer(&s, &ctx, &sql.replace("16386", &oid)).await.unwrap_or_else(|e| panic!("{check}: {e}"));
        let ok = match check {
            "jdbc.getPrimaryKeys" => row_with(&text, &["region", "1", "revenue_pkey"]) && row_with(&text, &["month", "2", "revenue_pkey"]),
            "jdbc.getIndexInfo" => row_with(&text, &["revenue_pkey", "1", "region", "A"]) && row_with(&text, &["revenue_pkey", "2", "month", "A"]),
            "sqlalchemy.get_pk_constraint" => text.contains("[region, month]") && text.contains("revenue_pkey"),
            _ => true, // SQLAlchemy's other reflection queries: they run
        };
        assert!(ok, "{check}:\n{text}");
    }
    let text = answer(&s, &ctx, "SELECT pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid WHERE c.relname = 'revenue'").await.unwrap();
    assert!(text.contains("CREATE UNIQUE INDEX revenue_pkey ON sales.revenue USING btree (region, month)"), "{text}");
}

/// The rewrite of `'name'::regproc` leaves a client's own oid lookup alone.
#[tokio::test]
async fn a_written_oid_lookup_keeps_its_oid() {
    let (s, ctx) = sessions();
    let text = answer(&s, &ctx, "SELECT (SELECT oid FROM pg_catalog.pg_proc WHERE proname = 'array_in') > 0 AS found").await.unwrap();
    assert!(row_with(&text, &["true"]), "{text}");
}
