//! The in-memory image: every published model and its cubes' cells, and the change-log
//! position it reflects. Cells are applied in log order by the replication loop only, so every
//! engine that has applied position N holds the same image.
//!
//! A cube keeps its cells in a hash map (dimension members → measures) for writes, and a
//! columnar Arrow batch, rebuilt after changes, that DataFusion aggregates.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use crate::model::{Cube, MeasureType, Model};

pub struct CubeStore {
    pub cube: Cube,
    cells: HashMap<Vec<String>, Vec<Option<f64>>>,
    batch: Option<RecordBatch>,
    /// Approximate memory the cells hold (keys, measures, hash map overhead).
    bytes: usize,
}

/// Approximate bytes one cell holds: its member strings, its measures and the map's overhead.
pub fn cell_bytes(members: &[String], measures: usize) -> usize {
    members.iter().map(|m| m.len() + 24).sum::<usize>() + measures * 16 + 64
}

impl CubeStore {
    pub fn new(cube: Cube) -> CubeStore {
        CubeStore { cube, cells: HashMap::new(), batch: None, bytes: 0 }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Approximate memory of the cells (the Arrow batch built for queries comes on top).
    pub fn approx_bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = vec![];
        for d in &self.cube.dimensions {
            fields.push(Field::new(&d.name, DataType::Utf8, false));
            fields.extend(d.levels.iter().map(|l| Field::new(&l.name, DataType::Utf8, true)));
        }
        for m in &self.cube.measures {
            let t = if m.kind == MeasureType::Integer { DataType::Int64 } else { DataType::Float64 };
            fields.push(Field::new(&m.name, t, true));
        }
        Arc::new(Schema::new(fields))
    }

    /// Checks a cell write against the model: every dimension given (a member of closed
    /// dimensions), only known columns, numbers for measures. Returns it in canonical form.
    pub fn check(&self, cell: &Map<String, Value>) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        for (k, _) in cell {
            if let Some(d) = self.cube.level_of(k) {
                bail!("{k:?} is a level of dimension {:?}, derived from its members: write {:?} instead", d.name, d.name);
            }
            let known = self.cube.dimensions.iter().any(|d| d.name.eq_ignore_ascii_case(k)) || self.cube.measures.iter().any(|m| m.name.eq_ignore_ascii_case(k));
            if !known {
                bail!("cube {} has no column {k:?}", self.cube.name);
            }
        }
        let get = |name: &str| cell.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        for d in &self.cube.dimensions {
            let member = match get(&d.name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Null) | None => bail!("dimension {:?} of cube {} must be given (a cell is addressed by every dimension)", d.name, self.cube.name),
                Some(other) => bail!("dimension {:?}: {other} is not a member name", d.name),
            };
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
        for m in &self.cube.measures {
            match get(&m.name) {
                None => {}
                Some(Value::Null) => {
                    out.insert(m.name.clone(), Value::Null);
                }
                Some(Value::Number(n)) => {
                    if m.kind == MeasureType::Integer && n.as_i64().is_none() {
                        bail!("measure {:?} is an integer: {n} is not", m.name);
                    }
                    out.insert(m.name.clone(), Value::Number(n.clone()));
                }
                Some(Value::String(s)) => {
                    let v: f64 = s.trim().parse().map_err(|_| anyhow!("measure {:?}: {s:?} is not a number", m.name))?;
                    out.insert(m.name.clone(), serde_json::json!(v));
                }
                Some(other) => bail!("measure {:?}: {other} is not a number", m.name),
            }
        }
        Ok(out)
    }

    /// Applies one checked cell: the measures it names are set, the others kept.
    pub fn apply(&mut self, cell: &Map<String, Value>) {
        let key: Vec<String> = self.cube.dimensions.iter().map(|d| cell.get(&d.name).and_then(Value::as_str).unwrap_or_default().to_string()).collect();
        let n = self.cube.measures.len();
        if !self.cells.contains_key(&key) {
            self.bytes += cell_bytes(&key, n);
        }
        let slot = self.cells.entry(key).or_insert_with(|| vec![None; n]);
        for (i, m) in self.cube.measures.iter().enumerate() {
            if let Some(v) = cell.get(&m.name) {
                slot[i] = v.as_f64();
            }
        }
        self.batch = None;
    }

    /// Every cell (dimension members, measures), for a snapshot.
    pub fn cells(&self) -> Vec<(Vec<String>, Vec<Option<f64>>)> {
        self.cells.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Replaces every cell (loading a snapshot).
    pub fn set_cells(&mut self, cells: Vec<(Vec<String>, Vec<Option<f64>>)>) {
        let n = self.cube.measures.len();
        self.bytes = cells.iter().map(|(k, _)| cell_bytes(k, n)).sum();
        self.cells = cells.into_iter().collect();
        self.batch = None;
    }

    /// The cube as one Arrow batch (rebuilt only after changes).
    pub fn batch(&mut self) -> Result<RecordBatch> {
        if let Some(b) = &self.batch {
            return Ok(b.clone());
        }
        let mut columns: Vec<ArrayRef> = vec![];
        for (i, d) in self.cube.dimensions.iter().enumerate() {
            columns.push(Arc::new(StringArray::from_iter_values(self.cells.keys().map(|k| k[i].as_str()))));
            for level in 0..d.levels.len() {
                columns.push(Arc::new(StringArray::from_iter(self.cells.keys().map(|k| d.ancestors(&k[i]).nth(level).flatten()))));
            }
        }
        for (i, m) in self.cube.measures.iter().enumerate() {
            let values = self.cells.values().map(|v| v[i]);
            columns.push(if m.kind == MeasureType::Integer {
                Arc::new(Int64Array::from_iter(values.map(|v| v.map(|x| x as i64))))
            } else {
                Arc::new(Float64Array::from_iter(values))
            });
        }
        let batch = RecordBatch::try_new(self.schema(), columns)?;
        self.batch = Some(batch.clone());
        Ok(batch)
    }
}

/// Every model and cube, and the log position applied.
#[derive(Default)]
pub struct Image {
    pub models: BTreeMap<String, Model>,
    pub cubes: BTreeMap<(String, String), CubeStore>,
    pub applied: i64,
}

impl Image {
    /// Publishes a model: its cubes replace the previous version's; a cube that addresses cells
    /// the same way (same dimensions and measures; members and levels may change) keeps them.
    pub fn publish(&mut self, model: Model) {
        let name = model.name.to_lowercase();
        let mut old: BTreeMap<String, CubeStore> = BTreeMap::new();
        let keys: Vec<_> = self.cubes.keys().filter(|(m, _)| *m == name).cloned().collect();
        for k in keys {
            if let Some(c) = self.cubes.remove(&k) {
                old.insert(k.1, c);
            }
        }
        for cube in &model.cubes {
            let key = (name.clone(), cube.name.to_lowercase());
            let store = match old.remove(&key.1) {
                Some(mut s) if s.cube.same_cells_as(cube) => {
                    s.cube = cube.clone();
                    s
                }
                _ => CubeStore::new(cube.clone()),
            };
            self.cubes.insert(key, store);
        }
        self.models.insert(name, model);
    }

    /// Approximate memory of every cube: cells, and as much again for the Arrow batches
    /// queries read.
    pub fn approx_bytes(&self) -> usize {
        self.cubes.values().map(|c| c.approx_bytes() * 2).sum()
    }

    pub fn cube_mut(&mut self, model: &str, cube: &str) -> Option<&mut CubeStore> {
        self.cubes.get_mut(&(model.to_lowercase(), cube.to_lowercase()))
    }

    pub fn cube(&self, model: &str, cube: &str) -> Option<&CubeStore> {
        self.cubes.get(&(model.to_lowercase(), cube.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Image {
        let mut i = Image::default();
        i.publish(Model::from_json(json!({"name": "sales", "cubes": [{"name": "revenue",
            "dimensions": [{"name": "region", "members": ["north", "south"]}, {"name": "month"}],
            "measures": [{"name": "amount", "type": "decimal"}, {"name": "units", "type": "integer"}]}]})).unwrap());
        i
    }

    fn cell(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn writes_set_cells_and_keep_unnamed_measures() {
        let mut i = image();
        let c = i.cube_mut("sales", "REVENUE").unwrap();
        let w = c.check(&cell(json!({"region": "north", "month": "2026-01", "amount": 10.5, "units": 3}))).unwrap();
        c.apply(&w);
        let w = c.check(&cell(json!({"Region": "north", "month": "2026-01", "amount": "12"}))).unwrap();
        c.apply(&w);
        assert_eq!(c.len(), 1);
        let b = c.batch().unwrap();
        assert_eq!(b.num_rows(), 1);
        let amount = b.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        let units = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!((amount.value(0), units.value(0)), (12.0, 3));
    }

    #[test]
    fn bad_cells_are_refused_with_the_reason() {
        let i = image();
        let c = i.cube("sales", "revenue").unwrap();
        let e = |v| c.check(&cell(v)).unwrap_err().to_string();
        assert!(e(json!({"region": "west", "month": "m"})).contains("not a member"));
        assert!(e(json!({"month": "m"})).contains("must be given"));
        assert!(e(json!({"region": "north", "month": "m", "colour": 1})).contains("no column"));
        assert!(e(json!({"region": "north", "month": "m", "units": 1.5})).contains("integer"));
        assert!(e(json!({"region": "north", "month": "m", "amount": "ten"})).contains("not a number"));
    }

    #[test]
    fn levels_are_derived_columns_and_not_written() {
        let mut i = Image::default();
        i.publish(Model::from_json(json!({"name": "s", "cubes": [{"name": "c",
            "dimensions": [{"name": "month", "levels": [{"name": "quarter", "parents": {"01": "Q1", "04": "Q2"}}]}],
            "measures": [{"name": "v", "type": "integer"}]}]})).unwrap());
        let c = i.cube_mut("s", "c").unwrap();
        for (m, v) in [("01", 1), ("04", 2)] {
            let w = c.check(&cell(json!({"month": m, "v": v}))).unwrap();
            c.apply(&w);
        }
        assert!(c.check(&cell(json!({"month": "07", "v": 1}))).unwrap_err().to_string().contains("no parent in level \"quarter\""));
        assert!(c.check(&cell(json!({"month": "01", "quarter": "Q1"}))).unwrap_err().to_string().contains("is a level of dimension \"month\""));
        let b = c.batch().unwrap();
        assert_eq!(b.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["month", "quarter", "v"]);
        let months = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let quarters = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let mut pairs: Vec<(&str, &str)> = (0..2).map(|r| (months.value(r), quarters.value(r))).collect();
        pairs.sort();
        assert_eq!(pairs, [("01", "Q1"), ("04", "Q2")]);
    }

    #[test]
    fn republishing_with_new_members_or_levels_keeps_the_cells() {
        let mut i = image();
        let c = i.cube_mut("sales", "revenue").unwrap();
        let w = c.check(&cell(json!({"region": "north", "month": "m", "amount": 1}))).unwrap();
        c.apply(&w);
        let mut model = i.models["sales"].clone();
        model.cubes[0].dimensions[0].members.as_mut().unwrap().push("west".into());
        model.cubes[0].dimensions[0].levels.push(crate::model::Level { name: "country".into(), parents: [("north".to_string(), "x".to_string())].into() });
        i.publish(model);
        let c = i.cube_mut("sales", "revenue").unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c.batch().unwrap().num_columns(), 5);
    }

    #[test]
    fn republishing_an_unchanged_cube_keeps_its_cells() {
        let mut i = image();
        let c = i.cube_mut("sales", "revenue").unwrap();
        let w = c.check(&cell(json!({"region": "north", "month": "m", "amount": 1}))).unwrap();
        c.apply(&w);
        let model = i.models["sales"].clone();
        i.publish(model);
        assert_eq!(i.cube("sales", "revenue").unwrap().len(), 1);
    }
}
