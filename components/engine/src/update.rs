//! `UPDATE model.cube SET measure = expression [, ...] [WHERE condition]`: data entry on cells
//! that exist. DataFusion computes, on this engine's image, which cells match and their new
//! values (`SELECT <dimensions>, <expression> AS <measure> ... FROM cube WHERE condition`);
//! the results are then written as cell writes in one commit, all or none, exactly as INSERT
//! writes them. Dimensions and levels cannot be SET: they address a cell.
//!
//! An UPDATE reads this engine's image and then writes: a write to the same cell committed by
//! another engine in between is overwritten (the later commit in log order wins), as with
//! two INSERTs.

use datafusion::arrow::array::{Array, Float64Array, Int64Array, StringArray};
use datafusion::sql::sqlparser::ast::{AssignmentTarget, TableFactor, Update};
use pgwire::api::results::{Response, Tag};
use pgwire::error::PgWireResult;
use serde_json::{Map, Value};

use crate::sql::{SqlHandler, cube_name, normalise, run_query, user_error};

impl SqlHandler {
    pub(crate) async fn update(&self, session: &crate::session::Shared, u: Update) -> PgWireResult<Response> {
        if u.from.is_some() || u.returning.is_some() || !u.table.joins.is_empty() || u.limit.is_some() || !u.order_by.is_empty() {
            return Err(user_error("0A000", "UPDATE takes one cube, SET and WHERE (no FROM, joins, RETURNING, ORDER BY or LIMIT)", None));
        }
        let TableFactor::Table { name, .. } = &u.table.relation else {
            return Err(user_error("0A000", "UPDATE names a cube as <model>.<cube>", None));
        };
        let (model, cube) = &cube_name(name)?;
        let table = format!("{model}.{cube}");
        let definition = self.engine.view().cube(model, cube).map(|s| s.cube.clone());
        let definition = definition.ok_or_else(|| user_error("42P01", format!("relation \"{table}\" does not exist"), None))?;

        let mut sets = vec![];
        for a in &u.assignments {
            let AssignmentTarget::ColumnName(column) = &a.target else {
                return Err(user_error("0A000", "SET (a, b) = ... is not supported; set each measure on its own", None));
            };
            let column = column.0.last().map(|p| p.to_string().replace('"', "")).unwrap_or_default();
            if let Some(d) = definition.dimensions.iter().find(|d| d.name.eq_ignore_ascii_case(&column)).or_else(|| definition.level_of(&column)) {
                return Err(user_error(
                    "0A000",
                    format!("{column:?} addresses cells (dimension {:?}), it cannot be SET; UPDATE sets measures. To move a value, INSERT it at the new members", d.name),
                    None,
                ));
            }
            let Some(m) = definition.measures.iter().find(|m| m.name.eq_ignore_ascii_case(&column)) else {
                return Err(user_error("42703", format!("column {column:?} of relation \"{table}\" does not exist"), None));
            };
            sets.push(format!("{} AS \"{}\"", a.value, m.name));
        }
        let dimensions: Vec<String> = definition.dimensions.iter().map(|d| format!("\"{}\"", d.name)).collect();
        let filter = u.selection.as_ref().map(|s| format!(" WHERE {s}")).unwrap_or_default();
        let select = format!("SELECT {}, {} FROM {model}.{cube}{filter}", dimensions.join(", "), sets.join(", "));

        let (_, batches) = run_query(&self.engine, Some(session), &select).await?;
        let mut cells = vec![];
        for batch in batches {
            let batch = normalise(batch).map_err(|e| user_error("XX000", e.to_string(), None))?;
            let schema = batch.schema();
            for r in 0..batch.num_rows() {
                let mut cell = Map::new();
                for (f, col) in schema.fields().iter().zip(batch.columns()) {
                    cell.insert(f.name().clone(), json_value(col.as_ref(), r).map_err(|m| user_error("22023", format!("SET {}: {m}", f.name()), None))?);
                }
                cells.push(cell);
            }
        }
        let n = cells.len();
        if n > 0 {
            self.write_cells(session, model, cube, cells).await?;
        }
        Ok(Response::Execution(Tag::new("UPDATE").with_rows(n)))
    }
}

/// One value of a result column (in its wire type) as JSON, for a cell write.
fn json_value(col: &dyn Array, r: usize) -> Result<Value, String> {
    if col.is_null(r) {
        return Ok(Value::Null);
    }
    let any = col.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        Ok(Value::from(a.value(r)))
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        serde_json::Number::from_f64(a.value(r)).map(Value::Number).ok_or_else(|| format!("{} is not a finite number", a.value(r)))
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        Ok(Value::String(a.value(r).to_string()))
    } else {
        Err(format!("a value of type {} cannot be stored in a cell", col.data_type()))
    }
}
