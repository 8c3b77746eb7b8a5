//! Grouping by a cube's dimensions without grouping their text. DataFusion 55 has hash tables
//! made for numbers, strings and string views, but groups dictionary columns (how dimensions
//! with few members reach it, `store::VIEW_ABOVE`) through its generic row format.
//!
//! - A dimension column read straight from a cube (through filters, projections and aliases
//!   only) is grouped by its member code (`member_code`): a code names one member in every
//!   chunk of the cube, and members are distinct, so the groups are the same; the aggregate
//!   `triad_member_name` gives each group its name back, under the column's own name.
//! - Otherwise a grouping with exactly one dictionary key (a hierarchy level: several members
//!   share a parent, and a member may have none) groups it as string views. Ten million cells,
//!   both forms interleaved on one engine (medians): by region 71 ms as views against 91 ms
//!   (the cast included); but by month and region, two dictionaries, 142 ms against 124 ms,
//!   so two stay as they are.
//!
//! A grouping with a plain string key beside (a dimension with many members) stays as it is.
//!
//! Only plain GROUP BY lists are rewritten (in GROUPING SETS, ROLLUP and CUBE, `grouping()`
//! names the grouped columns themselves), and only in plans without subqueries (an outer
//! reference records the type of the column it refers to).

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{AggregateFunction, Cast, ScalarFunction};
use datafusion::logical_expr::{Aggregate, AggregateUDF, Expr, ExprSchemable, LogicalPlan, Projection, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use crate::member_code::{MemberCode, MemberName, is_dimension_type};

#[derive(Debug, Default)]
pub struct DictionaryGroupKeys;

impl AnalyzerRule for DictionaryGroupKeys {
    fn name(&self) -> &str {
        "triad_dictionary_group_keys"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        if has_subquery(&plan)? {
            return Ok(plan);
        }
        let mut rewritten = false;
        plan.transform_up(|node| match node {
            LogicalPlan::Aggregate(a) if !a.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_))) => {
                let codes: Vec<bool> = a.group_expr.iter().map(|e| cube_dimension(e, &a.input)).collect();
                let out = if a.group_expr.iter().any(|e| string_key(e, a.input.schema())) {
                    return Ok(Transformed::no(LogicalPlan::Aggregate(a)));
                } else if codes.contains(&true) {
                    by_member_codes(a, &codes)?
                } else if a.group_expr.iter().filter(|e| dictionary_column(e, a.input.schema())).count() == 1 {
                    as_views(a)?
                } else {
                    return Ok(Transformed::no(LogicalPlan::Aggregate(a)));
                };
                rewritten = true;
                Ok(Transformed::new(out, true, TreeNodeRecursion::Continue))
            }
            // The nodes above a rewritten aggregate see the key's new type.
            other if rewritten => Ok(Transformed::yes(other.recompute_schema()?)),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }
}

/// `a` grouped by the member codes of the keys marked in `codes`, the names put back by a
/// projection that gives every column its old name.
fn by_member_codes(a: Aggregate, codes: &[bool]) -> Result<LogicalPlan> {
    let (code, name) = (Arc::new(ScalarUDF::new_from_impl(MemberCode::default())), Arc::new(AggregateUDF::new_from_impl(MemberName::default())));
    let old_schema = a.schema.clone();
    let mut keys = vec![];
    let mut names = vec![];
    for (i, (e, by_code)) in a.group_expr.into_iter().zip(codes).enumerate() {
        if *by_code {
            keys.push(Expr::ScalarFunction(ScalarFunction::new_udf(code.clone(), vec![e.clone()])).alias(format!("__triad_member_code_{i}")));
            names.push(Expr::AggregateFunction(AggregateFunction::new_udf(name.clone(), vec![e], false, None, vec![], None)).alias(format!("__triad_member_name_{i}")));
        } else {
            keys.push(e);
        }
    }
    let (n_keys, n_names) = (keys.len(), names.len());
    let inner = Aggregate::try_new(a.input, keys, names.into_iter().chain(a.aggr_expr).collect())?;
    let column = |idx: usize| Expr::Column(Column::from(inner.schema.qualified_field(idx)));
    let mut named = 0;
    let mut exprs = vec![];
    for (i, by_code) in codes.iter().enumerate() {
        let (qualifier, field) = old_schema.qualified_field(i);
        exprs.push(if *by_code {
            named += 1;
            column(n_keys + named - 1).alias_qualified(qualifier.cloned(), field.name())
        } else {
            column(i)
        });
    }
    exprs.extend((n_keys + n_names..inner.schema.fields().len()).map(column));
    Ok(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(inner)))?))
}

/// `a` with its one dictionary key cast to string views.
fn as_views(a: Aggregate) -> Result<LogicalPlan> {
    let schema = a.input.schema().clone();
    let keys = a
        .group_expr
        .into_iter()
        .map(|e| match e {
            Expr::Column(c) if dictionary_column(&Expr::Column(c.clone()), &schema) => Expr::Cast(Cast::new(Box::new(Expr::Column(c.clone())), DataType::Utf8View)).alias_qualified(c.relation.clone(), c.name.clone()),
            other => other,
        })
        .collect();
    Ok(LogicalPlan::Aggregate(Aggregate::try_new(a.input, keys, a.aggr_expr)?))
}

/// Whether `e` is a plain string key (how a dimension with many members reaches the plan).
/// Beside one, DataFusion's row format with the dictionaries as they are measured faster than
/// codes beside the strings: top 3 of 416 000 region × product groups took 340 ms against
/// 364 ms, and its tail under twenty dashboards was longer (docs/benchmarks.md).
fn string_key(e: &Expr, schema: &DFSchema) -> bool {
    matches!(e.get_type(schema), Ok(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8))
}

fn dictionary_column(e: &Expr, schema: &DFSchema) -> bool {
    matches!(e, Expr::Column(_)) && matches!(e.get_type(schema), Ok(DataType::Dictionary(_, v)) if *v == DataType::Utf8)
}

/// Whether `e` is a cube's dimension column as the cube's table scan reads it: a
/// non-nullable dictionary of member names whose keys are the cube's member codes.
fn cube_dimension(e: &Expr, input: &LogicalPlan) -> bool {
    let Expr::Column(c) = e else { return false };
    let Ok((_, field)) = input.schema().qualified_field_from_column(c) else { return false };
    !field.is_nullable() && is_dimension_type(field.data_type()) && read_from_scan(input, c)
}

/// Whether column `c` of `plan` is a table scan's column, passed up unchanged.
fn read_from_scan(plan: &LogicalPlan, c: &Column) -> bool {
    match plan {
        LogicalPlan::TableScan(s) => s.projected_schema.has_column(c),
        LogicalPlan::Filter(_) | LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => read_from_scan(plan.inputs()[0], c),
        LogicalPlan::SubqueryAlias(a) => match a.schema.index_of_column(c) {
            Ok(i) => read_from_scan(&a.input, &Column::from(a.input.schema().qualified_field(i))),
            Err(_) => false,
        },
        LogicalPlan::Projection(p) => match p.schema.index_of_column(c) {
            Ok(i) => match p.expr[i].clone().unalias() {
                Expr::Column(inner) => read_from_scan(&p.input, &inner),
                _ => false,
            },
            Err(_) => false,
        },
        _ => false,
    }
}

fn has_subquery(plan: &LogicalPlan) -> Result<bool> {
    plan.exists(|p| {
        let mut found = matches!(p, LogicalPlan::Subquery(_));
        p.apply_expressions(|e| {
            found |= e.exists(|e| Ok(matches!(e, Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) | Expr::OuterReferenceColumn(..))))?;
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, DictionaryArray, Int64Array, StringArray, UInt32Array};
    use datafusion::arrow::datatypes::{Field, Schema, UInt32Type};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    fn dictionary(keys: Vec<u32>, names: &[Option<&str>]) -> ArrayRef {
        Arc::new(DictionaryArray::<UInt32Type>::try_new(UInt32Array::from(keys), Arc::new(StringArray::from(names.to_vec()))).unwrap())
    }

    /// A cube like the engine's: `region` a dimension (codes into a member list that grew
    /// between the two chunks), `quarter` a level (members share parents, one has none).
    async fn plan_and_rows(sql: &str) -> (String, Vec<String>) {
        let text = DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![Field::new("region", text.clone(), false), Field::new("quarter", text, true), Field::new("units", DataType::Int64, true)]));
        let quarters = [Some("Q1"), Some("Q1"), None];
        let first = RecordBatch::try_new(schema.clone(), vec![dictionary(vec![0, 1, 0], &[Some("north"), Some("south")]), dictionary(vec![0, 1, 2], &quarters), Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let second = RecordBatch::try_new(schema.clone(), vec![dictionary(vec![2, 0], &[Some("north"), Some("south"), Some("east")]), dictionary(vec![2, 0], &quarters), Arc::new(Int64Array::from(vec![4, 5]))]).unwrap();
        let sessions = crate::catalog::Sessions::new().unwrap();
        let ctx = sessions.session(vec![("m".into(), "c".into(), schema, vec![first, second])], vec![], crate::catalog::test_pool()).unwrap();
        let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let plan = df.clone().into_optimized_plan().unwrap().display_indent().to_string();
        let table = pretty_format_batches(&df.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))).unwrap().to_string();
        (plan, table.lines().filter(|l| l.starts_with("| ")).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect())
    }

    #[tokio::test]
    async fn a_dimension_is_grouped_by_member_code_with_the_same_answer_and_names() {
        for (sql, want) in [
            ("SELECT region, count(*) AS n, sum(units) AS s FROM m.c GROUP BY region HAVING region <> 'x' ORDER BY region", vec!["| region | n | s |", "| east | 1 | 4 |", "| north | 3 | 9 |", "| south | 1 | 2 |"]),
            ("SELECT r.region AS name, count(*) AS n FROM (SELECT region FROM m.c WHERE units > 1) r GROUP BY r.region ORDER BY n DESC, name", vec!["| name | n |", "| north | 2 |", "| east | 1 |", "| south | 1 |"]),
            ("SELECT region, quarter, count(*) AS n FROM m.c GROUP BY quarter, region ORDER BY region, quarter", vec!["| region | quarter | n |", "| east | | 1 |", "| north | Q1 | 2 |", "| north | | 1 |", "| south | Q1 | 1 |"]),
        ] {
            let (plan, rows) = plan_and_rows(sql).await;
            assert!(plan.contains("triad_member_code(") && plan.contains("triad_member_name("), "{sql}: {plan}");
            assert_eq!(rows, want, "{sql}");
        }
    }

    #[tokio::test]
    async fn a_level_alone_is_grouped_as_string_views() {
        let (plan, rows) = plan_and_rows("SELECT quarter, count(*) AS n FROM m.c GROUP BY quarter ORDER BY quarter").await;
        assert!(plan.contains("CAST(m.c.quarter AS Utf8View) AS quarter") && !plan.contains("triad_member"), "{plan}");
        assert_eq!(rows, ["| quarter | n |", "| | 2 |", "| Q1 | 3 |"], "NULLs first: DataFusion's default order here");
    }

    #[tokio::test]
    async fn grouping_sets_subqueries_unions_and_two_levels_are_not_grouped_by_code() {
        for (sql, views) in [
            ("SELECT region, grouping(region) AS g, count(*) FROM m.c GROUP BY ROLLUP (region)", false),
            ("SELECT region, count(*) FROM m.c GROUP BY region HAVING count(*) > (SELECT count(*) FROM m.c WHERE units > 2)", false),
            ("SELECT quarter, q2, count(*) FROM (SELECT quarter, quarter AS q2 FROM m.c) t GROUP BY quarter, q2", false),
            // Codes of two scans could be mixed up in a union: its one key goes as views.
            ("SELECT region, count(*) FROM (SELECT region FROM m.c UNION ALL SELECT region FROM m.c) t GROUP BY region", true),
        ] {
            let (plan, _) = plan_and_rows(sql).await;
            assert!(plan.contains("Utf8View") == views && !plan.contains("triad_member"), "{sql}: {plan}");
        }
    }

    #[tokio::test]
    async fn beside_a_plain_string_key_the_grouping_stays_as_written() {
        let (plan, rows) = plan_and_rows("SELECT region, name, count(*) AS n FROM (SELECT region, CAST(quarter AS VARCHAR) AS name FROM m.c) t GROUP BY region, name ORDER BY region, name").await;
        assert!(plan.contains("groupBy=[[t.region, t.name]]") && !plan.contains("triad_member"), "{plan}");
        assert_eq!(rows, ["| region | name | n |", "| east | | 1 |", "| north | | 1 |", "| north | Q1 | 2 |", "| south | Q1 | 1 |"]);
    }
}
