//! Query results on the wire, typed as PostgreSQL types them: the datafusion-postgres
//! project's Arrow-to-PostgreSQL encoder (`arrow-pg`) maps each Arrow type to its PostgreSQL
//! type (int2/4/8, numeric with its scale, float4/8, bool, date, timestamp[tz], interval,
//! text, arrays) and encodes rows in text or binary, per column as the client asked. Rows are
//! encoded batch by batch as the client reads them, not all at once.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float32Array, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use futures::{Stream, StreamExt, stream};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

use crate::colnames::output_name;
use crate::pgerror::user_error;

/// The type a column is sent as: dictionary columns (the cubes' dimensions) as their values.
fn sent_as(t: &DataType) -> DataType {
    match t {
        DataType::Dictionary(_, values) => sent_as(values),
        // PostgreSQL has no unsigned types: counts (`row_number()`, `rank()`) are bigint.
        DataType::UInt64 | DataType::UInt32 => DataType::Int64,
        // A bare NULL is text, as PostgreSQL resolves an unknown-typed output column.
        DataType::Null => DataType::Utf8,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt8 => DataType::Int16,
        other => other.clone(),
    }
}

/// The PostgreSQL type of a result column of Arrow type `t`.
pub fn pg_type(t: &DataType) -> Type {
    arrow_pg::datatypes::into_pg_type(&sent_as(t)).unwrap_or(Type::TEXT)
}

/// The result's columns: PostgreSQL's names and types, in the formats the client asked for.
pub fn fields(schema: &SchemaRef, format: &Format) -> Vec<FieldInfo> {
    schema.fields().iter().enumerate().map(|(i, f)| FieldInfo::new(output_name(f.name()).to_string(), None, None, pg_type(f.data_type()), format.format_for(i))).collect()
}

/// A batch with its dictionary columns unpacked and unsigned columns signed, as the encoder
/// takes it.
fn unpack(b: RecordBatch) -> PgWireResult<RecordBatch> {
    let schema = b.schema();
    if schema.fields().iter().all(|f| sent_as(f.data_type()) == *f.data_type()) {
        return Ok(b);
    }
    let columns: Vec<ArrayRef> = schema.fields().iter().zip(b.columns()).map(|(f, c)| if sent_as(f.data_type()) == *f.data_type() { Ok(c.clone()) } else { cast(c, &sent_as(f.data_type())) }).collect::<Result<_, _>>().map_err(|e| user_error("XX000", e.to_string(), None))?;
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(sent_as(f.data_type()))).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| user_error("XX000", e.to_string(), None))
}

/// A batch as the encoder takes it for `fields`: dictionaries unpacked, text floats formatted.
pub fn for_encoder(b: RecordBatch, fields: &[FieldInfo], extra_float_digits: i32) -> PgWireResult<RecordBatch> {
    floats_as_text(unpack(b)?, fields, extra_float_digits)
}

/// Float columns sent as text, formatted here: the encoder's formatting differs from
/// PostgreSQL's (`12.0` for 12, `1e20` for 1e+20, `inf` for Infinity). The column keeps its
/// float type in the row description; binary columns are left to the encoder (exact bits).
fn floats_as_text(b: RecordBatch, fields: &[FieldInfo], extra_float_digits: i32) -> PgWireResult<RecordBatch> {
    let schema = b.schema();
    let text = |i: usize| fields.get(i).is_some_and(|f| f.format() == FieldFormat::Text);
    if !schema.fields().iter().enumerate().any(|(i, f)| matches!(f.data_type(), DataType::Float32 | DataType::Float64) && text(i)) {
        return Ok(b);
    }
    let mut columns = vec![];
    let mut new_fields = vec![];
    for (i, (f, c)) in schema.fields().iter().zip(b.columns()).enumerate() {
        let floats = match f.data_type() {
            DataType::Float64 if text(i) => c.as_any().downcast_ref::<Float64Array>().map(|a| a.iter().map(|v| v.map(|x| pg_float(x, extra_float_digits, 15))).collect::<StringArray>()),
            DataType::Float32 if text(i) => c.as_any().downcast_ref::<Float32Array>().map(|a| a.iter().map(|v| v.map(|x| pg_float(x as f64, extra_float_digits, 6))).collect::<StringArray>()),
            _ => None,
        };
        match floats {
            Some(a) => {
                columns.push(Arc::new(a) as ArrayRef);
                new_fields.push(f.as_ref().clone().with_data_type(DataType::Utf8));
            }
            None => {
                columns.push(c.clone());
                new_fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(new_fields)), columns).map_err(|e| user_error("XX000", e.to_string(), None))
}

/// A float as PostgreSQL's float8out/float4out writes it: with `extra_float_digits` ≥ 1 the
/// shortest text that reads back exactly, else `digits + extra_float_digits` significant
/// digits; exponent form below 1e-4 and from 10^digits on (`1e+20`, `1.5e-05`).
pub fn pg_float(v: f64, extra_float_digits: i32, digits: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let scientific = if extra_float_digits >= 1 { format!("{v:e}") } else { format!("{:.*e}", (digits + extra_float_digits).max(1) as usize - 1, v) };
    let (mantissa, exponent) = scientific.split_once('e').expect("Rust's {:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("a decimal exponent");
    let mantissa = if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
    if exponent < -4 || exponent >= digits {
        return format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs());
    }
    // Fixed notation of the same digits.
    let negative = mantissa.starts_with('-');
    let digits_only: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exponent + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits_only}", "0".repeat((-point) as usize))
    } else if (point as usize) >= digits_only.len() {
        format!("{digits_only}{}", "0".repeat(point as usize - digits_only.len()))
    } else {
        format!("{}.{}", &digits_only[..point as usize], &digits_only[point as usize..])
    };
    if negative { format!("-{body}") } else { body }
}

/// The rows of `batches`, encoded for `fields`; floats sent as text are written as
/// PostgreSQL writes them for `extra_float_digits`.
pub fn rows(fields: Arc<Vec<FieldInfo>>, batches: Vec<RecordBatch>, extra_float_digits: i32) -> impl Stream<Item = PgWireResult<DataRow>> + Send {
    stream::iter(batches).flat_map(move |b| {
        let encoded: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> = match for_encoder(b, &fields, extra_float_digits) {
            Ok(b) => arrow_pg::datatypes::encode_recordbatch(fields.clone(), b),
            Err(e) => Box::new(std::iter::once(Err(e))),
        };
        stream::iter(encoded)
    })
}

#[cfg(test)]
mod tests {
    use super::pg_float;

    #[test]
    fn floats_read_as_postgresql_writes_them() {
        // (value, extra_float_digits, PostgreSQL 15's float8 output)
        let table: [(f64, i32, &str); 14] = [
            (12.0, 1, "12"),
            (-0.5, 1, "-0.5"),
            (0.1 + 0.2, 1, "0.30000000000000004"),
            (1e20, 1, "1e+20"),
            (1.5e-5, 1, "1.5e-05"),
            (0.0001, 1, "0.0001"),
            (123456789012345.0, 1, "123456789012345"),
            (1234567890123456.0, 1, "1.234567890123456e+15"),
            (248.36714051394205, 1, "248.36714051394205"),
            (0.1 + 0.2, 0, "0.3"),
            (2.0 / 3.0, 0, "0.666666666666667"),
            (f64::INFINITY, 1, "Infinity"),
            (f64::NAN, 1, "NaN"),
            (-0.0, 1, "-0"),
        ];
        for (v, efd, want) in table {
            assert_eq!(pg_float(v, efd, 15), want, "{v} with extra_float_digits {efd}");
        }
    }
}
