//! Result column names as PostgreSQL gives them. PostgreSQL names an unnamed select item after
//! what it is (`sum(x)` → `sum`, `t.region` → `region`, `count(*)` → `count`, anything else
//! `?column?`) and allows the same name twice; DataFusion names it after the whole expression
//! and refuses duplicates. So every unnamed item of the outermost SELECT gets a unique alias
//! carrying PostgreSQL's name before a separator, and the wire layer sends only that name.

use datafusion::sql::sqlparser::ast::{Expr, Ident, SelectItem, SetExpr, Statement};

/// Separates the PostgreSQL name from the unique suffix in an alias.
const SEPARATOR: char = '\u{1f}';

/// Aliases the outermost SELECT's unnamed items (see the module comment).
pub fn alias_unnamed(stmt: &mut Statement) {
    let Statement::Query(query) = stmt else { return };
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item {
            let alias = Ident::with_quote('"', format!("{}{SEPARATOR}{i}", pg_name(expr)));
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias };
        }
    }
}

/// The name a client sees for a result column.
pub fn output_name(field: &str) -> &str {
    field.split(SEPARATOR).next().unwrap_or(field)
}

/// PostgreSQL's FigureColname, for the expressions BI queries use.
fn pg_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(id) => id.value.clone(),
        Expr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.clone()).unwrap_or_default(),
        Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_lowercase()).unwrap_or_else(|| "?column?".into()),
        Expr::Nested(inner) => pg_name(inner),
        Expr::Cast { expr, data_type, .. } => match pg_name(expr).as_str() {
            "?column?" => data_type.to_string().to_lowercase(),
            name => name.to_string(),
        },
        Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn names(sql: &str) -> Vec<String> {
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        alias_unnamed(&mut stmt);
        let Statement::Query(q) = &stmt else { panic!() };
        let SetExpr::Select(s) = q.body.as_ref() else { panic!() };
        s.projection
            .iter()
            .map(|p| match p {
                SelectItem::ExprWithAlias { alias, .. } => output_name(&alias.value).to_string(),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn names_follow_postgresql() {
        assert_eq!(
            names("SELECT t.region, sum(x), SUM(y), count(*), x + 1, CAST(x AS int), 2::text, CASE WHEN x > 0 THEN 1 END, avg(x) AS mean, * FROM t"),
            ["region", "sum", "sum", "count", "?column?", "x", "text", "case", "mean", "*"]
        );
    }
}
