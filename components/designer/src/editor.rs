//! Model editing: one form submission is one `Edit`, applied to the latest version of a model
//! to give the next version. Pure: the handlers store the result; errors name the form field
//! (`name`, `members`, `type`, ...) so the page can show each next to its input.
//!
//! Drafts may be incomplete (a cube without dimensions yet); publishing requires the whole
//! model to pass `Model::validate`, whose messages carry their JSON path instead.

use serde::Deserialize;
use triad_changelog::model::{Aggregation, Cube, Dimension, Measure, MeasureType, Model};

/// One edit of a model; `op` says which. Forms and the API's `edit` field both parse into it.
#[derive(Debug, Clone, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    AddCube { name: String },
    RemoveCube { cube: String },
    AddDimension {
        cube: String,
        name: String,
        /// Comma-separated; empty for an open dimension (any member).
        #[serde(default)]
        members: String,
    },
    RemoveDimension { cube: String, name: String },
    AddMeasure {
        cube: String,
        name: String,
        /// integer, decimal or float.
        #[serde(rename = "type")]
        kind: String,
        /// sum (the default), min, max, avg or count.
        #[serde(default)]
        aggregation: String,
    },
    RemoveMeasure { cube: String, name: String },
}

/// A problem with one field of the submitted form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError { field: field.into(), message: message.into() }]
}

pub fn valid_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && s.len() <= 63;
    if ok { Ok(()) } else if s.is_empty() { Err("a name is required".into()) } else { Err(format!("{s:?} is not a valid name: letters, digits and _, not starting with a digit, at most 63")) }
}

pub fn measure_type(s: &str) -> Result<MeasureType, String> {
    match s {
        "integer" => Ok(MeasureType::Integer),
        "decimal" => Ok(MeasureType::Decimal),
        "float" => Ok(MeasureType::Float),
        other => Err(format!("unknown measure type {other:?}: one of integer, decimal, float")),
    }
}

pub fn aggregation(s: &str) -> Result<Aggregation, String> {
    match s {
        "" | "sum" => Ok(Aggregation::Sum),
        "min" => Ok(Aggregation::Min),
        "max" => Ok(Aggregation::Max),
        "avg" => Ok(Aggregation::Avg),
        "count" => Ok(Aggregation::Count),
        other => Err(format!("unknown aggregation {other:?}: one of sum, min, max, avg, count")),
    }
}

fn cube_mut<'m>(m: &'m mut Model, name: &str) -> Result<&'m mut Cube, Vec<FieldError>> {
    m.cubes.iter_mut().find(|c| c.name == name).ok_or_else(|| err("cube", format!("model {} has no cube {name:?}", m.name)))
}

/// The problem with `name` as a new column of `c`, if any (invalid, or taken in any case).
fn new_column(c: &Cube, name: &str) -> Option<FieldError> {
    let taken = c.dimensions.iter().any(|d| d.name.eq_ignore_ascii_case(name)) || c.measures.iter().any(|m| m.name.eq_ignore_ascii_case(name));
    let message = match valid_name(name) {
        Err(e) => e,
        Ok(()) if taken => format!("cube {} already has a column {name:?}", c.name),
        Ok(()) => return None,
    };
    Some(FieldError { field: "name".into(), message })
}

/// The next version of `model` after `edit`, or every problem of the form.
pub fn apply(model: &Model, edit: &Edit) -> Result<Model, Vec<FieldError>> {
    let mut m = model.clone();
    match edit {
        Edit::AddCube { name } => {
            valid_name(name).map_err(|e| err("name", e))?;
            if m.cubes.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                return Err(err("name", format!("model {} already has a cube {name:?}", m.name)));
            }
            m.cubes.push(Cube { name: name.clone(), local_only: false, dimensions: vec![], measures: vec![] });
        }
        Edit::RemoveCube { cube } => {
            cube_mut(&mut m, cube)?;
            m.cubes.retain(|c| &c.name != cube);
        }
        Edit::AddDimension { cube, name, members } => {
            let c = cube_mut(&mut m, cube)?;
            let mut errors: Vec<FieldError> = new_column(c, name).into_iter().collect();
            let list: Vec<String> = members.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            if let Some(dup) = list.iter().enumerate().find(|(i, x)| list[..*i].contains(x)) {
                errors.push(FieldError { field: "members".into(), message: format!("member {:?} is listed twice", dup.1) });
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            c.dimensions.push(Dimension { name: name.clone(), members: (!list.is_empty()).then_some(list), levels: vec![] });
        }
        Edit::RemoveDimension { cube, name } => {
            let c = cube_mut(&mut m, cube)?;
            let before = c.dimensions.len();
            c.dimensions.retain(|d| &d.name != name);
            if c.dimensions.len() == before {
                return Err(err("name", format!("cube {cube} has no dimension {name:?}")));
            }
        }
        Edit::AddMeasure { cube, name, kind, aggregation: agg } => {
            let c = cube_mut(&mut m, cube)?;
            let mut errors: Vec<FieldError> = new_column(c, name).into_iter().collect();
            let kind = measure_type(kind).map_err(|e| errors.push(FieldError { field: "type".into(), message: e })).ok();
            let agg = aggregation(agg).map_err(|e| errors.push(FieldError { field: "aggregation".into(), message: e })).ok();
            match (kind, agg) {
                (Some(kind), Some(aggregation)) if errors.is_empty() => c.measures.push(Measure { name: name.clone(), kind, aggregation }),
                _ => return Err(errors),
            }
        }
        Edit::RemoveMeasure { cube, name } => {
            let c = cube_mut(&mut m, cube)?;
            let before = c.measures.len();
            c.measures.retain(|x| &x.name != name);
            if c.measures.len() == before {
                return Err(err("name", format!("cube {cube} has no measure {name:?}")));
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(m: &Model, e: Edit) -> Model {
        apply(m, &e).unwrap()
    }

    #[test]
    fn a_cube_is_built_field_by_field_and_then_validates() {
        let m = Model { name: "sales".into(), cubes: vec![] };
        assert!(!m.validate().is_empty(), "an empty model cannot be published");
        let m = edit(&m, Edit::AddCube { name: "revenue".into() });
        assert_eq!(m.validate()[0].message, "cube \"revenue\" has no dimension: a cube needs at least one");
        let m = edit(&m, Edit::AddDimension { cube: "revenue".into(), name: "region".into(), members: "north, south".into() });
        let m = edit(&m, Edit::AddDimension { cube: "revenue".into(), name: "month".into(), members: "".into() });
        let m = edit(&m, Edit::AddMeasure { cube: "revenue".into(), name: "amount".into(), kind: "decimal".into(), aggregation: "sum".into() });
        assert!(m.validate().is_empty(), "{:?}", m.validate());
        assert_eq!(m.cubes[0].dimensions[0].members.as_deref(), Some(&["north".to_string(), "south".to_string()][..]));
        assert_eq!(m.cubes[0].dimensions[1].members, None);
        let m = edit(&m, Edit::RemoveDimension { cube: "revenue".into(), name: "month".into() });
        assert_eq!(m.cubes[0].dimensions.len(), 1);
    }

    #[test]
    fn bad_fields_are_named_and_nothing_changes() {
        let m = Model { name: "sales".into(), cubes: vec![] };
        let m = edit(&m, Edit::AddCube { name: "revenue".into() });
        let m = edit(&m, Edit::AddDimension { cube: "revenue".into(), name: "region".into(), members: "".into() });
        assert_eq!(apply(&m, &Edit::AddCube { name: "Revenue".into() }).unwrap_err()[0].field, "name");
        assert_eq!(apply(&m, &Edit::AddCube { name: "9lives".into() }).unwrap_err()[0].field, "name");
        let e = apply(&m, &Edit::AddMeasure { cube: "revenue".into(), name: "REGION".into(), kind: "money".into(), aggregation: "median".into() }).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "type", "aggregation"], "{e:?}");
        assert!(e[1].message.contains("unknown measure type \"money\""));
        let e = apply(&m, &Edit::AddDimension { cube: "revenue".into(), name: "month".into(), members: "a, b, a".into() }).unwrap_err();
        assert_eq!(e, [FieldError { field: "members".into(), message: "member \"a\" is listed twice".into() }]);
        assert_eq!(apply(&m, &Edit::RemoveCube { cube: "costs".into() }).unwrap_err()[0].field, "cube");
    }
}
