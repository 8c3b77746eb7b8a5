//! `json_build_object(key, value, ...)` as PostgreSQL builds it (SQLAlchemy 2's column
//! reflection asks for identity and collation details with it): an object of the pairs, keys
//! as text, values as JSON (numbers and booleans bare, NULL as null, the rest as strings),
//! written as PostgreSQL writes json (`{"a" : 1, "b" : null}`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;

pub fn register(ctx: &SessionContext) {
    crate::pgfunctions::replace(ctx, ScalarUDF::new_from_impl(BuildObject { signature: Signature::variadic_any(Volatility::Stable) }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct BuildObject {
    signature: Signature,
}

impl ScalarUDFImpl for BuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() % 2 != 0 {
            return plan_err!("argument list must have even number of elements (json_build_object takes key, value pairs)");
        }
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let mut out = vec![];
        for row in 0..rows {
            let mut pairs = vec![];
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return datafusion::common::exec_err!("null value not allowed for object key");
                }
                pairs.push(format!("{} : {}", json(&ScalarValue::Utf8(Some(text(&key)))), json(&ScalarValue::try_from_array(&pair[1], row)?)));
            }
            out.push(format!("{{{}}}", pairs.join(", ")));
        }
        let out: ArrayRef = Arc::new(StringArray::from(out));
        Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
    }
}

fn text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as PostgreSQL's `to_json` writes it.
fn json(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        v if v.data_type().is_numeric() => v.to_string(),
        other => serde_json::Value::String(text(other)).to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn objects_as_postgresql_writes_them() {
        let ctx = datafusion::prelude::SessionContext::new();
        super::register(&ctx);
        let batches = ctx.sql("SELECT json_build_object('always', 1 = 2, 'start', 1, 'name', 'a\"b', 'schema', NULL) AS j").await.unwrap().collect().await.unwrap();
        let j = batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap().value(0).to_string();
        assert_eq!(j, r#"{"always" : false, "start" : 1, "name" : "a\"b", "schema" : null}"#);
        assert!(ctx.sql("SELECT json_build_object('a')").await.is_err());
    }
}
