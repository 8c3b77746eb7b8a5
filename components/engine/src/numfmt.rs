//! `to_char(number, pattern)` as PostgreSQL formats numbers: digit positions `9` (blank when
//! a leading zero) and `0` (zero-padded from the leftmost `0`), the decimal point `.`/`D`, the
//! group separator `,`/`G`, and the `FM` prefix (no padding, no trailing zeros in `9`
//! places). A value too wide for the pattern is all `#`. Without `FM` one place is kept for
//! the sign, written just before the first digit. Every other pattern element is refused.
//! Checked against PostgreSQL 15's answers (the table in the tests).

/// A number as decimal digits: sign, integer digits (no leading zeros, "" for 0) and the
/// fraction digits already rounded to the pattern's places.
#[derive(Debug, PartialEq)]
pub struct Digits {
    pub negative: bool,
    pub int: String,
    pub frac: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Nine,
    Zero,
    Point,
    Group,
}

/// A parsed pattern.
#[derive(Debug)]
pub struct Pattern {
    fill: bool,
    tokens: Vec<Token>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let (fill, rest) = match text.strip_prefix("FM").or_else(|| text.strip_prefix("fm")) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut tokens = vec![];
        for c in rest.chars() {
            tokens.push(match c {
                '9' => Token::Nine,
                '0' => Token::Zero,
                '.' | 'D' | 'd' => Token::Point,
                ',' | 'G' | 'g' => Token::Group,
                other => return Err(format!("to_char of a number: pattern element {other:?} in {text:?} is not supported (supported: FM, 9, 0, ., D, ',', G)")),
            });
        }
        if tokens.iter().filter(|t| **t == Token::Point).count() > 1 {
            return Err(format!("to_char of a number: multiple decimal points in {text:?}"));
        }
        Ok(Pattern { fill, tokens })
    }

    /// Digit places after the decimal point.
    pub fn fraction_places(&self) -> usize {
        self.tokens.iter().skip_while(|t| **t != Token::Point).filter(|t| matches!(t, Token::Nine | Token::Zero)).count()
    }

    fn has_point(&self) -> bool {
        self.tokens.contains(&Token::Point)
    }

    /// `d` formatted; `d.frac` has exactly `fraction_places()` digits.
    pub fn format(&self, d: &Digits) -> String {
        let point = self.tokens.iter().position(|t| *t == Token::Point).unwrap_or(self.tokens.len());
        let (int_tokens, frac_tokens) = self.tokens.split_at(point);
        let frac_tokens: Vec<Token> = frac_tokens.iter().copied().filter(|t| matches!(t, Token::Nine | Token::Zero)).collect();
        let places = int_tokens.iter().filter(|t| matches!(t, Token::Nine | Token::Zero)).count();
        let mut int = if d.int.is_empty() && !self.has_point() { "0".to_string() } else { d.int.clone() };
        let mut frac = d.frac.clone();
        if self.fill {
            // Trailing zeros in `9` places go; those in `0` places stay.
            while frac.ends_with('0') && frac_tokens.get(frac.len() - 1) == Some(&Token::Nine) {
                frac.pop();
            }
            if int.is_empty() && frac.is_empty() {
                int = "0".into();
            }
        }
        let sign = if d.negative { "-" } else if self.fill { "" } else { " " };
        if int.len() > places {
            let hashes: String = int_tokens.iter().map(|t| if *t == Token::Group { ',' } else { '#' }).collect();
            let point = if self.has_point() { "." } else { "" };
            return format!("{sign}{hashes}{point}{}", "#".repeat(frac_tokens.len()));
        }
        let zero_from = int_tokens.iter().filter(|t| matches!(t, Token::Nine | Token::Zero)).position(|t| *t == Token::Zero).unwrap_or(places);
        let start = zero_from.min(places - int.len());
        let padded = format!("{}{int}", "0".repeat(places - start - int.len()));
        let mut digits = padded.chars();
        let (mut out, mut place, mut signed) = (String::new(), 0, false);
        let blank = if self.fill { "" } else { " " };
        for t in int_tokens {
            let printing = place >= start;
            if printing && !signed {
                out.push_str(sign);
                signed = true;
            }
            match t {
                Token::Group if printing && place > start => out.push(','),
                Token::Group => out.push_str(blank),
                _ if printing => out.push(digits.next().expect("a digit for each printed place")),
                _ => out.push_str(blank),
            }
            if matches!(t, Token::Nine | Token::Zero) {
                place += 1;
            }
        }
        if !signed {
            out.push_str(sign);
        }
        if self.has_point() {
            out.push('.');
        }
        out + &frac
    }
}

/// The digits of a decimal `value` × 10^-`scale`, rounded half away from zero to `places`.
pub fn decimal_digits(value: i128, scale: u32, places: usize) -> Digits {
    let (negative, mut v) = (value < 0, value.unsigned_abs());
    let places = places as u32;
    if places < scale {
        let unit = 10u128.pow(scale - places);
        v = v / unit + u128::from(v % unit * 2 >= unit);
    } else {
        v *= 10u128.pow(places - scale);
    }
    split(negative && v != 0, v.to_string(), places as usize)
}

/// The digits of a float rounded to `places` as C's printf rounds (PostgreSQL formats float8
/// so), keeping at most 15 significant digits as PostgreSQL does.
pub fn float_digits(value: f64, places: usize) -> Digits {
    let whole = format!("{:.0}", value.abs()).len();
    let places_kept = if whole >= 15 { 0 } else { places.min(15 - whole) };
    let text = format!("{:.*}", places_kept, value.abs());
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect::<String>() + &"0".repeat(places - places_kept);
    let negative = value.is_sign_negative() && digits.chars().any(|c| c != '0');
    split(negative, digits, places)
}

/// Splits the digits of a number with `places` fraction digits.
fn split(negative: bool, digits: String, places: usize) -> Digits {
    let digits = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = digits.split_at(digits.len() - places);
    Digits { negative, int: int.trim_start_matches('0').to_string(), frac: frac.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 15's answers: (value, pattern, to_char(value::numeric), to_char(value::float8)).
    const POSTGRES: &[(&str, &str, &str, &str)] = &[
        ("-1234567.891", "0999", "-####", "-####"),
        ("-5", "0999", "-0005", "-0005"),
        ("0", "0999", " 0000", " 0000"),
        ("0.5", "0999", " 0001", " 0000"),
        ("5.5", "0999", " 0006", " 0006"),
        ("2499.875", "0999", " 2500", " 2500"),
        ("99999", "0999", " ####", " ####"),
        ("-5", "9.99", "-5.00", "-5.00"),
        ("0", "9.99", "  .00", "  .00"),
        ("0.004", "9.99", "  .00", "  .00"),
        ("0.5", "9.99", "  .50", "  .50"),
        ("5", "9.99", " 5.00", " 5.00"),
        ("2499.875", "9.99", " #.##", " #.##"),
        ("-5", "99", " -5", " -5"),
        ("0", "99", "  0", "  0"),
        ("0.5", "99", "  1", "  0"),
        ("-1234567.891", "99", "-##", "-##"),
        ("-5", "FM0999", "-0005", "-0005"),
        ("0", "FM0999", "0000", "0000"),
        ("-5", "FM9.99", "-5.", "-5."),
        ("0", "FM9.99", "0.", "0."),
        ("0.004", "FM9.99", "0.", "0."),
        ("0.5", "FM9.99", ".5", ".5"),
        ("5.5", "FM9.99", "5.5", "5.5"),
        ("0", "FM999", "0", "0"),
        ("0.5", "FM999", "1", "0"),
        ("-1234567.891", "FM99990.00", "-#####.##", "-#####.##"),
        ("0", "FM99990.00", "0.00", "0.00"),
        ("0.5", "FM99990.00", "0.50", "0.50"),
        ("2499.875", "FM99990.00", "2499.88", "2499.88"),
        ("99999", "FM99990.00", "99999.00", "99999.00"),
        ("-1234567.891", "FM999G999G999", "-1,234,568", "-1,234,568"),
        ("2499.875", "FM999G999G999", "2,500", "2,500"),
        ("123456789012", "FM999G999G999", "###,###,###", "###,###,###"),
        ("123456789012", "FM999999999990", "123456789012", "123456789012"),
        ("0.5", "FM9G999D99", ".5", ".5"),
        ("2499.875", "FM9G999D99", "2,499.88", "2,499.88"),
        ("-5", "999,999", "      -5", "      -5"),
        ("0", "999,999", "       0", "       0"),
        ("2499.875", "999,999", "   2,500", "   2,500"),
        ("1234567", "999,999", " ###,###", " ###,###"),
        ("-5", "99990.00", "    -5.00", "    -5.00"),
        ("0.5", "99990.00", "     0.50", "     0.50"),
        ("2499.875", "99990.00", "  2499.88", "  2499.88"),
        ("0", "9G999D99", "      .00", "      .00"),
        ("-5", "9G999D99", "    -5.00", "    -5.00"),
        ("2499.875", "9G999D99", " 2,499.88", " 2,499.88"),
        ("-1234567.891", "9G999D99", "-#,###.##", "-#,###.##"),
    ];

    #[test]
    fn numbers_format_as_postgresql_formats_them() {
        for (value, pattern, numeric, float) in POSTGRES {
            let p = Pattern::parse(pattern).unwrap();
            let (int, frac) = value.split_once('.').unwrap_or((value, ""));
            let scale = frac.len() as u32;
            let v: i128 = format!("{int}{frac}").parse().unwrap();
            assert_eq!(p.format(&decimal_digits(v, scale, p.fraction_places())), *numeric, "{value}::numeric with {pattern}");
            assert_eq!(p.format(&float_digits(value.parse().unwrap(), p.fraction_places())), *float, "{value}::float8 with {pattern}");
        }
    }

    #[test]
    fn other_pattern_elements_are_refused() {
        assert!(Pattern::parse("S999").unwrap_err().contains("'S'"));
        assert!(Pattern::parse("9.9.9").unwrap_err().contains("multiple decimal points"));
    }
}
