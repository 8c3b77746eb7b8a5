//! `pg_get_function_result(oid)` and `pg_get_function_arguments(oid)` answered from the rows of
//! `pg_proc` and `pg_type` (datafusion-pg-catalog's copies of PostgreSQL 15's), as PostgreSQL
//! writes them: psql's `\df` shows them as "Result data type" and "Argument data types", and
//! pgJDBC's getFunctions tells a set-returning function by its `SETOF`/`TABLE` result.
//! An oid that is no function answers NULL, as in PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use datafusion::prelude::{SessionContext, create_udf};
use datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;

/// Each function's result and arguments, by oid.
#[derive(Debug, Default)]
pub struct Signatures {
    result: HashMap<i64, String>,
    arguments: HashMap<i64, String>,
}

pub fn register(ctx: &SessionContext) -> Result<()> {
    let tables = PgCatalogStaticTables::try_new()?;
    let s = Arc::new(Signatures::from_rows(tables.pg_proc.data(), tables.pg_type.data())?);
    let (result, arguments) = (s.clone(), s);
    crate::pgfunctions::replace(ctx, lookup("pg_get_function_result", move |oid| result.result.get(&oid).cloned()));
    crate::pgfunctions::replace(ctx, lookup("pg_get_function_arguments", move |oid| arguments.arguments.get(&oid).cloned()));
    Ok(())
}

fn lookup(name: &str, f: impl Fn(i64) -> Option<String> + Send + Sync + 'static) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let scalar = matches!(args[0], ColumnarValue::Scalar(_));
            let oids = args[0].to_array(1)?;
            let oids = cast(&oids, &DataType::Int64)?;
            let oids = oids.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
            let out: ArrayRef = Arc::new(oids.iter().map(|o| o.and_then(&f)).collect::<StringArray>());
            Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
        }),
    )
}

/// A column of `batch` as the values of each row (`None` for NULL or a missing column).
pub(crate) fn column(batch: &RecordBatch, name: &str, kind: &DataType) -> Result<Vec<Option<ScalarValue>>> {
    let Some(a) = batch.column_by_name(name) else { return Ok(vec![None; batch.num_rows()]) };
    let a = if a.data_type() == kind { a.clone() } else { cast(a, kind)? };
    (0..a.len()).map(|i| Ok(a.is_valid(i).then(|| ScalarValue::try_from_array(&a, i)).transpose()?)).collect()
}

pub(crate) fn int(v: &Option<ScalarValue>) -> Option<i64> {
    match v {
        Some(ScalarValue::Int64(Some(i))) => Some(*i),
        _ => None,
    }
}

pub(crate) fn text(v: &Option<ScalarValue>) -> Option<String> {
    match v {
        Some(ScalarValue::Utf8(Some(s))) => Some(s.clone()),
        _ => None,
    }
}

/// A list column as text items (written as text, or Arrow lists).
fn items(batch: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>> {
    let Some(a) = batch.column_by_name(name) else { return Ok(vec![vec![]; batch.num_rows()]) };
    let mut out = vec![];
    for i in 0..a.len() {
        if !a.is_valid(i) {
            out.push(vec![]);
            continue;
        }
        out.push(match a.data_type() {
            DataType::List(_) | DataType::LargeList(_) => {
                let l = if let DataType::List(_) = a.data_type() { a.as_list::<i32>().value(i) } else { a.as_list::<i64>().value(i) };
                let l = cast(&l, &DataType::Utf8)?;
                l.as_string::<i32>().iter().map(|s| s.unwrap_or_default().to_string()).collect()
            }
            _ => {
                let s = cast(&a.slice(i, 1), &DataType::Utf8)?;
                // `{a,b}` (PostgreSQL's text), `[2276]` and `['v']` (the exported rows'), or
                // `25 1043` (an oidvector).
                let s = s.as_string::<i32>().value(0).trim_matches(|c| "{}[]".contains(c)).to_string();
                s.split([',', ' ']).filter(|x| !x.is_empty()).map(|x| x.trim_matches(|c| c == '"' || c == '\'').to_string()).collect()
            }
        });
    }
    Ok(out)
}

impl Signatures {
    pub fn from_rows(procs: &[RecordBatch], types: &[RecordBatch]) -> Result<Signatures> {
        let mut names = HashMap::new();
        for b in types {
            let (oid, name, elem) = (column(b, "oid", &DataType::Int64)?, column(b, "typname", &DataType::Utf8)?, column(b, "typelem", &DataType::Int64)?);
            let category = column(b, "typcategory", &DataType::Utf8)?;
            for i in 0..b.num_rows() {
                if let (Some(oid), Some(name)) = (int(&oid[i]), text(&name[i])) {
                    names.insert(oid, (name, int(&elem[i]).unwrap_or(0), text(&category[i]).unwrap_or_default()));
                }
            }
        }
        let type_name = |oid: i64| format_type(oid, &names);
        let mut s = Signatures::default();
        for b in procs {
            let (oid, ret, set) = (column(b, "oid", &DataType::Int64)?, column(b, "prorettype", &DataType::Int64)?, column(b, "proretset", &DataType::Boolean)?);
            let (args, all, modes, arg_names) = (items(b, "proargtypes")?, items(b, "proallargtypes")?, items(b, "proargmodes")?, items(b, "proargnames")?);
            for i in 0..b.num_rows() {
                let Some(oid) = int(&oid[i]) else { continue };
                // All arguments with their modes when there are OUT ones; else the IN ones.
                let types: Vec<i64> = if all[i].is_empty() { &args[i] } else { &all[i] }.iter().filter_map(|t| t.parse().ok()).collect();
                let mode = |j: usize| modes[i].get(j).map_or("i", |m| m.as_str());
                let named = |j: usize, t: i64| match arg_names[i].get(j).filter(|n| !n.is_empty()) {
                    Some(n) => format!("{n} {}", type_name(t)),
                    None => type_name(t),
                };
                let arguments: Vec<String> = (0..types.len())
                    .filter(|&j| mode(j) != "t")
                    .map(|j| {
                        let prefix = match mode(j) {
                            "o" => "OUT ",
                            "b" => "INOUT ",
                            "v" => "VARIADIC ",
                            _ => "",
                        };
                        format!("{prefix}{}", named(j, types[j]))
                    })
                    .collect();
                let table: Vec<String> = (0..types.len()).filter(|&j| mode(j) == "t").map(|j| named(j, types[j])).collect();
                let result = if !table.is_empty() {
                    format!("TABLE({})", table.join(", "))
                } else {
                    let r = int(&ret[i]).map(type_name).unwrap_or_default();
                    if matches!(set[i], Some(ScalarValue::Boolean(Some(true)))) { format!("SETOF {r}") } else { r }
                };
                s.result.insert(oid, result);
                s.arguments.insert(oid, arguments.join(", "));
            }
        }
        Ok(s)
    }
}

/// A type's name as PostgreSQL's format_type writes it: the SQL standard's names for the
/// built-in types that have one, `x[]` for arrays, else its `pg_type` name.
fn format_type(oid: i64, names: &HashMap<i64, (String, i64, String)>) -> String {
    let Some((name, elem, category)) = names.get(&oid) else { return "???".into() };
    if category == "A" && *elem != 0 && name.starts_with('_') {
        return format!("{}[]", format_type(*elem, names));
    }
    match name.as_str() {
        "int2" => "smallint",
        "int4" => "integer",
        "int8" => "bigint",
        "float4" => "real",
        "float8" => "double precision",
        "bool" => "boolean",
        "varchar" => "character varying",
        "bpchar" => "character",
        "varbit" => "bit varying",
        "timestamp" => "timestamp without time zone",
        "timestamptz" => "timestamp with time zone",
        "time" => "time without time zone",
        "timetz" => "time with time zone",
        "char" => "\"char\"",
        "any" => "\"any\"",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn results_and_arguments_are_postgresqls() {
        let sessions = crate::catalog::Sessions::new().unwrap();
        let ctx = sessions.session(vec![], vec![], crate::catalog::test_pool()).unwrap();
        let sql = "SELECT p.proname, pg_get_function_result(p.oid) AS r, pg_get_function_arguments(p.oid) AS a FROM pg_catalog.pg_proc p \
                   WHERE p.proname IN ('upper', 'generate_series', 'now', 'concat') ORDER BY 1, 3";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        for want in [
            "| upper           | text                              | text                                                                         |",
            "| now             | timestamp with time zone          |                                                                              |",
            "| concat          | text                              | VARIADIC \"any\"                                                             |",
        ] {
            let cells: Vec<&str> = want.split('|').map(str::trim).filter(|c| !c.is_empty()).collect();
            assert!(text.lines().any(|l| l.split('|').map(str::trim).filter(|c| !c.is_empty()).collect::<Vec<_>>() == cells), "{want}\n{text}");
        }
        assert!(text.contains("SETOF integer"), "{text}");
    }
}
