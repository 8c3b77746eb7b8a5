//! PostgreSQL functions whose answer is `numeric` where DataFusion's is an integer or a float:
//! `extract(field FROM x)` (PostgreSQL 14+; the SQL rewrite turns EXTRACT into a call of this
//! `extract`, while `date_part` stays float8 as in PostgreSQL).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::numfmt::{Pattern, decimal_digits, float_digits};
use datafusion::prelude::SessionContext;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Extract::default()));
    crate::pgfunctions::replace(ctx, ScalarUDF::new_from_impl(ToChar::default()));
    ctx.register_udf(ScalarUDF::new_from_impl(Numeric { signature: Signature::any(1, Volatility::Immutable) }));
}

/// `x::numeric` (the SQL rewrite calls this for an unconstrained NUMERIC): an integer as a
/// numeric with no places, a numeric as it is, anything else with DataFusion's 10 places.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Numeric {
    signature: Signature,
}

impl ScalarUDFImpl for Numeric {
    fn name(&self) -> &str {
        "numeric"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match &args[0] {
            DataType::Dictionary(_, values) => return self.return_type(&[values.as_ref().clone()]),
            t if t.is_integer() => DataType::Decimal128(38, 0),
            DataType::Decimal32(_, s) | DataType::Decimal64(_, s) | DataType::Decimal128(_, s) => DataType::Decimal128(38, *s),
            _ => DataType::Decimal128(38, 10),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let want = args.return_field.data_type().clone();
        // Not the safe cast: text that is no number is an error, never a NULL.
        let options = datafusion::arrow::compute::CastOptions { safe: false, ..Default::default() };
        Ok(match &args.args[0] {
            ColumnarValue::Array(a) => ColumnarValue::Array(datafusion::arrow::compute::cast_with_options(a, &want, &options)?),
            ColumnarValue::Scalar(s) => ColumnarValue::Scalar(ScalarValue::try_from_array(&datafusion::arrow::compute::cast_with_options(&s.to_array()?, &want, &options)?, 0)?),
        })
    }
}

/// `to_char(x, pattern)`: a time with PostgreSQL's date patterns, a number with its numeric
/// patterns.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    signature: Signature,
}

impl Default for ToChar {
    fn default() -> Self {
        ToChar { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [value, _pattern] = args else { return plan_err!("to_char takes a value and a pattern, not {} arguments", args.len()) };
        let value = match value {
            DataType::Dictionary(_, values) => return self.coerce_types(&[values.as_ref().clone(), DataType::Utf8]),
            t if t.is_integer() => DataType::Int64,
            DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Null => DataType::Float64,
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
            DataType::Decimal128(..) => value.clone(),
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Timestamp(TimeUnit::Nanosecond, None),
            other => return plan_err!("function to_char({other}, text) does not exist"),
        };
        Ok(vec![value, DataType::Utf8])
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if matches!(args.args[0].data_type(), DataType::Timestamp(..)) {
            return crate::pgfunctions::to_char(&args.args);
        }
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let values = args.args[0].to_array(args.number_rows)?;
        let patterns = args.args[1].to_array(args.number_rows)?;
        let patterns = patterns.as_string::<i32>();
        let mut out = StringBuilder::new();
        for i in 0..values.len() {
            if values.is_null(i) || patterns.is_null(i) {
                out.append_null();
                continue;
            }
            let pattern = Pattern::parse(patterns.value(i)).map_err(|m| DataFusionError::Execution(m))?;
            let places = pattern.fraction_places();
            let digits = match values.data_type() {
                DataType::Int64 => decimal_digits(values.as_primitive::<Int64Type>().value(i).into(), 0, places),
                DataType::Float64 => float_digits(values.as_primitive::<Float64Type>().value(i), places),
                DataType::Decimal128(_, s) => decimal_digits(values.as_primitive::<Decimal128Type>().value(i), *s as u32, places),
                other => return exec_err!("to_char of {other}"),
            };
            out.append_value(pattern.format(&digits));
        }
        let out: ArrayRef = Arc::new(out.finish());
        Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
    }
}

/// `extract(field, x)`: DataFusion's `date_part` as a numeric, whole for the integer fields
/// (`year`, `month`, `dow`, ...), with six decimal places for `epoch` (PostgreSQL's scale for
/// a timestamp's).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Extract {
    date_part: Arc<ScalarUDF>,
}

impl Default for Extract {
    fn default() -> Self {
        Extract { date_part: datafusion::functions::datetime::date_part() }
    }
}

fn as_numeric(t: &DataType) -> DataType {
    match t {
        DataType::Float32 | DataType::Float64 => DataType::Decimal128(38, 6),
        _ => DataType::Decimal128(38, 0),
    }
}

impl ScalarUDFImpl for Extract {
    fn name(&self) -> &str {
        "extract"
    }
    fn signature(&self) -> &Signature {
        self.date_part.signature()
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        self.date_part.coerce_types(args)
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        datafusion::common::internal_err!("extract's type is derived from its field (return_field_from_args)")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let inner = self.date_part.return_field_from_args(args)?;
        Ok(Arc::new(Field::new(self.name(), as_numeric(inner.data_type()), inner.is_nullable())))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let want = args.return_field.data_type().clone();
        let inner_field = Arc::new(Field::new("date_part", DataType::Null, true));
        let value = self.date_part.inner().invoke_with_args(ScalarFunctionArgs { return_field: inner_field, ..args })?;
        Ok(match value {
            ColumnarValue::Array(a) => ColumnarValue::Array(cast(&a, &want)?),
            ColumnarValue::Scalar(s) => ColumnarValue::Scalar(ScalarValue::try_from_array(&cast(&s.to_array()?, &want)?, 0)?),
        })
    }
}
