//! PostgreSQL syntax DataFusion plans differently, rewritten in the syntax tree before
//! planning: `OFFSET n FETCH FIRST m ROWS ONLY` (the SQL standard's LIMIT, which Tableau and
//! Power BI send) becomes LIMIT; `a ^ b` is PostgreSQL's exponent (DataFusion read it as
//! bitwise XOR: `2 ^ 10` gave 8); `LIKE ... ESCAPE '/'` (SQLAlchemy's) becomes the backslash
//! escapes DataFusion knows; `EXTRACT(f FROM x)` calls Triad's numeric `extract`; EXISTS in a
//! select list becomes a count; `generate_series(...) AS g` names its column g.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{AccessExpr, Value as SqlValue, BinaryOperator, CastKind, DataType, ExactNumberInfo, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, GroupByExpr, LimitClause, ObjectName, Query, SelectItem, SetExpr, Statement, TableAliasColumnDef, TableFactor, VisitMut, VisitorMut, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

struct PostgresSyntax {
    refused: Option<String>,
}

impl VisitorMut for PostgresSyntax {
    type Break = ();

    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        exists_as_count(q);
        if let Some(fetch) = q.fetch.take() {
            if fetch.with_ties || fetch.percent {
                self.refused = Some("FETCH ... WITH TIES and FETCH ... PERCENT are not supported".into());
                return ControlFlow::Break(());
            }
            let count = fetch.quantity.unwrap_or_else(|| Expr::value(datafusion::sql::sqlparser::ast::Value::Number("1".into(), false)));
            q.limit_clause = Some(match q.limit_clause.take() {
                None => LimitClause::LimitOffset { limit: Some(count), offset: None, limit_by: vec![] },
                Some(LimitClause::LimitOffset { limit: None, offset, limit_by }) => LimitClause::LimitOffset { limit: Some(count), offset, limit_by },
                Some(_) => {
                    self.refused = Some("LIMIT and FETCH FIRST together are not allowed".into());
                    return ControlFlow::Break(());
                }
            });
        }
        ControlFlow::Continue(())
    }

    /// `generate_series(...) AS g` names its column g, as PostgreSQL names a scalar function's
    /// column after the table alias (DataFusion: `value`).
    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args: Some(_), alias: Some(alias), .. } = t
            && alias.columns.is_empty()
            && name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| ["generate_series", "unnest"].iter().any(|f| i.value.eq_ignore_ascii_case(f)))
        {
            alias.columns.push(TableAliasColumnDef::from_name(alias.name.value.clone()));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Like { pattern, escape_char, .. } | Expr::ILike { pattern, escape_char, .. } = e
            && let Some(escape) = escape_char.take()
        {
            let c = match &escape.value {
                SqlValue::SingleQuotedString(s) if s.chars().count() == 1 => s.chars().next().expect("one character"),
                other => {
                    self.refused = Some(format!("LIKE ... ESCAPE {other}: the escape must be one character"));
                    return ControlFlow::Break(());
                }
            };
            if c != '\\' && !backslash_escapes(pattern, c) {
                self.refused = Some(format!("LIKE ... ESCAPE '{c}' is supported when the pattern is made of string literals"));
                return ControlFlow::Break(());
            }
        }
        // `(row).field`, a field of a composite value (pgJDBC's `(_pg_expandarray(k)).n`):
        // DataFusion reads a dot after an expression only on names.
        if let Expr::CompoundFieldAccess { root, access_chain } = e
            && matches!(root.as_ref(), Expr::Nested(_))
            && let [AccessExpr::Dot(Expr::Identifier(field))] = access_chain.as_slice()
        {
            *e = call("get_field", vec![root.as_ref().clone(), Expr::value(SqlValue::SingleQuotedString(field.value.to_lowercase()))]);
        }
        if let Expr::BinaryOp { left, op: BinaryOperator::PGExp, right } = e {
            *e = call("power", vec![left.as_ref().clone(), right.as_ref().clone()]);
        }
        // `x::numeric` keeps the scale of x (an integer's is 0): DataFusion's unconstrained
        // decimal has 10 places. Triad's `numeric(x)` (pgnumeric) casts so.
        if let Expr::Cast { kind: CastKind::Cast | CastKind::DoubleColon, data_type: DataType::Numeric(ExactNumberInfo::None) | DataType::Decimal(ExactNumberInfo::None), expr, .. } = e {
            *e = call("numeric", vec![expr.as_ref().clone()]);
            if let Expr::Function(f) = e {
                f.name = ObjectName::from(vec![Ident::with_quote('"', "numeric")]);
            }
        }
        // EXTRACT is numeric, date_part float8 (PostgreSQL 14+): DataFusion plans both as
        // date_part, so EXTRACT becomes Triad's `extract` (pgfunctions).
        if let Expr::Extract { field, expr, .. } = e {
            let part = Expr::value(SqlValue::SingleQuotedString(field.to_string().to_lowercase()));
            *e = call("extract", vec![part, expr.as_ref().clone()]);
            // Quoted: as SQL text again (the extended protocol plans the rewritten text), a bare
            // `extract(` would be read as EXTRACT once more.
            if let Expr::Function(f) = e {
                f.name = ObjectName::from(vec![Ident::with_quote('"', "extract")]);
            }
        }
        ControlFlow::Continue(())
    }
}

/// `EXISTS (SELECT ... FROM ... WHERE ...)` in a select list becomes the scalar subquery
/// `(SELECT count(*) > 0 FROM ... WHERE ...)` (`= 0` for NOT EXISTS): DataFusion plans EXISTS
/// only as a filter, and decorrelates an aggregate scalar subquery, counting 0 for no rows.
/// A subquery with grouping, DISTINCT, LIMIT or a set operation is left as it is.
fn exists_as_count(q: &mut Query) {
    let SetExpr::Select(select) = q.body.as_mut() else { return };
    for item in &mut select.projection {
        let _ = visit_expressions_mut(item, |e| {
            if let Expr::Exists { subquery, negated } = e
                && let Some(counted) = counted(subquery, *negated)
            {
                *e = Expr::Subquery(Box::new(counted));
            }
            ControlFlow::<()>::Continue(())
        });
    }
}

fn counted(q: &Query, negated: bool) -> Option<Query> {
    let SetExpr::Select(s) = q.body.as_ref() else { return None };
    let grouped = !matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() || s.distinct.is_some() || s.having.is_some() || grouped {
        return None;
    }
    let test = if negated { "count(*) = 0" } else { "count(*) > 0" };
    let test = Parser::new(&PostgreSqlDialect {}).try_with_sql(test).and_then(|mut p| p.parse_expr()).expect("a constant expression parses");
    let mut q = q.clone();
    q.order_by = None;
    if let SetExpr::Select(s) = q.body.as_mut() {
        s.projection = vec![SelectItem::UnnamedExpr(test)];
    }
    Some(q)
}

/// `name(args)`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList { duplicate_treatment: None, args: args.into_iter().map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a))).collect(), clauses: vec![] }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Rewrites the string literals of a LIKE pattern from escape character `c` to the backslash
/// (DataFusion's only one); false if the pattern is not made of literals (and `||`).
fn backslash_escapes(pattern: &mut Expr, c: char) -> bool {
    match pattern {
        Expr::Value(v) => match &mut v.value {
            SqlValue::SingleQuotedString(s) => {
                let mut out = String::new();
                let mut chars = s.chars();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        ch if ch == c => {
                            out.push('\\');
                            out.extend(chars.next());
                        }
                        ch => out.push(ch),
                    }
                }
                *s = out;
                true
            }
            _ => false,
        },
        Expr::BinaryOp { left, op: BinaryOperator::StringConcat, right } => backslash_escapes(left, c) && backslash_escapes(right, c),
        Expr::Nested(e) => backslash_escapes(e, c),
        _ => false,
    }
}

/// Rewrites `stmt` in place; an error names what PostgreSQL has that the engine refuses.
pub fn postgres_syntax(stmt: &mut Statement) -> Result<(), String> {
    let mut v = PostgresSyntax { refused: None };
    let _ = stmt.visit(&mut v);
    v.refused.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        super::postgres_syntax(&mut s).unwrap();
        s.to_string()
    }

    #[test]
    fn fetch_first_is_limit_and_caret_is_power() {
        assert_eq!(rewritten("SELECT a FROM t ORDER BY a OFFSET 5 ROWS FETCH FIRST 10 ROWS ONLY"), "SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 5 ROWS");
        assert_eq!(rewritten("SELECT a FROM t FETCH NEXT ROW ONLY"), "SELECT a FROM t LIMIT 1");
        assert_eq!(rewritten("SELECT 2 ^ 10, (SELECT x ^ 2 FROM u)"), "SELECT power(2, 10), (SELECT power(x, 2) FROM u)");
        assert_eq!(rewritten("SELECT n FROM s WHERE n NOT LIKE 'pg/_' || '%' ESCAPE '/'"), "SELECT n FROM s WHERE n NOT LIKE 'pg\\_' || '%'");
        assert_eq!(rewritten("SELECT EXTRACT(YEAR FROM d), date_part('year', d) FROM t"), "SELECT \"extract\"('year', d), date_part('year', d) FROM t");
        assert_eq!(rewritten("SELECT a, EXISTS (SELECT 1 FROM u WHERE u.a = t.a ORDER BY 1) AS e, NOT EXISTS (SELECT 1 FROM u GROUP BY b) FROM t WHERE EXISTS (SELECT 1 FROM u)"), "SELECT a, (SELECT count(*) > 0 FROM u WHERE u.a = t.a) AS e, NOT EXISTS (SELECT 1 FROM u GROUP BY b) FROM t WHERE EXISTS (SELECT 1 FROM u)");
        assert_eq!(rewritten("SELECT (f(k)).n, (t.r).x FROM t"), "SELECT get_field((f(k)), 'n'), get_field((t.r), 'x') FROM t");
        assert_eq!(rewritten("SELECT g FROM generate_series(1, 3) AS g"), "SELECT g FROM generate_series(1, 3) AS g (g)");
        assert_eq!(rewritten("SELECT CAST(u AS numeric), u::decimal, u::numeric(10, 2) FROM t"), "SELECT \"numeric\"(u), \"numeric\"(u), u::NUMERIC(10,2) FROM t");
    }
}
