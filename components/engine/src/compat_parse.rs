//! Parsing as PostgreSQL clients send SQL, with `datafusion-pg-catalog`'s rewriting parser —
//! except where it would change a query's answer. Its rule `RemoveSubqueryFromProjection`
//! replaces a correlated subquery in a select list by NULL: that keeps some catalog queries of
//! drivers planning (for a cube, most of what they ask that way is NULL indeed), but for a
//! query over the cubes it silently answered NULL where PostgreSQL answers the value (the BI
//! suite's `(SELECT max(amount) ... WHERE g.region = r.region)`). A statement that reads a
//! cube is therefore parsed without that rule: DataFusion plans it, or refuses it with an
//! error; it never gets a NULL it did not compute.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Statement, Visit, Visitor, visit_expressions, visit_relations};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_pg_catalog::sql::rules::*;

pub struct CompatParser {
    full: PostgresCompatibilityParser,
    /// The same rules in the same order, without `RemoveSubqueryFromProjection`.
    keeping_subqueries: Vec<Arc<dyn SqlStatementRewriteRule>>,
}

impl CompatParser {
    pub fn new() -> CompatParser {
        CompatParser {
            full: PostgresCompatibilityParser::new(),
            keeping_subqueries: vec![
                Arc::new(AliasDuplicatedProjectionRewrite),
                Arc::new(ResolveUnqualifiedIdentifier),
                Arc::new(RewriteArrayAnyAllOperation),
                Arc::new(PrependUnqualifiedPgTableName),
                Arc::new(StripCallableQualifier),
                Arc::new(FixArrayLiteral),
                Arc::new(CurrentUserVariableToSessionUserFunctionCall),
                Arc::new(StripCollate),
                Arc::new(RewritePgCatalogOperator),
                Arc::new(RewriteRegCastToSubquery::new()),
                Arc::new(FixVersionColumnName),
            ],
        }
    }

    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>, ParserError> {
        let rewritten = self.full.parse(sql)?;
        let Ok(plain) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else { return Ok(rewritten) };
        if plain.len() != rewritten.len() {
            return Ok(rewritten);
        }
        Ok(plain
            .into_iter()
            .zip(rewritten)
            .map(|(plain, rewritten)| {
                if reads_user_tables(&plain) && select_list_subqueries(&rewritten) < select_list_subqueries(&plain) {
                    self.keeping_subqueries.iter().fold(plain, |s, rule| rule.rewrite(s))
                } else {
                    rewritten
                }
            })
            .collect())
    }
}

/// Whether `s` names a relation outside PostgreSQL's catalogs (a cube, or a CTE over one).
fn reads_user_tables(s: &Statement) -> bool {
    let system: HashSet<&str> = ["pg_catalog", "information_schema"].into();
    visit_relations(s, |name| {
        let parts: Vec<String> = name.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.to_lowercase()).collect();
        let user = match parts.as_slice() {
            [.., schema, _] => !system.contains(schema.as_str()),
            [table] => !table.starts_with("pg_"),
            [] => false,
        };
        if user { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .is_break()
}

/// Subqueries inside the select lists of `s` (at any depth).
fn select_list_subqueries(s: &Statement) -> usize {
    struct Count(usize);
    impl Visitor for Count {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = q.body.as_ref() {
                for item in &select.projection {
                    let _ = visit_expressions(item, |e| {
                        if matches!(e, Expr::Subquery(_)) {
                            self.0 += 1;
                        }
                        ControlFlow::<()>::Continue(())
                    });
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut count = Count(0);
    let _ = s.visit(&mut count);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correlated_subquery_over_a_cube_is_kept_and_one_over_the_catalog_as_before() {
        let p = CompatParser::new();
        let cube = "SELECT r.region, (SELECT max(amount) FROM m.c g WHERE g.region = r.region) AS top FROM (SELECT DISTINCT region FROM m.c) r";
        assert_eq!(p.parse(cube).unwrap()[0].to_string(), cube);
        let catalog = "SELECT a.attname, (SELECT d.adbin FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) AS def FROM pg_catalog.pg_attribute a";
        assert!(p.parse(catalog).unwrap()[0].to_string().contains("NULL AS def"), "{}", p.parse(catalog).unwrap()[0]);
    }
}
