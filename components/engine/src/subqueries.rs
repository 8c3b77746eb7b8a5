//! Subquery shapes PostgreSQL answers and DataFusion does not plan, rewritten in the syntax
//! tree into equivalent ones it does (the catalog queries of psql, pgJDBC and SQLAlchemy):
//!
//! - A correlated scalar subquery that does not aggregate (`(SELECT c.relkind = 'c' FROM
//!   pg_class c WHERE c.oid = t.typrelid)`): DataFusion decorrelates only aggregates, so its
//!   select item becomes `pg_single_value(item)` (`single_value`: NULL for no row, the value,
//!   or PostgreSQL's error for more than one row — the same answer).
//! - In such a subquery, a WHERE condition over outer columns only (SQLAlchemy's
//!   `WHERE pg_attribute.atthasdef AND ...`) moves out: `CASE WHEN cond THEN (subquery) END`
//!   (no row, hence NULL, when it is false — as before), since DataFusion cannot decorrelate a
//!   filter that references no column of the subquery.
//! - `ARRAY(SELECT f(x) FROM unnest(a) x)` becomes `pg_array_map(a, 'f(x)')` (`arraymap`);
//!   any other `ARRAY(SELECT x FROM ... ORDER BY y)` becomes `(SELECT array_agg(x ORDER BY y) FROM ...)`,
//!   with `'{}'` rather than NULL when there is no row, as ARRAY() answers.
//!
//! A subquery is correlated here when it names a column qualified by a relation that is not
//! its own; unqualified columns are taken as its own (PostgreSQL resolves them innermost first).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, FunctionArguments, GroupByExpr, OrderByKind, Query, SelectItem, SetExpr, Statement, TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// ARRAY() of no row: an empty array (array_agg's is NULL).
const EMPTY_ARRAY: &str = "make_array()";

/// Aggregates a select item may call: such a subquery already returns one row.
const AGGREGATES: [&str; 16] =
    ["count", "sum", "min", "max", "avg", "array_agg", "string_agg", "bool_and", "bool_or", "every", "json_agg", "json_object_agg", "stddev", "variance", "percentile_disc", "pg_single_value"];

pub fn rewrite(stmt: &mut Statement) {
    struct Rewrite;
    impl VisitorMut for Rewrite {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            let new = match e {
                Expr::Subquery(q) => single_valued(q),
                Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("array") => match &f.args {
                    FunctionArguments::Subquery(q) => array_of(q),
                    _ => None,
                },
                _ => None,
            };
            if let Some(new) = new {
                *e = new;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Rewrite);
}

fn expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(sql).and_then(|mut p| p.parse_expr()).ok()
}

/// The one item of a plain SELECT (no grouping, DISTINCT, LIMIT, set operation or CTE).
fn plain_item(q: &Query) -> Option<&Expr> {
    let SetExpr::Select(s) = q.body.as_ref() else { return None };
    let grouped = !matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() || s.distinct.is_some() || s.having.is_some() || grouped || s.projection.len() != 1 {
        return None;
    }
    match &s.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    }
}

fn item_mut(q: &mut Query) -> &mut Expr {
    let SetExpr::Select(s) = q.body.as_mut() else { unreachable!("checked by plain_item") };
    match &mut s.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => unreachable!("checked by plain_item"),
    }
}

fn aggregates(e: &Expr) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |e| {
        if let Expr::Function(f) = e
            && (f.over.is_some() || AGGREGATES.iter().any(|a| f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case(a))))
        {
            found = true;
            return ControlFlow::Break(());
        }
        // A nested subquery's aggregates are its own.
        if matches!(e, Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

/// The names (aliases, else table names) of every relation `q` reads, at any depth.
fn own_relations(q: &Query) -> HashSet<String> {
    struct Names(HashSet<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
            let alias = match t {
                TableFactor::Table { name, alias, .. } => {
                    if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                        self.0.insert(last.value.to_lowercase());
                    }
                    alias
                }
                TableFactor::Derived { alias, .. } | TableFactor::TableFunction { alias, .. } | TableFactor::Function { alias, .. } | TableFactor::UNNEST { alias, .. } | TableFactor::NestedJoin { alias, .. } => alias,
                _ => &None,
            };
            if let Some(a) = alias {
                self.0.insert(a.name.value.to_lowercase());
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(HashSet::new());
    let _ = q.visit(&mut names);
    names.0
}

/// The relation qualifiers of the columns `e` names (`a` of `a.x`, `pg_attribute` of
/// `pg_catalog.pg_attribute.x`), and whether it names unqualified columns or subqueries.
fn qualifiers<V: Visit>(e: &V) -> (Vec<String>, bool) {
    let (mut found, mut other) = (vec![], false);
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |e| {
        match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => found.push(parts[parts.len() - 2].value.to_lowercase()),
            Expr::Identifier(_) | Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => other = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    (found, other)
}

fn correlated(q: &Query) -> bool {
    let own = own_relations(q);
    qualifiers(q).0.iter().any(|r| !own.contains(r))
}

/// A correlated, not aggregating scalar subquery as one DataFusion plans.
fn single_valued(q: &Query) -> Option<Expr> {
    let item = plain_item(q)?.clone();
    if aggregates(&item) || !correlated(q) {
        return None;
    }
    let own = own_relations(q);
    let mut q = q.clone();
    q.order_by = None; // one row at most: its order does not matter
    let SetExpr::Select(s) = q.body.as_mut() else { unreachable!("checked by plain_item") };
    let (mut outer, mut inner) = (vec![], vec![]);
    for c in s.selection.take().map(conjuncts).unwrap_or_default() {
        let (names, other) = qualifiers(&c);
        if !other && !names.is_empty() && names.iter().all(|n| !own.contains(n)) {
            outer.push(c);
        } else {
            inner.push(c);
        }
    }
    s.selection = inner.into_iter().reduce(|a, b| Expr::BinaryOp { left: Box::new(a), op: datafusion::sql::sqlparser::ast::BinaryOperator::And, right: Box::new(b) });
    let value = if qualifiers(&item).0.iter().any(|n| !own.contains(n)) {
        outer_item(&q, item, &own)?
    } else {
        let single = crate::single_value::NAME;
        *item_mut(&mut q) = expr(&format!("{single}({item})"))?;
        Expr::Subquery(Box::new(q))
    };
    if outer.is_empty() {
        return Some(value);
    }
    let cond: Vec<String> = outer.iter().map(|c| format!("({c})")).collect();
    expr(&format!("CASE WHEN {} THEN {value} END", cond.join(" AND ")))
}

/// An item that names outer columns (`json_build_object('always', outer.x = 'a', 'start',
/// s.seqstart)`), which DataFusion cannot decorrelate inside the subquery, computed outside
/// it: each of its own columns is a subquery of its own (`(SELECT pg_single_value(s.seqstart)
/// FROM ... WHERE ...)`), and the whole is NULL when there is no row (and PostgreSQL's error
/// when there are more).
fn outer_item(q: &Query, mut item: Expr, own: &HashSet<String>) -> Option<Expr> {
    let single = crate::single_value::NAME;
    let nested = datafusion::sql::sqlparser::ast::visit_expressions(&item, |e| if matches!(e, Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }) { ControlFlow::Break(()) } else { ControlFlow::Continue(()) });
    if nested.is_break() {
        return None;
    }
    let mut failed = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut item, |e| {
        let mine = match e {
            Expr::Identifier(_) => true,
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => own.contains(&parts[parts.len() - 2].value.to_lowercase()),
            _ => false,
        };
        if mine {
            let mut column = q.clone();
            match expr(&format!("{single}({e})")) {
                Some(v) => *item_mut(&mut column) = v,
                None => failed = true,
            }
            *e = Expr::Subquery(Box::new(column));
        }
        ControlFlow::<()>::Continue(())
    });
    let mut rows = q.clone();
    *item_mut(&mut rows) = expr(&format!("{single}(1)"))?;
    (!failed).then(|| expr(&format!("CASE WHEN ({rows}) IS NOT NULL THEN {item} END"))).flatten()
}

fn conjuncts(e: Expr) -> Vec<Expr> {
    match e {
        Expr::BinaryOp { left, op: datafusion::sql::sqlparser::ast::BinaryOperator::And, right } => {
            let mut all = conjuncts(*left);
            all.extend(conjuncts(*right));
            all
        }
        Expr::Nested(inner) if matches!(inner.as_ref(), Expr::BinaryOp { op: datafusion::sql::sqlparser::ast::BinaryOperator::And, .. }) => conjuncts(*inner),
        other => vec![other],
    }
}

/// `ARRAY(SELECT x FROM ... ORDER BY y)` as an aggregate subquery.
fn array_of(q: &Query) -> Option<Expr> {
    let item = plain_item(q)?.clone();
    if aggregates(&item) {
        return None;
    }
    if let Some(mapped) = mapped_elements(q, &item) {
        return Some(mapped);
    }
    let mut order = vec![];
    if let Some(o) = &q.order_by {
        let OrderByKind::Expressions(exprs) = &o.kind else { return None };
        for o in exprs {
            let mut o = o.clone();
            // `ORDER BY 1`: the item.
            if let Expr::Value(v) = &o.expr
                && matches!(&v.value, Value::Number(n, _) if n == "1")
            {
                o.expr = item.clone();
            }
            order.push(o.to_string());
        }
    }
    let order = if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
    let mut q = q.clone();
    q.order_by = None;
    *item_mut(&mut q) = expr(&format!("array_agg({item}{order})"))?;
    expr(&format!("coalesce(({q}), {})", EMPTY_ARRAY))
}

/// `ARRAY(SELECT f(x) FROM unnest(a) x)`, where f names only x: `pg_array_map(a, 'f(x)')`
/// (`arraymap`), since `a` is usually a column of the outer query.
fn mapped_elements(q: &Query, item: &Expr) -> Option<Expr> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, Ident};
    let SetExpr::Select(s) = q.body.as_ref() else { return None };
    let [from] = s.from.as_slice() else { return None };
    if !from.joins.is_empty() || s.selection.is_some() || q.order_by.is_some() {
        return None;
    }
    let TableFactor::Table { name, args: Some(args), alias: Some(alias), with_ordinality: false, .. } = &from.relation else { return None };
    if !name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("unnest")) {
        return None;
    }
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = args.args.as_slice() else { return None };
    let x = alias.columns.first().map_or(&alias.name, |c| &c.name).value.clone();
    let mut only_x = true;
    let mut item = item.clone();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut item, |e| {
        match e {
            Expr::Identifier(i) if i.value == x => *e = Expr::Identifier(Ident::new("x")),
            Expr::CompoundIdentifier(p) if p.len() == 2 && p[0].value == alias.name.value && p[1].value == x => *e = Expr::Identifier(Ident::new("x")),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => only_x = false,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    if !only_x {
        return None;
    }
    let text = item.to_string().replace('\'', "''");
    expr(&format!("coalesce({}({array}, '{text}'), {EMPTY_ARRAY})", crate::arraymap::NAME))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        super::rewrite(&mut s);
        s.to_string()
    }

    #[test]
    fn correlated_scalar_subqueries_aggregate() {
        assert_eq!(
            rewritten("SELECT t.typname FROM pg_type t WHERE t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_class c WHERE c.oid = t.typrelid ORDER BY 1)"),
            "SELECT t.typname FROM pg_type t WHERE t.typrelid = 0 OR (SELECT pg_single_value(c.relkind = 'c') FROM pg_class c WHERE c.oid = t.typrelid)"
        );
        // Conditions over outer columns only move out.
        assert_eq!(
            rewritten("SELECT (SELECT d.adbin FROM pg_catalog.pg_attrdef d WHERE pg_catalog.pg_attribute.atthasdef AND d.adrelid = pg_catalog.pg_attribute.attrelid) FROM pg_catalog.pg_attribute"),
            "SELECT CASE WHEN (pg_catalog.pg_attribute.atthasdef) THEN (SELECT pg_single_value(d.adbin) FROM pg_catalog.pg_attrdef AS d WHERE d.adrelid = pg_catalog.pg_attribute.attrelid) END FROM pg_catalog.pg_attribute"
                .replace(" AS d", " d")
        );
        // Aggregates, uncorrelated subqueries and LIMIT are left as they are.
        for same in [
            "SELECT (SELECT max(x) FROM u WHERE u.a = t.a) FROM t",
            "SELECT (SELECT x FROM u) FROM t",
            "SELECT (SELECT x FROM u WHERE u.a = t.a LIMIT 1) FROM t",
            "SELECT (SELECT x FROM u WHERE a = 1) FROM t",
        ] {
            assert_eq!(rewritten(same), same);
        }
    }

    #[test]
    fn an_item_naming_outer_columns_is_computed_outside() {
        assert_eq!(
            rewritten("SELECT (SELECT f(a.x, s.y) FROM s WHERE s.k = a.k) FROM a"),
            "SELECT CASE WHEN (SELECT pg_single_value(1) FROM s WHERE s.k = a.k) IS NOT NULL THEN f(a.x, (SELECT pg_single_value(s.y) FROM s WHERE s.k = a.k)) END FROM a"
        );
    }

    #[test]
    fn array_of_unnest_maps_the_elements() {
        assert_eq!(
            rewritten("SELECT array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x) FROM pg_class tc"),
            "SELECT coalesce(pg_array_map(tc.reloptions, '''toast.'' || x'), make_array()) FROM pg_class tc"
        );
    }

    #[test]
    fn array_of_a_subquery_is_an_array_agg() {
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT b.rolname FROM pg_roles b WHERE b.oid = r.oid ORDER BY 1) AS memberof FROM pg_roles r"),
            format!("SELECT coalesce((SELECT array_agg(b.rolname ORDER BY b.rolname) FROM pg_roles b WHERE b.oid = r.oid), {}) AS memberof FROM pg_roles r", super::EMPTY_ARRAY)
        );
    }
}
