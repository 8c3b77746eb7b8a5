//! CSV data loads (the engine's `/api/cubes/{model}/{cube}/csv` and the designer's loads): a
//! header row naming cube columns, then one cell per row. Every row is checked against the
//! published cube exactly as writes are; a load with any rejected row loads nothing and reports
//! every rejected row (line and reason), so a file is never half-applied.

use serde::Serialize;
use serde_json::{Map, Value};
use crate::model::Cube;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejected {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub rows: usize,
    pub rejected: Vec<Rejected>,
}

/// Rows between two progress calls.
pub const PROGRESS_EVERY: usize = 100_000;

/// Parses and checks `text`; the cells to append when nothing was rejected.
pub fn check(cube: &Cube, text: &str) -> (Vec<Map<String, Value>>, Report) {
    check_with_progress(cube, text, &mut |_| {})
}

/// `check`, calling `progress` with the rows checked so far every PROGRESS_EVERY rows.
pub fn check_with_progress(cube: &Cube, text: &str, progress: &mut dyn FnMut(usize)) -> (Vec<Map<String, Value>>, Report) {
    let mut rejected = vec![];
    let mut cells = vec![];
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return (vec![], Report { rows: 0, rejected: vec![Rejected { line: 1, message: format!("unreadable header: {e}") }] }),
    };
    let known = |h: &str| cube.dimensions.iter().any(|d| d.name.eq_ignore_ascii_case(h)) || cube.measures.iter().any(|m| m.name.eq_ignore_ascii_case(h));
    let unknown: Vec<&String> = header.iter().filter(|h| !known(h) && cube.level_of(h).is_none()).collect();
    let levels: Vec<String> = header.iter().filter_map(|h| cube.level_of(h).map(|d| format!("{h:?} is a level of dimension {:?}, derived from its members", d.name))).collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        rejected.push(Rejected { line: 1, message: "the file is empty: the first line must name the cube's columns".into() });
    } else if !unknown.is_empty() {
        let columns: Vec<&str> = cube.dimensions.iter().map(|d| d.name.as_str()).chain(cube.measures.iter().map(|m| m.name.as_str())).collect();
        rejected.push(Rejected { line: 1, message: format!("unknown column(s) {unknown:?} in the header; cube {} has {}", cube.name, columns.join(", ")) });
    } else if !levels.is_empty() {
        rejected.push(Rejected { line: 1, message: format!("{}: write the dimension's members instead", levels.join("; ")) });
    }
    if !rejected.is_empty() {
        return (vec![], Report { rows: 0, rejected });
    }
    let mut rows = 0;
    for record in reader.records() {
        rows += 1;
        if rows % PROGRESS_EVERY == 0 {
            progress(rows);
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(rows as u64 + 1);
                rejected.push(Rejected { line, message: format!("{e}") });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(rows as u64 + 1);
        let mut cell = Map::new();
        for (h, field) in header.iter().zip(record.iter()) {
            // Fields are text, converted as PostgreSQL's COPY converts them (`cellvalue`): an
            // integer measure takes "3" but not "1.5".
            let v = if field.is_empty() {
                Value::Null
            } else {
                Value::String(field.into())
            };
            cell.insert(h.clone(), v);
        }
        match crate::cell::check(cube, &cell) {
            Ok(c) => cells.push(c),
            Err(e) => rejected.push(Rejected { line, message: e.to_string() }),
        }
    }
    if rows == 0 {
        rejected.push(Rejected { line: 2, message: "no data rows after the header".into() });
    }
    if !rejected.is_empty() {
        cells.clear();
    }
    (cells, Report { rows, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn cube() -> Cube {
        Model::from_json(serde_json::json!({"name": "s", "cubes": [{"name": "c",
            "dimensions": [{"name": "region", "members": ["north", "south"]}, {"name": "month"}],
            "measures": [{"name": "units", "type": "integer"}, {"name": "amount", "type": "decimal"}]}]}))
        .unwrap()
        .cubes
        .remove(0)
    }

    #[test]
    fn good_rows_become_cells() {
        let (cells, report) = check(&cube(), "region,month,units,amount\nnorth,2026-01,3,10.5\nsouth, 2026-02 ,,7\n");
        assert_eq!(report, Report { rows: 2, rejected: vec![] });
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[1]["month"], "2026-02");
        assert_eq!(cells[0]["units"], 3);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_nothing_is_kept() {
        let text = "region,month,units,amount\nnorth,2026-01,3,10.5\neast,2026-01,1,1\nsouth,,1,1\nnorth,2026-03,1.5,1\nsouth,2026-03,1,lots\nnorth,2026-04,1\n";
        let (cells, report) = check(&cube(), text);
        assert!(cells.is_empty(), "a load with rejected rows loads nothing");
        let lines: Vec<u64> = report.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{report:?}");
        assert!(report.rejected[0].message.contains("\"east\" is not a member of dimension \"region\""), "{report:?}");
        assert!(report.rejected[1].message.contains("\"month\""));
        assert!(report.rejected[2].message.contains("integer"));
        assert!(report.rejected[3].message.contains("invalid input syntax for type double precision: \"lots\""), "{report:?}");
    }

    #[test]
    fn a_bad_header_is_refused_before_any_row() {
        let (_, report) = check(&cube(), "region,colour\nnorth,red\n");
        assert_eq!(report.rejected.len(), 1);
        assert!(report.rejected[0].message.contains("unknown column(s) [\"colour\"]"), "{report:?}");
        assert_eq!(check(&cube(), "").1.rejected[0].line, 1);
        assert_eq!(check(&cube(), "region,month\n").1.rejected[0].message, "no data rows after the header");
    }
}
