//! `pg_array_map(array, 'expression of x')`: the array of the expression's values for each
//! element x — what `ARRAY(SELECT 'toast.' || x FROM unnest(tc.reloptions) x)` (psql's `\d+`)
//! computes. `subqueries` rewrites that shape into it: DataFusion cannot unnest a column of
//! the outer query inside a subquery. The expression is planned over one column `x` of the
//! elements' type and evaluated on all elements at once; a NULL array maps to NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{DFSchema, ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ExprSchemable, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;

pub const NAME: &str = "pg_array_map";

pub fn register(ctx: &SessionContext) {
    crate::pgfunctions::replace(ctx, ScalarUDF::new_from_impl(ArrayMap { signature: Signature::any(2, Volatility::Immutable) }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayMap {
    signature: Signature,
}

fn element(t: &DataType) -> Result<DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) => Ok(f.data_type().clone()),
        DataType::Null => Ok(DataType::Null),
        other => plan_err!("{NAME} maps an array, not {other}"),
    }
}

/// The expression over `x` and the schema it is planned on.
fn planned(expression: &str, element: &DataType) -> Result<(datafusion::logical_expr::Expr, DFSchema)> {
    let schema = DFSchema::try_from(Schema::new(vec![Field::new("x", element.clone(), true)]))?;
    let expr = SessionContext::new().parse_sql_expr(expression, &schema)?;
    Ok((expr, schema))
}

fn expression_of(v: Option<&ScalarValue>) -> Result<String> {
    match v {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => Ok(s.clone()),
        _ => plan_err!("{NAME} takes its expression as a text constant"),
    }
}

impl ScalarUDFImpl for ArrayMap {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        unreachable!("return_field_from_args answers")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let element = element(args.arg_fields[0].data_type())?;
        let (expr, schema) = planned(&expression_of(args.scalar_arguments[1])?, &element)?;
        let t = expr.get_type(&schema)?;
        Ok(Arc::new(Field::new(NAME, DataType::List(Arc::new(Field::new_list_field(t, true))), true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(text) = &args.args[1] else { return exec_err!("{NAME} takes its expression as a text constant") };
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let arrays = args.args[0].to_array(args.number_rows)?;
        let DataType::List(out_item) = args.return_field.data_type().clone() else { unreachable!("a list by return_field_from_args") };
        if arrays.data_type() == &DataType::Null {
            let out: ArrayRef = datafusion::arrow::array::new_null_array(args.return_field.data_type(), arrays.len());
            return Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) });
        }
        let list = datafusion::arrow::compute::cast(&arrays, &DataType::List(Arc::new(Field::new_list_field(element(arrays.data_type())?, true))))?;
        let list = list.as_list::<i32>();
        let (expr, schema) = planned(&expression_of(Some(text))?, &element(list.data_type())?)?;
        let physical = SessionContext::new().create_physical_expr(expr, &schema)?;
        let values = list.values().clone();
        let batch = RecordBatch::try_new(Arc::new(schema.as_arrow().clone()), vec![values.clone()])?;
        let mapped = physical.evaluate(&batch)?.into_array(values.len())?;
        let out: ArrayRef = Arc::new(ListArray::try_new(out_item, list.offsets().clone(), mapped, list.nulls().cloned())?);
        Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn each_element_mapped() {
        let ctx = datafusion::prelude::SessionContext::new();
        super::register(&ctx);
        let batches = ctx.sql("SELECT pg_array_map(make_array('a', 'b'), '''toast.'' || x') AS m, pg_array_map(CAST(NULL AS VARCHAR[]), 'x') IS NULL AS n").await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("[toast.a, toast.b]") && text.contains("true"), "{text}");
    }
}
