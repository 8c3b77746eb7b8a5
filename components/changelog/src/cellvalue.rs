//! The canonical form of a value written to a cell: the one conversion every write path uses
//! (SQL literals and bound parameters, UPDATE results, HTTP rows, CSV fields) when a write is
//! checked before its commit, and again when any engine applies it from the change log. The
//! canonical form of a canonical value is itself, so what was acknowledged always applies.
//!
//! Conversions follow PostgreSQL's assignment casts: a number with a fraction written to an
//! integer measure is rounded half away from zero (as `numeric` to `bigint`), text must spell a
//! whole number (`'5'` yes, `'5.5'` no, as `bigint`'s input function); decimal and float
//! measures take any finite number or numeric text. Integer measures are held as 64-bit floats,
//! so whole numbers beyond ±2^53 are refused rather than silently changed.

use serde_json::Value;

use crate::model::MeasureType;

/// The largest whole number an integer measure holds exactly.
pub const MAX_EXACT_INTEGER: i64 = 1 << 53;

/// A measure's value in canonical form (`Value::Null` stays NULL), or why it cannot be stored.
pub fn measure(kind: MeasureType, value: &Value) -> Result<Value, String> {
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (MeasureType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => exact(i),
            None => {
                let f = n.as_f64().ok_or_else(|| format!("{n} is not a number"))?;
                exact_f64(f.round(), &n.to_string())
            }
        },
        (MeasureType::Integer, Value::String(s)) => {
            let t = s.trim();
            let i: i64 = t.parse().map_err(|_| format!("invalid input syntax for type bigint: {s:?} (an integer measure takes whole numbers)"))?;
            exact(i)
        }
        (_, Value::Number(n)) => finite(n.as_f64().ok_or_else(|| format!("{n} is not a number"))?, &n.to_string()),
        (_, Value::String(s)) => {
            let f: f64 = s.trim().parse().map_err(|_| format!("invalid input syntax for type double precision: {s:?}"))?;
            finite(f, s)
        }
        (_, other) => Err(format!("{other} is not a number")),
    }
}

/// A dimension member's name from a written value (numbers and booleans as PostgreSQL prints
/// them as text); `None` for NULL or a missing value.
pub fn member(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!("{other} is not a member name")),
    }
}

fn exact(i: i64) -> Result<Value, String> {
    if i.abs() > MAX_EXACT_INTEGER {
        return Err(format!("{i} is out of the range an integer measure holds exactly (±{MAX_EXACT_INTEGER})"));
    }
    Ok(Value::from(i))
}

fn exact_f64(f: f64, shown: &str) -> Result<Value, String> {
    if !f.is_finite() || f.abs() > MAX_EXACT_INTEGER as f64 {
        return Err(format!("{shown} is out of the range an integer measure holds exactly (±{MAX_EXACT_INTEGER})"));
    }
    exact(f as i64)
}

fn finite(f: f64, shown: &str) -> Result<Value, String> {
    serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("{shown}: NaN and infinity cannot be stored in a cell"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use MeasureType::{Decimal, Integer};
    use serde_json::json;

    #[test]
    fn values_become_canonical_as_postgresql_assigns_them() {
        let ok = |k, v: Value| measure(k, &v).unwrap();
        let err = |k, v: Value| measure(k, &v).unwrap_err();
        let table: [(MeasureType, Value, Value); 12] = [
            (Integer, json!(5), json!(5)),
            (Integer, json!("5"), json!(5)),
            (Integer, json!(" -7 "), json!(-7)),
            (Integer, json!(5.0), json!(5)),
            (Integer, json!(999.99), json!(1000)),
            (Integer, json!(2.5), json!(3)),
            (Integer, json!(-2.5), json!(-3)),
            (Decimal, json!("12.25"), json!(12.25)),
            (Decimal, json!(3), json!(3.0)),
            (Decimal, json!("1e3"), json!(1000.0)),
            (Decimal, Value::Null, Value::Null),
            (Integer, json!(MAX_EXACT_INTEGER), json!(MAX_EXACT_INTEGER)),
        ];
        for (kind, input, want) in table {
            assert_eq!(ok(kind, input.clone()), want, "{kind:?} {input}");
        }
        assert!(err(Integer, json!("5.5")).contains("invalid input syntax for type bigint"));
        assert!(err(Integer, json!("five")).contains("bigint"));
        assert!(err(Integer, json!(MAX_EXACT_INTEGER + 1)).contains("out of the range"));
        assert!(err(Integer, json!(1e300)).contains("out of the range"));
        assert!(err(Decimal, json!("NaN")).contains("NaN and infinity"));
        assert!(err(Decimal, json!("Infinity")).contains("NaN and infinity"));
        assert!(err(Decimal, json!(true)).contains("not a number"));
        assert_eq!(member(Some(&json!(2026))).unwrap().as_deref(), Some("2026"));
        assert_eq!(member(Some(&Value::Null)).unwrap(), None);
    }

    /// What was acknowledged applies: converting a canonical value again gives it back, for
    /// values drawn at random in every representation clients send (seed printed).
    #[test]
    fn canonical_values_are_fixed_points() {
        use rand::{Rng, SeedableRng};
        let seed: u64 = std::env::var("TRIAD_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
        println!("canonical_values_are_fixed_points seed={seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..20_000 {
            let x: f64 = match rng.random_range(0..4) {
                0 => rng.random_range(-1e6..1e6),
                1 => rng.random_range(-1e18..1e18),
                2 => rng.random_range(-100i64..100) as f64 / 4.0,
                _ => rng.random_range(-(MAX_EXACT_INTEGER + 10)..MAX_EXACT_INTEGER + 10) as f64,
            };
            let inputs = [json!(x), json!(x.to_string()), json!(format!(" {x} ")), json!(x.round() as i64), json!((x.round() as i64).to_string())];
            for kind in [Integer, Decimal, MeasureType::Float] {
                for input in &inputs {
                    if let Ok(c) = measure(kind, input) {
                        assert_eq!(measure(kind, &c), Ok(c.clone()), "seed={seed} {kind:?} {input} -> {c}");
                        let through_log: Value = serde_json::from_str(&c.to_string()).unwrap();
                        assert_eq!(measure(kind, &through_log), Ok(c.clone()), "seed={seed}: the log's JSON text of {c} applies");
                    }
                }
            }
        }
    }
}
