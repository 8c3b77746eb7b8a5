//! The cube model: what the designer publishes and every engine holds in memory.
//!
//! ```json
//! {"name": "sales", "cubes": [{"name": "revenue", "local_only": false,
//!   "dimensions": [{"name": "region"}, {"name": "month", "members": ["2026-01", "2026-02"]}],
//!   "measures": [{"name": "amount", "type": "decimal", "aggregation": "sum"}]}]}
//! ```
//! A dimension with `members` accepts only those; without, it is open (members are added by
//! writes). Measure types: `integer` (64-bit), `decimal` and `float` (64-bit floating point).
//!
//! A dimension may have a hierarchy: `levels`, each mapping the members of the level below
//! (the dimension's own members for the first) to their parent:
//! ```json
//! {"name": "month", "levels": [
//!   {"name": "quarter", "parents": {"2026-01": "2026-Q1", "2026-04": "2026-Q2"}},
//!   {"name": "year", "parents": {"2026-Q1": "2026", "2026-Q2": "2026"}}]}
//! ```
//! Cells are written at the dimension's members (the leaves); levels are read-only columns
//! derived from them, so `GROUP BY quarter` rolls months up. Every member written must have a
//! parent at every level.
//!
//! SQL sees each cube as the table `<model>.<cube>`: per dimension a text column followed by
//! one per level, then one column per measure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub cubes: Vec<Cube>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cube {
    pub name: String,
    #[serde(default)]
    pub local_only: bool,
    pub dimensions: Vec<Dimension>,
    #[serde(default)]
    pub measures: Vec<Measure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Level>,
}

/// One level of a dimension's hierarchy: each member of the level below → its parent here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    pub parents: std::collections::BTreeMap<String, String>,
}

impl Dimension {
    /// The member's ancestor at every level (None where the hierarchy has no parent for it).
    pub fn ancestors<'a>(&'a self, member: &'a str) -> impl Iterator<Item = Option<&'a str>> + 'a {
        let mut at = Some(member);
        self.levels.iter().map(move |l| {
            at = at.and_then(|m| l.parents.get(m).map(String::as_str));
            at
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MeasureType,
    #[serde(default = "sum")]
    pub aggregation: Aggregation,
}

fn sum() -> Aggregation {
    Aggregation::Sum
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeasureType {
    Integer,
    Decimal,
    Float,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Sum,
    Min,
    Max,
    Avg,
    Count,
}

/// A problem in a model, located by a JSON path (`cubes[0].measures[1].name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

impl Model {
    /// Parses a model from JSON; a type or unknown-field error names its place.
    pub fn from_json(value: serde_json::Value) -> Result<Model, Vec<ModelError>> {
        let model: Model = serde_json::from_value(value).map_err(|e| vec![ModelError { path: "".into(), message: e.to_string() }])?;
        let problems = model.validate();
        if problems.is_empty() { Ok(model) } else { Err(problems) }
    }

    /// Every problem at once (names, emptiness, duplicates).
    pub fn validate(&self) -> Vec<ModelError> {
        let mut errs = vec![];
        let mut err = |path: String, message: String| errs.push(ModelError { path, message });
        if !is_identifier(&self.name) {
            err("name".into(), format!("{:?} is not a valid name (letters, digits, _; not starting with a digit)", self.name));
        }
        if self.cubes.is_empty() {
            err("cubes".into(), "a model needs at least one cube".into());
        }
        for (i, c) in self.cubes.iter().enumerate() {
            let p = format!("cubes[{i}]");
            if !is_identifier(&c.name) {
                err(format!("{p}.name"), format!("{:?} is not a valid name", c.name));
            }
            if self.cubes[..i].iter().any(|o| o.name == c.name) {
                err(format!("{p}.name"), format!("duplicate cube name {:?}", c.name));
            }
            if c.dimensions.is_empty() {
                err(format!("{p}.dimensions"), format!("cube {:?} has no dimension: a cube needs at least one", c.name));
            }
            let mut names: Vec<(&str, String)> = vec![];
            for (j, d) in c.dimensions.iter().enumerate() {
                names.push((&d.name, format!("{p}.dimensions[{j}].name")));
                if let Some(m) = &d.members
                    && m.is_empty()
                {
                    err(format!("{p}.dimensions[{j}].members"), "an empty member list allows no cell; omit it for an open dimension".into());
                }
                // Each level must give a parent to every member of the level below, when the
                // members below are known (a closed dimension, or a level above another).
                let mut below: Option<Vec<&String>> = d.members.as_ref().map(|m| m.iter().collect());
                for (k, level) in d.levels.iter().enumerate() {
                    let lp = format!("{p}.dimensions[{j}].levels[{k}]");
                    names.push((&level.name, format!("{lp}.name")));
                    if level.parents.is_empty() {
                        err(format!("{lp}.parents"), format!("level {:?} maps no member to a parent", level.name));
                    } else if let Some(below) = &below {
                        let orphans: Vec<&str> = below.iter().filter(|m| !level.parents.contains_key(m.as_str())).map(|m| m.as_str()).collect();
                        if !orphans.is_empty() {
                            let of = if k == 0 { format!("dimension {:?}", d.name) } else { format!("level {:?}", d.levels[k - 1].name) };
                            err(format!("{lp}.parents"), format!("no parent in level {:?} for these members of {of}: {}", level.name, orphans.join(", ")));
                        }
                    }
                    let mut parents: Vec<&String> = level.parents.values().collect();
                    parents.sort();
                    parents.dedup();
                    below = Some(parents);
                }
            }
            for (j, m) in c.measures.iter().enumerate() {
                names.push((&m.name, format!("{p}.measures[{j}].name")));
            }
            for (k, (n, path)) in names.iter().enumerate() {
                if !is_identifier(n) {
                    err(path.clone(), format!("{n:?} is not a valid name"));
                } else if names[..k].iter().any(|(o, _)| o.eq_ignore_ascii_case(n)) {
                    err(path.clone(), format!("duplicate column name {n:?} in cube {:?}", c.name));
                }
            }
        }
        errs
    }

    pub fn cube(&self, name: &str) -> Option<&Cube> {
        self.cubes.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

impl Cube {
    /// The dimension a level column belongs to, if `column` names a level.
    pub fn level_of(&self, column: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.levels.iter().any(|l| l.name.eq_ignore_ascii_case(column)))
    }

    /// Cells can be carried over to a new version of the cube when it addresses them the same
    /// way: the same dimensions in the same order and the same measures. Members and levels
    /// may change (cells are never dropped by a publish).
    pub fn same_cells_as(&self, other: &Cube) -> bool {
        self.dimensions.len() == other.dimensions.len()
            && self.dimensions.iter().zip(&other.dimensions).all(|(a, b)| a.name == b.name)
            && self.measures == other.measures
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_model_parses() {
        let m = Model::from_json(json!({"name": "sales", "cubes": [{"name": "revenue", "dimensions": [{"name": "region"}], "measures": [{"name": "amount", "type": "decimal"}]}]})).unwrap();
        assert_eq!(m.cubes[0].measures[0].aggregation, Aggregation::Sum);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let errs = Model::from_json(json!({"name": "sales", "cubes": [
            {"name": "a", "dimensions": [], "measures": []},
            {"name": "a", "dimensions": [{"name": "x"}, {"name": "X"}], "measures": [{"name": "x", "type": "integer"}]}
        ]}))
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["cubes[0].dimensions", "cubes[1].name", "cubes[1].dimensions[1].name", "cubes[1].measures[0].name"], "{errs:?}");
    }

    #[test]
    fn hierarchies_must_cover_their_members() {
        let m = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "month", "members": ["01", "02", "04"], "levels": [
            {"name": "quarter", "parents": {"01": "Q1", "02": "Q1", "04": "Q2"}},
            {"name": "year", "parents": {"Q1": "2026", "Q2": "2026"}}]}]}]}))
        .unwrap();
        let month = &m.cubes[0].dimensions[0];
        assert_eq!(month.ancestors("04").collect::<Vec<_>>(), [Some("Q2"), Some("2026")]);
        assert_eq!(month.ancestors("13").collect::<Vec<_>>(), [None, None]);
        assert_eq!(m.cubes[0].level_of("YEAR").map(|d| d.name.as_str()), Some("month"));
        let errs = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "month", "members": ["01", "02"], "levels": [
            {"name": "quarter", "parents": {"01": "Q1"}},
            {"name": "year", "parents": {"Q9": "2026"}},
            {"name": "month", "parents": {}}]}]}]}))
        .unwrap_err();
        let got: Vec<(&str, &str)> = errs.iter().map(|e| (e.path.as_str(), e.message.as_str())).collect();
        assert_eq!(got, [
            ("cubes[0].dimensions[0].levels[0].parents", "no parent in level \"quarter\" for these members of dimension \"month\": 02"),
            ("cubes[0].dimensions[0].levels[1].parents", "no parent in level \"year\" for these members of level \"quarter\": Q1"),
            ("cubes[0].dimensions[0].levels[2].parents", "level \"month\" maps no member to a parent"),
            ("cubes[0].dimensions[0].levels[2].name", "duplicate column name \"month\" in cube \"c\""),
        ]);
    }

    #[test]
    fn unknown_measure_types_and_fields_are_refused() {
        let e = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "money"}]}]})).unwrap_err();
        assert!(e[0].message.contains("money"), "{e:?}");
        let e = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "d", "colour": 1}]}]})).unwrap_err();
        assert!(e[0].message.contains("colour"), "{e:?}");
    }
}
