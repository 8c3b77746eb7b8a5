//! Engine snapshots: one engine at a time (the holder of `engine/snapshot` in the coordinator,
//! bound to its registration lease) writes the image to `triad_engine.snapshots` every
//! `snapshot_interval` when the log has moved on; a starting engine loads the newest snapshot
//! and applies only the log after it. The log itself is kept whole: snapshots shorten
//! restarts, they do not replace the log. `local_only` cubes are never in a snapshot (their
//! cells belong to one engine), and an engine with `data_consumer = false` neither loads nor
//! writes snapshots (its image deliberately differs from the others').
//!
//! This module is the image ↔ snapshot mapping; the bytes are `snapshot_codec`'s and the table
//! `snapshot_table`'s.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::store::{Columns, Image};
use triad_config::UserRole;

/// An image restored from a snapshot, with the SQL users' password hashes and roles.
pub type Restored = (Image, HashMap<String, String>, HashMap<String, UserRole>);

/// The coordinator key whose holder writes the snapshots (`snapshot_writer`).
pub const KEY: &str = "engine/snapshot";

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub pos: i64,
    pub models: Vec<Model>,
    pub cubes: Vec<CubeCells>,
    pub users: BTreeMap<String, String>,
    /// Users' roles (`user_roles`); snapshots of earlier releases hold none.
    #[serde(default)]
    pub roles: BTreeMap<String, UserRole>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CubeCells {
    pub model: String,
    pub cube: String,
    /// Column by column: compact, and copied out of the image quickly (under its lock).
    pub columns: Columns,
}

impl Snapshot {
    pub fn take(image: &Image, users: &HashMap<String, String>, roles: &HashMap<String, UserRole>) -> Snapshot {
        let cubes = image
            .cubes
            .iter()
            .filter(|(_, s)| !s.cube.local_only)
            .map(|((m, c), s)| CubeCells { model: m.clone(), cube: c.clone(), columns: s.columns() })
            .collect();
        Snapshot { pos: image.applied, models: image.models.values().cloned().collect(), cubes,
            users: users.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            roles: roles.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }

    /// The image this snapshot describes (local_only cubes empty).
    pub fn restore(self) -> Result<Restored> {
        let mut image = Image::default();
        for m in self.models {
            image.publish(m);
        }
        for c in self.cubes {
            if let Some(store) = image.cube_mut(&c.model, &c.cube) {
                store.set_columns(c.columns)?;
            }
        }
        image.applied = self.pos;
        Ok((image, self.users.into_iter().collect(), self.roles.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_restores_the_same_image_without_local_cubes() {
        let mut image = Image::default();
        image.publish(Model::from_json(json!({"name": "s", "cubes": [
            {"name": "c", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "float"}]},
            {"name": "scratch", "local_only": true, "dimensions": [{"name": "d"}]}]})).unwrap());
        for (cube, value) in [("c", json!({"d": "x", "m": 1.5})), ("c", json!({"d": "y", "m": 2})), ("scratch", json!({"d": "z"}))] {
            let store = image.cube_mut("s", cube).unwrap();
            let cell = store.check(value.as_object().unwrap()).unwrap();
            store.apply(&cell);
        }
        image.applied = 42;
        let users = HashMap::from([("ana".to_string(), "$argon2id$x".to_string())]);
        let roles = HashMap::from([("ana".to_string(), UserRole::Viewer)]);
        let snap = Snapshot::take(&image, &users, &roles);
        let (back, users_back, roles_back) = snap.restore().unwrap();
        assert_eq!(back.applied, 42);
        assert_eq!(users_back, users);
        assert_eq!(roles_back, roles);
        let mut a = image.cube("s", "c").unwrap().cells();
        let mut b = back.cube("s", "c").unwrap().cells();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(a, b);
        assert_eq!(back.cube("s", "scratch").unwrap().len(), 0, "local_only cells stay out of snapshots");
    }
}
