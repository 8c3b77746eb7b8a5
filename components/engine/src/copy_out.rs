//! `COPY (query) TO STDOUT` and `COPY model.cube TO STDOUT`, in PostgreSQL's text, CSV (with
//! HEADER, DELIMITER, NULL, QUOTE, ESCAPE) or binary format: how psql's `\copy`, psycopg's
//! `cursor.copy()` and BI extract jobs read a result in bulk. COPY FROM is refused (cells are
//! written with INSERT or the CSV load, which check them against the model).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use futures::stream;
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions};
use pgwire::error::PgWireResult;
use pgwire::messages::copy::CopyData;

use crate::pgerror::user_error;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Text,
    Csv,
    Binary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub kind: Kind,
    pub header: bool,
    pub delimiter: Option<char>,
    pub null: Option<String>,
    pub quote: Option<char>,
    pub escape: Option<char>,
}

/// The options of a COPY statement, in either syntax; anything else is refused.
pub fn options(new: &[CopyOption], legacy: &[CopyLegacyOption]) -> PgWireResult<Options> {
    let mut o = Options::default();
    for opt in new {
        match opt {
            CopyOption::Format(f) => {
                o.kind = match f.value.to_lowercase().as_str() {
                    "text" => Kind::Text,
                    "csv" => Kind::Csv,
                    "binary" => Kind::Binary,
                    other => return Err(user_error("22023", format!("COPY format \"{other}\" not recognized"), None)),
                }
            }
            CopyOption::Header(h) => o.header = *h,
            CopyOption::Delimiter(c) => o.delimiter = Some(*c),
            CopyOption::Null(n) => o.null = Some(n.clone()),
            CopyOption::Quote(c) => o.quote = Some(*c),
            CopyOption::Escape(c) => o.escape = Some(*c),
            other => return Err(user_error("0A000", format!("COPY option {other} is not supported"), None)),
        }
    }
    for opt in legacy {
        match opt {
            CopyLegacyOption::Binary => o.kind = Kind::Binary,
            CopyLegacyOption::Delimiter(c) => o.delimiter = Some(*c),
            CopyLegacyOption::Null(n) => o.null = Some(n.clone()),
            CopyLegacyOption::Header => o.header = true,
            CopyLegacyOption::Csv(csv) => {
                o.kind = Kind::Csv;
                for c in csv {
                    match c {
                        CopyLegacyCsvOption::Header => o.header = true,
                        CopyLegacyCsvOption::Quote(q) => o.quote = Some(*q),
                        CopyLegacyCsvOption::Escape(e) => o.escape = Some(*e),
                        other => return Err(user_error("0A000", format!("COPY CSV option {other} is not supported"), None)),
                    }
                }
            }
            other => return Err(user_error("0A000", format!("COPY option {other} is not supported"), None)),
        }
    }
    if o.header && o.kind != Kind::Csv {
        return Err(user_error("0A000", "COPY HEADER available only in CSV mode", None));
    }
    Ok(o)
}

/// The COPY OUT answer for a result.
pub fn response(schema: &SchemaRef, batches: Vec<RecordBatch>, o: &Options, extra_float_digits: i32) -> PgWireResult<CopyResponse> {
    let format = if o.kind == Kind::Binary { Format::UnifiedBinary } else { Format::UnifiedText };
    let fields = Arc::new(crate::encode::fields(schema, &format));
    let new_encoder = || match o.kind {
        Kind::Binary => CopyEncoder::new_binary(fields.clone()),
        Kind::Text => {
            let d = CopyTextOptions::default();
            CopyEncoder::new_text(fields.clone(), CopyTextOptions { delimiter: o.delimiter.map(|c| c.to_string().into()).unwrap_or(d.delimiter), null_string: o.null.clone().map(Into::into).unwrap_or(d.null_string) })
        }
        Kind::Csv => {
            let d = CopyCsvOptions::default();
            let quote = o.quote.map(|c| c.to_string().into()).unwrap_or(d.quote);
            CopyEncoder::new_csv(
                fields.clone(),
                CopyCsvOptions { delimiter: o.delimiter.map(|c| c.to_string().into()).unwrap_or(d.delimiter), escape: o.escape.map(|c| c.to_string().into()).unwrap_or_else(|| quote.clone()), quote, null_string: o.null.clone().map(Into::into).unwrap_or(d.null_string), force_quote: vec![] },
            )
        }
    };
    let mut out: Vec<PgWireResult<CopyData>> = vec![];
    if o.header {
        let delimiter = o.delimiter.unwrap_or(',').to_string();
        let names: Vec<String> = fields.iter().map(|f| csv_quoted(f.name(), &delimiter)).collect();
        out.push(Ok(CopyData::new(format!("{}\n", names.join(&delimiter)).into())));
    }
    let mut encoder = new_encoder();
    for b in batches {
        let b = crate::encode::for_encoder(b, &fields, extra_float_digits)?;
        let schema = b.schema();
        for r in 0..b.num_rows() {
            for (i, (f, col)) in schema.fields().iter().zip(b.columns()).enumerate() {
                arrow_pg::encoder::encode_value(&mut encoder, col, r, f, &fields[i])?;
            }
            out.push(Ok(encoder.take_copy()));
        }
    }
    let format = if o.kind == Kind::Binary { 1 } else { 0 };
    Ok(CopyResponse::new(format, fields.len(), stream::iter(out)))
}

/// A CSV header field, quoted when it must be.
fn csv_quoted(name: &str, delimiter: &str) -> String {
    if name.contains(delimiter) || name.contains('"') || name.contains('\n') {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}
