//! The one check of a cell write, used when the write is acknowledged (SQL, HTTP, CSV, the
//! designer's loads) and again when any engine applies it from the change log: what was
//! acknowledged is exactly what applies, and an entry that no longer passes is a fault the
//! applying engine reports, never a skip.

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value};

use crate::model::{Cube, MeasureType};

/// Checks a cell write against the model: every dimension given (a member of closed
/// dimensions), only known columns, numbers for measures. Returns it in canonical form.
pub fn check(cube: &Cube, cell: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (k, _) in cell {
        if let Some(d) = cube.level_of(k) {
            bail!("{k:?} is a level of dimension {:?}, derived from its members: write {:?} instead", d.name, d.name);
        }
        let known = cube.dimensions.iter().any(|d| d.name.eq_ignore_ascii_case(k)) || cube.measures.iter().any(|m| m.name.eq_ignore_ascii_case(k));
        if !known {
            bail!("cube {} has no column {k:?}", cube.name);
        }
    }
    let get = |name: &str| cell.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    for d in &cube.dimensions {
        let member = crate::cellvalue::member(get(&d.name))
            .map_err(|e| anyhow!("dimension {:?}: {e}", d.name))?
            .ok_or_else(|| anyhow!("dimension {:?} of cube {} must be given (a cell is addressed by every dimension)", d.name, cube.name))?;
        if let Some(members) = &d.members
            && !members.contains(&member)
        {
            bail!("{member:?} is not a member of dimension {:?}", d.name);
        }
        if let Some((level, _)) = d.levels.iter().zip(d.ancestors(&member)).find(|(_, a)| a.is_none()) {
            bail!("{member:?} of dimension {:?} has no parent in level {:?} of its hierarchy (add it to the model first)", d.name, level.name);
        }
        out.insert(d.name.clone(), Value::String(member));
    }
    for m in &cube.measures {
        if let Some(v) = get(&m.name) {
            let kind = if m.kind == MeasureType::Integer { "an integer" } else { "a number" };
            let v = crate::cellvalue::measure(m.kind, v).map_err(|e| anyhow!("measure {:?} is {kind}: {e}", m.name))?;
            out.insert(m.name.clone(), v);
        }
    }
    Ok(out)
}
