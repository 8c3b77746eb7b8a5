//! PostgreSQL's types and casts where DataFusion plans otherwise, as an analyzer rule that runs
//! before DataFusion's type coercion (so coercion then fits everything around it):
//! - an integer constant that fits is `integer` (int4), not `bigint`: `SELECT 1`, `x + 1`,
//!   `max(1)`, `CASE ... THEN 0` are int4 in PostgreSQL;
//! - `date - date` is an int4 count of days; `date_part` is float8; `array_length` int4;
//! - a cast of a float or numeric to an integer rounds (floats half to even, numerics half away
//!   from zero) where DataFusion truncates: `2.5::int` is 3, `(-2.5)::float8::int` is -2;
//! - `date_trunc` of a date truncates it as a `timestamptz` in the session's time zone;
//! - `string_agg`/`array_agg(DISTINCT x ORDER BY x)` over a cube dimension (a dictionary
//!   column) aggregates its text, so the argument and the ordering stay the same expression.
//!
//! Constants stay bigint where DataFusion needs them so: LIMIT/OFFSET and the arguments of
//! window functions (`lag(x, 12)`, `ntile(4)`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{AggregateFunction, Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct PgTyping;

impl AnalyzerRule for PgTyping {
    fn name(&self) -> &str {
        "triad_pg_typing"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let zone: Arc<str> = config.execution.time_zone.clone().unwrap_or_else(|| "UTC".into()).into();
        // A recursive CTE's work table keeps the types it was planned with: constants there
        // stay bigint, or its two terms would disagree.
        let narrow = !plan.exists(|p| Ok(matches!(p, LogicalPlan::RecursiveQuery(_))))?;
        plan.transform_up_with_subqueries(|node| {
            // VALUES keeps the types it was planned with (its schema is not derived again).
            if matches!(node, LogicalPlan::Limit(_) | LogicalPlan::Values(_)) {
                return Ok(Transformed::no(node));
            }
            let schema = match &node {
                LogicalPlan::TableScan(scan) => scan.projected_schema.as_ref().clone(),
                other => merge_schema(&other.inputs()),
            };
            // Expressions keep their names: the nodes above refer to them by name.
            let names = NamePreserver::new(&node);
            let node = node.map_expressions(|e| {
                let name = names.save(&e);
                Ok(pg_expr(e, &schema, &zone, narrow)?.update_data(|e| name.restore(e)))
            })?;
            // Always derived again: an input's types may have changed below.
            Ok(Transformed::yes(node.data.recompute_schema()?))
        })
        .map(|t| t.data)
    }
}

fn pg_expr(e: Expr, schema: &DFSchema, zone: &Arc<str>, narrow: bool) -> Result<Transformed<Expr>> {
    let e = e.transform_down(|e| match e {
        Expr::WindowFunction(_) => Ok(Transformed::new(e, false, TreeNodeRecursion::Jump)),
        Expr::Literal(ScalarValue::Int64(Some(v)), meta) if narrow && i32::try_from(v).is_ok() => Ok(Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta))),
        other => Ok(Transformed::no(other)),
    })?;
    let changed = e.transformed;
    let mut e = e.data.transform_up(|e| node_types(e, schema, zone))?;
    e.transformed |= changed;
    Ok(e)
}

fn node_types(e: Expr, schema: &DFSchema, zone: &Arc<str>) -> Result<Transformed<Expr>> {
    let type_of = |e: &Expr| e.get_type(schema).ok();
    match e {
        Expr::BinaryExpr(BinaryExpr { ref left, op: Operator::Minus, ref right }) if type_of(left) == Some(DataType::Date32) && type_of(right) == Some(DataType::Date32) => Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(e), DataType::Int32)))),
        Expr::Cast(Cast { expr, field }) if field.data_type().is_integer() && type_of(&expr).is_some_and(|t| t.is_floating() || matches!(t, DataType::Decimal128(..))) => {
            let rounded = Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(ScalarUDF::new_from_impl(RoundForInteger::default())), vec![*expr]));
            Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(Box::new(rounded), field))))
        }
        Expr::ScalarFunction(mut f) if f.func.name() == "date_trunc" && f.args.get(1).and_then(type_of) == Some(DataType::Date32) => {
            let day = f.args.remove(1);
            f.args.push(Expr::Cast(Cast::new(Box::new(day), DataType::Timestamp(TimeUnit::Nanosecond, Some(zone.clone())))));
            Ok(Transformed::yes(Expr::ScalarFunction(f)))
        }
        // sum(bigint) is numeric and never wraps around (DataFusion's bigint sum does): summed
        // into i128 by pg_sum_bigint, or (DISTINCT, unsigned) as a decimal. Done here, not in
        // `sum` itself: DataFusion's two-phase plans (for a count(DISTINCT) beside it) sum the
        // partial sums of int4 again as bigint.
        Expr::AggregateFunction(mut a) if a.func.name() == "sum" && !a.params.distinct && a.params.args.len() == 1 && type_of(&a.params.args[0]) == Some(DataType::Int64) => {
            a.func = Arc::new(datafusion::logical_expr::AggregateUDF::new_from_impl(crate::pgaggregates::PgSumBigint::default()));
            Ok(Transformed::yes(Expr::AggregateFunction(a)))
        }
        Expr::AggregateFunction(mut a) if a.func.name() == "sum" && a.params.args.len() == 1 && type_of(&a.params.args[0]).is_some_and(|t| wide_integer(&t)) => {
            let arg = a.params.args.remove(0);
            a.params.args.push(Expr::Cast(Cast::new(Box::new(arg), DataType::Decimal128(20, 0))));
            Ok(Transformed::yes(Expr::AggregateFunction(a)))
        }
        // date_part is float8; array lengths are int4 (DataFusion: int4, uint64).
        Expr::ScalarFunction(ref f) if f.func.name() == "date_part" => Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(e), DataType::Float64)))),
        Expr::ScalarFunction(ref f) if ["array_length", "cardinality", "array_ndims"].contains(&f.func.name()) => Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(e), DataType::Int32)))),
        // trunc(x, n) of a numeric has n places, trunc/ceil/floor(x) none (DataFusion keeps x's).
        Expr::ScalarFunction(ref f) if ["trunc", "ceil", "floor", "round"].contains(&f.func.name()) && f.args.first().and_then(type_of).is_some_and(|t| matches!(t, DataType::Decimal128(..))) => {
            let places = match f.args.get(1) {
                None => 0,
                Some(Expr::Literal(v, _)) => match v.cast_to(&DataType::Int64) {
                    Ok(ScalarValue::Int64(Some(n))) if (0..=38).contains(&n) => n as i8,
                    _ => return Ok(Transformed::no(e)),
                },
                Some(_) => return Ok(Transformed::no(e)),
            };
            Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(e), DataType::Decimal128(38, places)))))
        }
        // A float beside a numeric makes both float8 (PostgreSQL's preferred numeric type):
        // `coalesce(amount, 0.0)` is float8, where DataFusion would pick a decimal.
        Expr::ScalarFunction(mut f) if ["coalesce", "nullif", "greatest", "least"].contains(&f.func.name()) && f.args.iter().any(|a| type_of(a).is_some_and(|t| t.is_floating())) => {
            let mut changed = false;
            for a in f.args.iter_mut().filter(|a| type_of(a).is_some_and(|t| matches!(t, DataType::Decimal128(..)))) {
                *a = Expr::Cast(Cast::new(Box::new(a.clone()), DataType::Float64));
                changed = true;
            }
            Ok(Transformed::new_transformed(Expr::ScalarFunction(f), changed))
        }
        Expr::AggregateFunction(mut a) if a.params.distinct && !a.params.order_by.is_empty() && a.params.args.first().and_then(type_of).is_some_and(|t| matches!(t, DataType::Dictionary(..))) => {
            let Some(DataType::Dictionary(_, values)) = a.params.args.first().and_then(type_of) else { unreachable!("matched above") };
            let plain = |x: Expr| Expr::Cast(Cast::new(Box::new(x), values.as_ref().clone()));
            let arg = a.params.args[0].clone();
            for sort in a.params.order_by.iter_mut().filter(|s| s.expr == arg) {
                sort.expr = plain(sort.expr.clone());
            }
            a.params.args[0] = plain(arg);
            Ok(Transformed::yes(Expr::AggregateFunction(AggregateFunction { func: a.func, params: a.params })))
        }
        other => Ok(Transformed::no(other)),
    }
}

fn wide_integer(t: &DataType) -> bool {
    matches!(t, DataType::Int64 | DataType::UInt32 | DataType::UInt64)
}

/// Rounds to a whole number before a cast to an integer type: floats half to even (C's
/// `rint`, as PostgreSQL's float-to-int casts), numerics half away from zero.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundForInteger {
    signature: Signature,
}

impl Default for RoundForInteger {
    fn default() -> Self {
        RoundForInteger { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for RoundForInteger {
    fn name(&self) -> &str {
        "round_for_integer"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let a = args.args[0].to_array(args.number_rows)?;
        let out: ArrayRef = match a.data_type() {
            DataType::Float64 => Arc::new(a.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::round_ties_even)),
            DataType::Float32 => Arc::new(a.as_primitive::<Float32Type>().unary::<_, Float32Type>(f32::round_ties_even)),
            DataType::Decimal128(p, s) => {
                let unit = 10i128.pow(*s as u32);
                let d: Decimal128Array = a.as_primitive::<Decimal128Type>().unary(|v| round_half_away(v, unit));
                Arc::new(d.with_precision_and_scale(*p, *s)?)
            }
            other => return exec_err!("cannot round {other} for a cast to an integer"),
        };
        Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
    }
}

/// `v` (a decimal with `unit` = 10^scale) rounded to a whole number, half away from zero.
fn round_half_away(v: i128, unit: i128) -> i128 {
    let (whole, rest) = (v / unit, v % unit);
    (whole + if 2 * rest.abs() >= unit { v.signum() } else { 0 }) * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_half_away_from_zero() {
        for (v, unit, want) in [(99999, 100, 100000), (250, 100, 300), (-250, 100, -300), (50, 100, 100), (49, 100, 0), (-49, 100, 0), (7, 1, 7)] {
            assert_eq!(round_half_away(v, unit), want, "{v}/{unit}");
        }
    }

    /// SQL in, (PostgreSQL type, text) of each column of the first row out, through a session
    /// over a cube like the engine's (`units` bigint, `amount` float8, `region` a dictionary).
    async fn first_row(sql: &str) -> Vec<(String, String)> {
        use datafusion::arrow::array::{DictionaryArray, Float64Array, Int64Array, StringArray};
        use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        let region: DictionaryArray<Int32Type> = vec!["north", "south", "north", "east"].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
            Field::new("units", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(region), Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(2), None])), Arc::new(Float64Array::from(vec![2.5, 3.5, -2.5, 0.5]))]).unwrap();
        let sessions = crate::catalog::Sessions::new().unwrap();
        let ctx = sessions.session(vec![("m".into(), "c".into(), schema, vec![batch])], vec![], crate::catalog::test_pool()).unwrap();
        // As the server plans it: PostgreSQL's parser and rewrites, then the text again.
        let sql = &crate::sql::parse(&sessions, sql).unwrap_or_else(|e| panic!("{sql}: {e:?}")).remove(0).to_string();
        let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let b = &batches[0];
        let text: Vec<String> = b.columns().iter().map(|c| datafusion::arrow::util::display::array_value_to_string(&datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap_or_else(|_| c.clone()), 0).unwrap()).collect();
        let _ = StringArray::from(Vec::<String>::new());
        b.schema().fields().iter().zip(text).map(|(f, t)| (crate::encode::pg_type(f.data_type()).name().to_string(), t)).collect()
    }

    #[tokio::test]
    async fn queries_get_postgresqls_types_and_values() {
        for (sql, want) in [
            ("SELECT 1", vec![("int4", "1")]),
            ("SELECT 2147483648, 1.50, 7 / 2", vec![("int8", "2147483648"), ("numeric", "1.50"), ("int4", "3")]),
            ("SELECT sum(units), sum(amount), max(1), sum(1) FROM m.c", vec![("numeric", "5"), ("float8", "4.0"), ("int4", "1"), ("int8", "4")]),
            ("SELECT avg(units) FROM m.c", vec![("numeric", "1.6666666666666667")]),
            ("SELECT CAST(2.5 AS int), CAST(-2.5 AS int), CAST(999.99 AS int), CAST(0.5 AS int)", vec![("int4", "3"), ("int4", "-3"), ("int4", "1000"), ("int4", "1")]),
            ("SELECT CAST(CAST(2.5 AS double) AS int), CAST(CAST(3.5 AS double) AS int), CAST(CAST(-2.5 AS double) AS bigint)", vec![("int4", "2"), ("int4", "4"), ("int8", "-2")]),
            ("SELECT DATE '2025-03-01' - DATE '2025-01-01'", vec![("int4", "59")]),
            ("SELECT row_number() OVER (ORDER BY units) FROM m.c", vec![("int8", "1")]),
            ("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY amount) FROM m.c", vec![("float8", "0.5")]),
            ("SELECT mode() WITHIN GROUP (ORDER BY region) FROM m.c", vec![("text", "north")]),
            ("SELECT string_agg(DISTINCT region, ',' ORDER BY region) FROM m.c", vec![("text", "east,north,south")]),
            ("SELECT units FROM m.c WHERE units > 1 ORDER BY units LIMIT 1", vec![("int8", "2")]),
            ("SELECT region, sum(CASE WHEN units > 1 THEN 1 ELSE 0 END), count(DISTINCT units), sum(units) FROM m.c GROUP BY region ORDER BY region", vec![("text", "east"), ("int8", "0"), ("int8", "0"), ("numeric", "")]),
            ("SELECT region, sum(1) FROM m.c GROUP BY 1 ORDER BY 1", vec![("text", "east"), ("int8", "1")]),
            // sum and avg of bigints per group (pg_sum_bigint, avg's groups accumulator), NULLs
            // and FILTER skipped, and past the range of bigint.
            ("SELECT region, sum(units), avg(units), sum(units) FILTER (WHERE units > 1), count(*) FROM m.c GROUP BY region HAVING region <> 'south' ORDER BY region DESC", vec![("text", "north"), ("numeric", "3"), ("numeric", "1.5000000000000000"), ("numeric", "2"), ("int8", "2")]),
            ("SELECT g, sum(x), avg(x) FROM (VALUES (1, 9223372036854775807), (1, 9223372036854775807), (2, NULL)) t(g, x) GROUP BY g ORDER BY g", vec![("int8", "1"), ("numeric", "18446744073709551614"), ("numeric", "9223372036854775807.0000000000000000")]),
            ("SELECT sum(x) FROM (VALUES (9223372036854775807), (9223372036854775807)) t(x)", vec![("numeric", "18446744073709551614")]),
            ("SELECT coalesce(amount, 0.0), coalesce(units, -1) FROM m.c", vec![("float8", "2.5"), ("int8", "1")]),
            ("SELECT date_part('month', DATE '2025-03-01'), EXTRACT(MONTH FROM DATE '2025-03-01'), NULL", vec![("float8", "3.0"), ("numeric", "3"), ("text", "")]),
            ("SELECT array_length(array_agg(region), 1) FROM m.c", vec![("int4", "4")]),
            ("SELECT DISTINCT region, EXISTS (SELECT 1 FROM m.c g WHERE g.region = f.region AND g.units = 2) AS two, NOT EXISTS (SELECT 1 FROM m.c g WHERE g.region = f.region AND g.units = 2) AS none FROM m.c f ORDER BY region", vec![("text", "east"), ("bool", "false"), ("bool", "true")]),
            ("SELECT to_char(g, 'YYYY-MM') AS month, count(f.region) FROM generate_series(DATE '2025-01-01', DATE '2025-03-01', INTERVAL '1 month') AS g LEFT JOIN m.c f ON f.region = to_char(g, 'YYYY-MM') GROUP BY g ORDER BY g", vec![("text", "2025-01"), ("int8", "0")]),
            ("SELECT trunc(2.789, 1), ceil(2.1), floor(-2.1), round(2.345, 2), CAST(units AS numeric), CAST(1.50 AS numeric) FROM m.c", vec![("numeric", "2.7"), ("numeric", "3"), ("numeric", "-3"), ("numeric", "2.35"), ("numeric", "1"), ("numeric", "1.50")]),
            ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3) SELECT max(n) FROM s", vec![("int8", "3")]),
            ("SELECT r.region, (SELECT max(amount) FROM m.c g WHERE g.region = r.region AND g.units IS NULL) AS top FROM (SELECT DISTINCT region FROM m.c) r ORDER BY r.region", vec![("text", "east"), ("float8", "0.5")]),
            ("SELECT to_char(sum(units), 'FM999G999'), to_char(max(amount), 'FM99990.00'), to_char(DATE '2025-03-01', 'Mon YYYY') FROM m.c", vec![("text", "5"), ("text", "3.50"), ("text", "Mar 2025")]),
        ] {
            let got = first_row(sql).await;
            let want: Vec<(String, String)> = want.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn floats_round_half_to_even() {
        assert_eq!([2.5f64, 3.5, -2.5, 0.5].map(f64::round_ties_even), [2.0, 4.0, -2.0, 0.0]);
    }
}
