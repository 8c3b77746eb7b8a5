//! PostgreSQL's vectors in `pg_index` (`indkey`, `indoption`: int2vector; `indclass`,
//! `indcollation`: oidvector), which the catalog holds as their text (`1 2 3`), expanded as
//! the drivers' key queries expand them: `unnest(indkey)` and `generate_subscripts(indkey, 1)`
//! (SQLAlchemy), `information_schema._pg_expandarray(indkey)` (pgJDBC: a row `(x, n)` per
//! element, the value and its position), `indoption[i]` (pgJDBC, from 0). Rewritten in the syntax tree to `unnest` of arrays
//! the functions below build from the text.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int16Array, Int32Array, ListArray, StringArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use datafusion::prelude::{SessionContext, create_udf};
use datafusion::sql::sqlparser::ast::{AccessExpr, Expr, Subscript, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// pg_index's vector columns.
const VECTORS: [&str; 4] = ["indkey", "indoption", "indclass", "indcollation"];

fn expanded_fields() -> Fields {
    Fields::from(vec![Field::new("x", DataType::Int16, true), Field::new("n", DataType::Int32, true)])
}

pub fn register(ctx: &SessionContext) {
    let item = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
    for (name, kind) in [("pg_int2vector", item(DataType::Int16)), ("pg_subscripts", item(DataType::Int32)), ("pg_expandarray", item(DataType::Struct(expanded_fields())))] {
        let which = name;
        crate::pgfunctions::replace(ctx, create_udf(name, vec![DataType::Utf8], kind, Volatility::Immutable, Arc::new(move |args: &[ColumnarValue]| expand(which, args))));
    }
}

fn expand(which: &str, args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let scalar = matches!(args[0], ColumnarValue::Scalar(_));
    let texts = cast(&args[0].to_array(1)?, &DataType::Utf8)?;
    let texts = texts.as_any().downcast_ref::<StringArray>().expect("cast to text");
    let (mut offsets, mut values, mut valid) = (vec![0i32], vec![], vec![]);
    for t in texts.iter() {
        if let Some(t) = t {
            for v in t.split_whitespace() {
                match v.parse::<i16>() {
                    Ok(v) => values.push(v),
                    Err(_) => return exec_err!("invalid int2vector {t:?}"),
                }
            }
        }
        offsets.push(values.len() as i32);
        valid.push(t.is_some());
    }
    let (item, list_values): (Field, ArrayRef) = match which {
        "pg_int2vector" => (Field::new_list_field(DataType::Int16, true), Arc::new(Int16Array::from(values))),
        "pg_subscripts" => (Field::new_list_field(DataType::Int32, true), Arc::new(positions(&offsets))),
        _ => {
            let fields = expanded_fields();
            let s = StructArray::try_new(fields.clone(), vec![Arc::new(Int16Array::from(values)), Arc::new(positions(&offsets))], None)?;
            (Field::new_list_field(DataType::Struct(fields), true), Arc::new(s))
        }
    };
    let list: ArrayRef = Arc::new(ListArray::try_new(Arc::new(item), OffsetBuffer::new(offsets.into()), list_values, Some(valid.into()))?);
    Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&list, 0)?) } else { ColumnarValue::Array(list) })
}

/// 1, 2, ... within each list.
fn positions(offsets: &[i32]) -> Int32Array {
    offsets.windows(2).flat_map(|w| 1..=(w[1] - w[0])).collect()
}

/// A column named as pg_index's vectors (or an alias ending so: pgJDBC's `I_INDOPTION`).
fn is_vector(e: &Expr) -> bool {
    let named = |i: &datafusion::sql::sqlparser::ast::Ident| VECTORS.iter().any(|v| i.value.to_lowercase().ends_with(v));
    match e {
        Expr::Identifier(i) => named(i),
        Expr::CompoundIdentifier(p) => p.last().is_some_and(named),
        Expr::Nested(e) => is_vector(e),
        _ => false,
    }
}

/// `t.x` written as a root and dots (`t` then `.x`), as the column it names.
fn named(root: &Expr, dots: &[AccessExpr]) -> Option<Expr> {
    let mut parts = match root {
        Expr::Identifier(i) => vec![i.clone()],
        Expr::CompoundIdentifier(p) => p.clone(),
        _ => return None,
    };
    for d in dots {
        let AccessExpr::Dot(Expr::Identifier(i)) = d else { return None };
        parts.push(i.clone());
    }
    Some(if parts.len() == 1 { Expr::Identifier(parts.remove(0)) } else { Expr::CompoundIdentifier(parts) })
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |e| {
        // `indoption[i]`: an int2vector's subscripts start at 0, an array's at 1.
        if let Expr::CompoundFieldAccess { root, access_chain } = e
            && let Some((AccessExpr::Subscript(Subscript::Index { index }), path)) = access_chain.split_last()
            && let Some(vector) = named(root, path)
            && is_vector(&vector)
            && let Some(new) = Parser::new(&PostgreSqlDialect {}).try_with_sql(&format!("pg_int2vector({vector})[({index}) + 1]")).and_then(|mut p| p.parse_expr()).ok()
        {
            *e = new;
            return ControlFlow::<()>::Continue(());
        }
        let Expr::Function(f) = e else { return ControlFlow::<()>::Continue(()) };
        let name = f.name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.to_lowercase()).unwrap_or_default();
        let FunctionArguments::List(list) = &f.args else { return ControlFlow::Continue(()) };
        let args: Vec<&Expr> = list.args.iter().filter_map(|a| if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a { Some(e) } else { None }).collect();
        let new = match (name.as_str(), args.as_slice()) {
            ("unnest", [v]) if is_vector(v) => Some(format!("unnest(pg_int2vector({v}))")),
            ("generate_subscripts", [v, dim]) if is_vector(v) && dim.to_string() == "1" => Some(format!("unnest(pg_subscripts({v}))")),
            ("_pg_expandarray", [v]) if is_vector(v) => Some(format!("unnest(pg_expandarray({v}))")),
            _ => None,
        };
        if let Some(new) = new.and_then(|n| Parser::new(&PostgreSqlDialect {}).try_with_sql(&n).and_then(|mut p| p.parse_expr()).ok()) {
            *e = new;
        }
        ControlFlow::Continue(())
    });
}
