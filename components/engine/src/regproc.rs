//! `'name'::regproc`: the catalog's regproc columns (`pg_type.typinput`, `typoutput`, ...) hold
//! function names, as PostgreSQL shows regproc values, so a regproc constant is its name too —
//! without the `pg_catalog.` prefix, as PostgreSQL prints functions of pg_catalog. pgJDBC asks
//! `typinput = 'pg_catalog.array_in'::regproc` to tell array types. datafusion-pg-catalog's
//! parser turns the constant into an oid lookup (`SELECT oid FROM pg_catalog.pg_proc WHERE
//! proname = '...'`), which no name column equals (the comparison then failed casting names to
//! integers): that lookup becomes the name again — in statements that cast to regproc only
//! (`sql::parse`), so a lookup a client writes itself keeps its oid.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Statement, Value, visit_expressions_mut};

const LOOKUP: (&str, &str) = ("SELECT oid FROM pg_catalog.pg_proc WHERE proname = '", "'");

pub fn names_as_text(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        if let Expr::Subquery(q) = e {
            let text = q.to_string();
            let text = text.strip_suffix(" LIMIT 1").unwrap_or(&text);
            if let Some(name) = text.strip_prefix(LOOKUP.0).and_then(|t| t.strip_suffix(LOOKUP.1))
                && !name.contains('\'')
            {
                let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
                *e = Expr::value(Value::SingleQuotedString(name.to_string()));
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_regproc_constant_is_the_functions_name() {
        let p = crate::compat_parse::CompatParser::new();
        let mut s = p.parse("SELECT typinput = 'pg_catalog.array_in'::regproc AS is_array, typname FROM pg_catalog.pg_type").unwrap().remove(0);
        super::names_as_text(&mut s);
        assert_eq!(s.to_string(), "SELECT typinput = 'array_in' AS is_array, typname FROM pg_catalog.pg_type");
    }
}
