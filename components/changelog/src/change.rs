//! The typed entries of the change log. The table keeps the row format it always had (`kind`,
//! `cube`, `change` as jsonb; databases of earlier releases hold it), and this module is the
//! only place that maps between that row and a [`Change`]: the engine and the designer never
//! build or pick apart a row by hand.

use serde_json::{Map, Value, json};

use triad_config::UserRole;

use crate::model::Model;

/// One acknowledged change, in log order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A cell written to `model.cube` (names in lower case), in canonical form
    /// (`cell::check`); only the measures it names change.
    Cell { model: String, cube: String, cell: Map<String, Value> },
    /// A model published, or an earlier version of it published again (a rollback).
    Publish(Model),
    /// A SQL user created or given a new password (an argon2 PHC string), with its role
    /// (`None` in entries of earlier releases, which did not carry it).
    UserPassword { name: String, password_hash: String, role: Option<UserRole> },
    /// A SQL user removed.
    UserDeleted { name: String },
}

/// A row of `triad_engine.change_log` without its position and writer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: String,
    pub cube: String,
    pub change: Value,
}

impl Change {
    /// A cell write to `model.cube`; the names are kept in lower case, as SQL folds them.
    pub fn cell(model: &str, cube: &str, cell: Map<String, Value>) -> Change {
        Change::Cell { model: model.to_lowercase(), cube: cube.to_lowercase(), cell }
    }

    pub fn to_row(&self) -> Row {
        let (kind, cube, change) = match self {
            Change::Cell { model, cube, cell } => ("cell", format!("{model}.{cube}"), Value::Object(cell.clone())),
            Change::Publish(m) => ("publish", m.name.to_lowercase(), serde_json::to_value(m).expect("a model is plain data")),
            Change::UserPassword { name, password_hash, role: None } => ("user", name.clone(), json!({ "password_hash": password_hash })),
            Change::UserPassword { name, password_hash, role: Some(r) } => ("user", name.clone(), json!({ "password_hash": password_hash, "role": r })),
            Change::UserDeleted { name } => ("user", name.clone(), json!({ "deleted": true })),
        };
        Row { kind: kind.into(), cube, change }
    }

    /// The change a row holds, or why it holds none this release understands.
    pub fn from_row(row: Row) -> Result<Change, String> {
        let Row { kind, cube, change } = row;
        match kind.as_str() {
            "cell" => {
                let (model, c) = cube.split_once('.').ok_or_else(|| format!("cell entry for {cube:?}: not model.cube"))?;
                match change {
                    Value::Object(cell) => Ok(Change::Cell { model: model.into(), cube: c.into(), cell }),
                    other => Err(format!("cell entry for {cube}: {other} is not a cell")),
                }
            }
            "publish" => {
                let m = Model::from_json(change).map_err(|errs| format!("published model {cube}: invalid: {errs:?}"))?;
                if m.name.to_lowercase() != cube {
                    return Err(format!("published model {cube}: the entry holds model {:?}", m.name));
                }
                Ok(Change::Publish(m))
            }
            "user" => match (change.get("password_hash"), change.get("deleted")) {
                (Some(Value::String(h)), None) => {
                    let role = match change.get("role") {
                        None => None,
                        Some(r) => Some(serde_json::from_value::<UserRole>(r.clone()).map_err(|_| format!("user entry for {cube}: role {r} is not admin, modeler or viewer"))?),
                    };
                    Ok(Change::UserPassword { name: cube, password_hash: h.clone(), role })
                }
                (None, Some(Value::Bool(true))) => Ok(Change::UserDeleted { name: cube }),
                _ => Err(format!("user entry for {cube}: {change} is neither a password hash nor a deletion")),
            },
            other => Err(format!("unknown kind of change {other:?} (for {cube})")),
        }
    }

    /// The model a cell write depends on: it must still be the published one at commit.
    pub fn cell_model(&self) -> Option<&str> {
        match self {
            Change::Cell { model, .. } => Some(model),
            _ => None,
        }
    }
}

impl std::fmt::Display for Change {
    /// A short description for logs and fault messages (never a password hash).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Cell { model, cube, .. } => write!(f, "cell of {model}.{cube}"),
            Change::Publish(m) => write!(f, "publication of model {}", m.name),
            Change::UserPassword { name, .. } => write!(f, "password of user {name}"),
            Change::UserDeleted { name } => write!(f, "removal of user {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::from_json(json!({"name": "Sales", "cubes": [{"name": "c", "dimensions": [{"name": "region"}], "measures": [{"name": "units", "type": "integer"}]}]})).unwrap()
    }

    #[test]
    fn every_change_survives_its_row() {
        let mut cell = Map::new();
        cell.insert("region".into(), json!("north"));
        cell.insert("units".into(), json!(5));
        for c in [
            Change::cell("Sales", "C", cell),
            Change::Publish(model()),
            Change::UserPassword { name: "ann".into(), password_hash: "$argon2id$v=19$x".into(), role: Some(UserRole::Viewer) },
            Change::UserPassword { name: "bob".into(), password_hash: "$argon2id$v=19$y".into(), role: None },
            Change::UserDeleted { name: "ann".into() },
        ] {
            assert_eq!(Change::from_row(c.to_row()), Ok(c.clone()), "{c}");
        }
    }

    #[test]
    fn rows_of_earlier_releases_read_as_before() {
        let row = |kind: &str, cube: &str, change: Value| Row { kind: kind.into(), cube: cube.into(), change };
        assert!(matches!(Change::from_row(row("cell", "sales.c", json!({"region": "n"}))), Ok(Change::Cell { ref model, ref cube, .. }) if model == "sales" && cube == "c"));
        assert_eq!(Change::from_row(row("user", "bob", json!({"deleted": true}))), Ok(Change::UserDeleted { name: "bob".into() }));
        // Before roles reached the engines, a user entry held its password hash alone.
        assert_eq!(Change::from_row(row("user", "bob", json!({"password_hash": "$argon2id$z"}))), Ok(Change::UserPassword { name: "bob".into(), password_hash: "$argon2id$z".into(), role: None }));
    }

    #[test]
    fn a_row_this_release_cannot_read_is_an_error_naming_it() {
        let row = |kind: &str, cube: &str, change: Value| Row { kind: kind.into(), cube: cube.into(), change };
        let cases = [
            (row("cell", "nodot", json!({})), "not model.cube"),
            (row("cell", "s.c", json!(5)), "is not a cell"),
            (row("publish", "sales", json!({"name": "Sales"})), "invalid"),
            (row("publish", "other", serde_json::to_value(model()).unwrap()), "holds model \"Sales\""),
            (row("user", "bob", json!({})), "neither a password hash nor a deletion"),
            (row("user", "bob", json!({"deleted": false})), "neither"),
            (row("user", "bob", json!({"password_hash": "$argon2id$z", "role": "root"})), "role \"root\" is not admin, modeler or viewer"),
            (row("grant", "bob", json!({})), "unknown kind of change \"grant\""),
        ];
        for (r, want) in cases {
            let e = Change::from_row(r.clone()).unwrap_err();
            assert!(e.contains(want), "{r:?}: {e}");
        }
    }

    #[test]
    fn a_password_hash_is_never_shown() {
        let c = Change::UserPassword { name: "ann".into(), password_hash: "$argon2id$secret".into(), role: None };
        assert!(!c.to_string().contains("secret"));
    }
}
