//! Reading a `/metrics` answer back, strictly: tests of the daemons check that their text is
//! well-formed Prometheus exposition (format 0.0.4) and then look values up by sample.

use std::collections::{BTreeMap, HashSet};

/// The samples of `text` by their full name with labels as written (`name{label="v"}`), after
/// checking that every sample belongs to a metric declared with `# TYPE` (and `# HELP`) before
/// it, that every value is a number and that no sample appears twice.
pub fn parse(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let (mut typed, mut helped) = (HashSet::new(), HashSet::new());
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some("counter" | "gauge" | "histogram" | "summary" | "untyped")) => typed.insert(name.to_string()),
                (Some("HELP"), Some(name), _) => helped.insert(name.to_string()),
                _ => return Err(format!("unknown comment line {line:?}")),
            };
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| format!("no value in {line:?}"))?;
        let name = series.split('{').next().unwrap_or(series);
        if !typed.contains(name) || !helped.contains(name) {
            return Err(format!("sample {series:?} before its # TYPE and # HELP lines"));
        }
        let value: f64 = value.parse().map_err(|_| format!("value of {series:?} is not a number: {value:?}"))?;
        if samples.insert(series.to_string(), value).is_some() {
            return Err(format!("sample {series:?} appears twice"));
        }
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_exposition_and_rejects_what_prometheus_would_not_read() {
        let ok = "# HELP a_up Up.\n# TYPE a_up gauge\na_up 1\n# HELP a_cells Cells.\n# TYPE a_cells gauge\na_cells{cube=\"m.c\"} 2.5\n";
        let m = parse(ok).unwrap();
        assert_eq!((m["a_up"], m["a_cells{cube=\"m.c\"}"]), (1.0, 2.5));
        assert!(parse("a_up 1\n").unwrap_err().contains("before its # TYPE"));
        assert!(parse("# HELP a_up Up.\n# TYPE a_up gauge\na_up one\n").unwrap_err().contains("not a number"));
        assert!(parse("# HELP a_up Up.\n# TYPE a_up gauge\na_up 1\na_up 2\n").unwrap_err().contains("twice"));
    }
}
