//! The cube model: what the designer publishes and every engine holds in memory.
//!
//! ```json
//! {"name": "sales", "cubes": [{"name": "revenue", "local_only": false,
//!   "dimensions": [{"name": "region"}, {"name": "month", "members": ["2026-01", "2026-02"]}],
//!   "measures": [{"name": "amount", "type": "decimal", "aggregation": "sum"}]}]}
//! ```
//! A dimension with `members` accepts only those; without, it is open (members are added by
//! writes). Measure types: `integer` (64-bit), `decimal` and `float` (64-bit floating point).
//! SQL sees each cube as the table `<model>.<cube>` with one column per dimension (text) and per
//! measure.

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
    fn unknown_measure_types_and_fields_are_refused() {
        let e = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "money"}]}]})).unwrap_err();
        assert!(e[0].message.contains("money"), "{e:?}");
        let e = Model::from_json(json!({"name": "s", "cubes": [{"name": "c", "dimensions": [{"name": "d", "colour": 1}]}]})).unwrap_err();
        assert!(e[0].message.contains("colour"), "{e:?}");
    }
}
