//! Grouping by a dimension with few members (a dictionary column, see `store::VIEW_ABOVE`)
//! groups its text as string views. DataFusion 55 has hash tables made for strings and string
//! views, but groups dictionaries through its generic row format. Ten million cells, the two
//! forms interleaved on one engine (medians): by region 71 ms as views against 91 ms (the
//! cast included); by region and product (a view column already) 600 ms against 699 ms; but by
//! month and region, two dictionaries, 142 ms against 124 ms. So only a grouping with exactly
//! one dictionary key is rewritten, only a plain GROUP BY list (in GROUPING SETS, ROLLUP and
//! CUBE, `grouping()` names the grouped columns themselves), and only in plans without
//! subqueries (an outer reference records the type of the column it refers to).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{Aggregate, Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

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
            LogicalPlan::Aggregate(a) if a.group_expr.iter().filter(|e| dictionary_column(e, a.input.schema())).count() == 1 && !a.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_))) => {
                let schema = a.input.schema().clone();
                let mut changed = false;
                let keys = a
                    .group_expr
                    .into_iter()
                    .map(|e| match e {
                        Expr::Column(c) if dictionary_column(&Expr::Column(c.clone()), &schema) => {
                            changed = true;
                            Expr::Cast(Cast::new(Box::new(Expr::Column(c.clone())), DataType::Utf8View)).alias_qualified(c.relation.clone(), c.name.clone())
                        }
                        other => other,
                    })
                    .collect();
                rewritten |= changed;
                Ok(Transformed::new(LogicalPlan::Aggregate(Aggregate::try_new(a.input, keys, a.aggr_expr)?), changed, TreeNodeRecursion::Continue))
            }
            // The nodes above a rewritten aggregate see the key's new type.
            other if rewritten => Ok(Transformed::yes(other.recompute_schema()?)),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }
}

fn dictionary_column(e: &Expr, schema: &DFSchema) -> bool {
    matches!(e, Expr::Column(_)) && matches!(e.get_type(schema), Ok(DataType::Dictionary(_, v)) if *v == DataType::Utf8)
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

    use datafusion::arrow::array::{DictionaryArray, Int64Array};
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    async fn plan_and_rows(sql: &str) -> (String, String) {
        let region: DictionaryArray<Int32Type> = vec!["north", "south", "north"].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![Field::new("region", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false), Field::new("units", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(region), Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let sessions = crate::catalog::Sessions::new().unwrap();
        let ctx = sessions.session(vec![("m".into(), "c".into(), schema, vec![batch])], vec![], 64 << 20).unwrap();
        let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let plan = df.clone().into_optimized_plan().unwrap().display_indent().to_string();
        (plan, pretty_format_batches(&df.collect().await.unwrap()).unwrap().to_string())
    }

    #[tokio::test]
    async fn a_dictionary_key_is_grouped_as_string_views_with_the_same_answer() {
        let (plan, rows) = plan_and_rows("SELECT region, count(*) AS n FROM m.c GROUP BY region HAVING region <> 'x' ORDER BY region").await;
        assert!(plan.contains("CAST(m.c.region AS Utf8View) AS region"), "{plan}");
        assert_eq!(rows.lines().filter(|l| l.starts_with("| ")).skip(1).collect::<Vec<_>>(), ["| north  | 2 |", "| south  | 1 |"], "{rows}");
    }

    #[tokio::test]
    async fn grouping_sets_subqueries_and_two_dictionary_keys_keep_the_dictionary() {
        for sql in [
            "SELECT region, grouping(region) AS g, count(*) FROM m.c GROUP BY ROLLUP (region)",
            "SELECT region, count(*) FROM m.c GROUP BY region HAVING count(*) > (SELECT count(*) FROM m.c WHERE units > 2)",
            "SELECT region, region2, count(*) FROM (SELECT region, region AS region2 FROM m.c) t GROUP BY region, region2",
        ] {
            let (plan, _) = plan_and_rows(sql).await;
            assert!(!plan.contains("Utf8View"), "{sql}: {plan}");
        }
    }
}
