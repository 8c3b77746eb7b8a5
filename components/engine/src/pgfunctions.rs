//! PostgreSQL functions BI tools and drivers call that DataFusion lacks or answers otherwise:
//! `to_char(timestamp, pattern)` and `to_date(text, pattern)` with PostgreSQL's patterns
//! (DataFusion's take chrono's `%Y` syntax and returned Looker's `'Mon YYYY'` unchanged), and
//! the catalog functions of psql's `\df \dT \d+`, pgJDBC and SQLAlchemy, answered as
//! PostgreSQL answers them for cubes (no sequences, no indexes, no comments).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, Date32Array, StringArray, TimestampNanosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility};
use datafusion::prelude::{SessionContext, create_udf};

pub fn register(ctx: &SessionContext) {
    // to_char is registered by pgnumeric (numbers and times), calling `to_char` below for times.
    replace(ctx, create_udf("to_date", vec![DataType::Utf8, DataType::Utf8], DataType::Date32, Volatility::Immutable, Arc::new(to_date)));
    // What PostgreSQL answers for the cubes, whatever the arguments (of these counts): no
    // sequences, no comments; every function, type and collation visible. (Indexes: cube_keys.)
    for (name, arities, value) in [
        ("pg_get_serial_sequence", &[2][..], ScalarValue::Utf8(None)),
        ("col_description", &[2], ScalarValue::Utf8(None)),
        ("obj_description", &[1, 2], ScalarValue::Utf8(None)),
        ("shobj_description", &[2], ScalarValue::Utf8(None)),
        ("pg_get_function_identity_arguments", &[1], ScalarValue::Utf8(Some(String::new()))),
        ("pg_function_is_visible", &[1], ScalarValue::Boolean(Some(true))),
        ("pg_type_is_visible", &[1], ScalarValue::Boolean(Some(true))),
        ("pg_collation_is_visible", &[1], ScalarValue::Boolean(Some(true))),
    ] {
        replace(ctx, ScalarUDF::new_from_impl(Constant { name, signature: Signature::one_of(arities.iter().map(|n| TypeSignature::Any(*n)).collect(), Volatility::Stable), value }));
    }
}

/// Registers `udf` in place of a function of the same name, and of that function's aliases:
/// an alias left behind (DataFusion's `to_char` is also `date_format`) keeps the old function
/// in the registry, and a session copied from it may then register either under the name,
/// at random (Triad's `to_char` answered some queries and DataFusion's others).
pub fn replace(ctx: &SessionContext, udf: ScalarUDF) {
    ctx.deregister_udf(udf.name());
    ctx.register_udf(udf);
}

/// A catalog function whose answer does not depend on its arguments (for cubes).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

fn arrays(args: &[ColumnarValue]) -> Result<(Vec<ArrayRef>, bool)> {
    let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let n = args.iter().find_map(|a| if let ColumnarValue::Array(a) = a { Some(a.len()) } else { None }).unwrap_or(1);
    Ok((args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?, scalar))
}

fn answer(out: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    Ok(if scalar { ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { ColumnarValue::Array(out) })
}

pub(crate) fn to_char(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (a, scalar) = arrays(args)?;
    let times = cast(&a[0], &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let times = times.as_any().downcast_ref::<TimestampNanosecondArray>().expect("cast to timestamps");
    let patterns = cast(&a[1], &DataType::Utf8)?;
    let patterns = patterns.as_any().downcast_ref::<StringArray>().expect("cast to text");
    let out: StringArray = (0..times.len()).map(|i| (times.is_valid(i) && patterns.is_valid(i)).then(|| format_time(&times.value_as_datetime(i).expect("a valid timestamp"), patterns.value(i)))).collect();
    answer(Arc::new(out), scalar)
}

fn to_date(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (a, scalar) = arrays(args)?;
    let (texts, patterns) = (cast(&a[0], &DataType::Utf8)?, cast(&a[1], &DataType::Utf8)?);
    let (texts, patterns) = (texts.as_any().downcast_ref::<StringArray>().expect("text"), patterns.as_any().downcast_ref::<StringArray>().expect("text"));
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    let mut out = vec![];
    for i in 0..texts.len() {
        out.push(if texts.is_valid(i) && patterns.is_valid(i) {
            let d = parse_date(texts.value(i), patterns.value(i)).map_err(DataFusionError::Execution)?;
            Some((d - epoch).num_days() as i32)
        } else {
            None
        });
    }
    answer(Arc::new(Date32Array::from(out)), scalar)
}

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The template patterns of PostgreSQL's to_char for dates and times, longest first.
const TOKENS: [&str; 28] = ["YYYY", "HH24", "HH12", "MONTH", "Month", "month", "DAY", "Day", "day", "MON", "Mon", "mon", "DY", "Dy", "dy", "YY", "MM", "DD", "HH", "MI", "SS", "MS", "AM", "PM", "IW", "DDD", "Q", "D"];

/// `t` written by a PostgreSQL to_char pattern (`FM` suppresses the next pattern's padding;
/// `"text"` is literal).
pub fn format_time(t: &NaiveDateTime, pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    let mut fill = true;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("FM") {
            fill = false;
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            out.push_str(&r[..end]);
            rest = r.get(end + 1..).unwrap_or("");
            continue;
        }
        let token = TOKENS.iter().filter(|k| rest.starts_with(**k)).max_by_key(|k| k.len());
        let Some(token) = token else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let num = |v: u32, width: usize| if fill { format!("{v:0width$}") } else { v.to_string() };
        let word = |w: &str, upper: bool, lower: bool, width: usize| {
            let w = if upper { w.to_uppercase() } else if lower { w.to_lowercase() } else { w.to_string() };
            if fill { format!("{w:<width$}") } else { w }
        };
        let month = MONTHS[t.month0() as usize];
        let day = DAYS[t.weekday().num_days_from_sunday() as usize];
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        out.push_str(&match *token {
            "YYYY" => num(t.year() as u32, 4),
            "YY" => num((t.year() % 100) as u32, 2),
            "MM" => num(t.month(), 2),
            "DD" => num(t.day(), 2),
            "DDD" => num(t.ordinal(), 3),
            "D" => (t.weekday().num_days_from_sunday() + 1).to_string(),
            "Q" => ((t.month0() / 3) + 1).to_string(),
            "IW" => num(t.iso_week().week(), 2),
            "HH24" => num(t.hour(), 2),
            "HH12" | "HH" => num(hour12, 2),
            "MI" => num(t.minute(), 2),
            "SS" => num(t.second(), 2),
            "MS" => num(t.nanosecond() / 1_000_000, 3),
            "AM" | "PM" => if t.hour() < 12 { "AM".into() } else { "PM".into() },
            "MONTH" => word(month, true, false, 9),
            "Month" => word(month, false, false, 9),
            "month" => word(month, false, true, 9),
            "MON" => month[..3].to_uppercase(),
            "Mon" => month[..3].to_string(),
            "mon" => month[..3].to_lowercase(),
            "DAY" => word(day, true, false, 9),
            "Day" => word(day, false, false, 9),
            "day" => word(day, false, true, 9),
            "DY" => day[..3].to_uppercase(),
            "Dy" => day[..3].to_string(),
            _ => day[..3].to_lowercase(),
        });
        rest = &rest[token.len()..];
        fill = true; // FM modifies the one pattern after it
    }
    out
}

/// A date read by a PostgreSQL to_date pattern; fields the pattern lacks are 1 (as there).
pub fn parse_date(text: &str, pattern: &str) -> Result<NaiveDate, String> {
    let (mut year, mut month, mut day) = (1i32, 1u32, 1u32);
    let mut input = text.trim_start();
    let mut rest = pattern;
    let bad = || format!("invalid value {text:?} for to_date pattern {pattern:?}");
    while !rest.is_empty() {
        rest = rest.strip_prefix("FM").unwrap_or(rest);
        let digits = |input: &mut &str, max: usize| -> Result<u32, String> {
            let n = input.chars().take(max).take_while(|c| c.is_ascii_digit()).count();
            let v = input[..n].parse().map_err(|_| bad())?;
            *input = &input[n..];
            Ok(v)
        };
        if let Some(r) = rest.strip_prefix("YYYY") {
            year = digits(&mut input, 4)? as i32;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("YY") {
            year = 2000 + digits(&mut input, 2)? as i32;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("MM") {
            month = digits(&mut input, 2)?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("DD") {
            day = digits(&mut input, 2)?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("Mon").or_else(|| rest.strip_prefix("MON")).or_else(|| rest.strip_prefix("mon")) {
            let m = MONTHS.iter().position(|m| input.len() >= 3 && m[..3].eq_ignore_ascii_case(&input[..3])).ok_or_else(bad)?;
            month = m as u32 + 1;
            input = &input[3..];
            rest = r;
        } else {
            let c = rest.chars().next().expect("not empty");
            rest = &rest[c.len_utf8()..];
            // A separator in the pattern matches any one non-alphanumeric character.
            if let Some(i) = input.chars().next().filter(|i| !i.is_alphanumeric()) {
                input = &input[i.len_utf8()..];
            }
        }
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| format!("date out of range: {text:?} for to_date pattern {pattern:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_postgresqls() {
        let t = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap().and_hms_opt(14, 5, 9).unwrap();
        for (pattern, want) in [
            ("Mon YYYY", "Mar 2025"),
            ("YYYY-MM", "2025-03"),
            ("YYYY-\"Q\"Q", "2025-Q1"),
            ("Month", "March    "),
            ("FMMonth DD, YYYY", "March 01, 2025"),
            ("FMDD", "1"),
            ("HH24:MI:SS", "14:05:09"),
            ("HH12 AM", "02 PM"),
            ("Dy DD Mon", "Sat 01 Mar"),
            ("YYYY\"W\"IW", "2025W09"),
        ] {
            assert_eq!(format_time(&t, pattern), want, "{pattern}");
        }
        assert_eq!(parse_date("2026-03", "YYYY-MM"), Ok(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()));
        assert_eq!(parse_date("05 Mar 2026", "DD Mon YYYY"), Ok(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap()));
        assert!(parse_date("2026-13", "YYYY-MM").unwrap_err().contains("out of range"));
    }
}
