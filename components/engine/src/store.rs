//! The in-memory image: every published model and its cubes' cells, and the change-log
//! position it reflects. Cells are applied in log order by the replication loop only, so every
//! engine that has applied position N holds the same image.
//!
//! A cube keeps its cells column by column (member codes per dimension, values per measure)
//! and hands DataFusion Arrow batches of CHUNK cells, each rebuilt only after a change in it;
//! dimension and level columns are dictionaries over the members, or string views when they
//! have many members (VIEW_ABOVE).

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use anyhow::{Result, bail};
use datafusion::arrow::array::{Array, ArrayRef, DictionaryArray, StringArray, StringViewArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use datafusion::arrow::record_batch::RecordBatch;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use serde_json::{Map, Value};

use crate::measure_column::MeasureColumn;
use crate::model::{Cube, Dimension, MeasureType, Model};

/// Cells per cached Arrow batch: a write rebuilds only its chunk's batch.
pub const CHUNK: usize = 1 << 16;

/// A dimension or level column with more distinct members than this reaches DataFusion as
/// string views instead of a dictionary: DataFusion groups plain strings far faster when there
/// are many groups (10 M rows, 41 667 groups: about 10× in one measurement), while a dictionary
/// keeps a column of few members at 4 bytes a cell instead of 16.
pub const VIEW_ABOVE: usize = 1024;

/// A dimension's members in the order first written; a cell holds a member's code.
#[derive(Default)]
struct Members {
    names: Vec<String>,
    codes: HashMap<String, u32>,
    /// The names as Arrow values of the dictionary columns (dimension, then each level),
    /// rebuilt when a member is added or the hierarchy changes.
    arrays: Option<Vec<ArrayRef>>,
}

impl Members {
    fn code(&mut self, name: &str) -> u32 {
        if let Some(c) = self.codes.get(name) {
            return *c;
        }
        let c = self.names.len() as u32;
        self.names.push(name.to_string());
        self.codes.insert(name.to_string(), c);
        self.arrays = None;
        c
    }

    fn arrays(&mut self, d: &Dimension) -> Vec<ArrayRef> {
        let names = &self.names;
        self.arrays
            .get_or_insert_with(|| {
                let mut out: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(names.iter()))];
                for level in 0..d.levels.len() {
                    out.push(Arc::new(StringArray::from_iter(names.iter().map(|m| d.ancestors(m).nth(level).flatten()))));
                }
                out
            })
            .clone()
    }
}

/// A cube's cells, column by column: per dimension the member codes, per measure the values;
/// row `r` is one cell. Cells are never removed, so rows only grow. A hash table finds a
/// cell's row from its codes without storing them twice.
pub struct CubeStore {
    pub cube: Cube,
    members: Vec<Members>,
    codes: Vec<Vec<u32>>,
    values: Vec<MeasureColumn>,
    rows: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// The Arrow batch of each CHUNK of rows, None after a change in it.
    chunks: Vec<Option<RecordBatch>>,
    /// The column representations the cached chunks were built with (see `views`).
    built_views: Vec<Vec<bool>>,
}

/// A cube's cells column by column (see `CubeStore::columns`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Columns {
    pub members: Vec<Vec<String>>,
    pub codes: Vec<Vec<u32>>,
    pub values: Vec<MeasureColumn>,
}

/// Approximate bytes one cell holds: its member codes, its measures (a value and a bit) and
/// its index entry.
pub fn cell_bytes(dimensions: usize, measures: usize) -> usize {
    dimensions * 4 + measures * 9 + 8
}

fn dictionary() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8))
}

impl CubeStore {
    pub fn new(cube: Cube) -> CubeStore {
        let (d, m) = (cube.dimensions.len(), cube.measures.len());
        CubeStore {
            cube,
            members: (0..d).map(|_| Members::default()).collect(),
            codes: vec![vec![]; d],
            values: vec![MeasureColumn::default(); m],
            rows: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            chunks: vec![],
            built_views: vec![],
        }
    }

    /// A new version of the cube (same dimensions and measures): hierarchies may differ.
    pub fn republish(&mut self, cube: Cube) {
        self.cube = cube;
        self.members.iter_mut().for_each(|m| m.arrays = None);
        self.chunks.iter_mut().for_each(|c| *c = None);
    }

    pub fn len(&self) -> usize {
        self.values.first().map(MeasureColumn::len).unwrap_or_else(|| self.codes.first().map_or(0, Vec::len))
    }

    /// Approximate memory of the cells and members (the Arrow batches come on top).
    pub fn approx_bytes(&self) -> usize {
        let members: usize = self.members.iter().flat_map(|m| &m.names).map(|n| 2 * n.len() + 64).sum();
        self.len() * cell_bytes(self.codes.len(), self.values.len()) + members
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// For each dimension, for its column and each level's: sent as string views (true) or as
    /// a dictionary (false), by how many distinct members the column has.
    fn views(&self) -> Vec<Vec<bool>> {
        let many = |n: usize| n > VIEW_ABOVE;
        self.cube
            .dimensions
            .iter()
            .zip(&self.members)
            .map(|(d, m)| std::iter::once(many(m.names.len())).chain(d.levels.iter().map(|l| many(l.parents.values().collect::<std::collections::BTreeSet<_>>().len()))).collect())
            .collect()
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema_with(&self.views())
    }

    fn schema_with(&self, views: &[Vec<bool>]) -> SchemaRef {
        let mut fields: Vec<Field> = vec![];
        let text = |view: bool| if view { DataType::Utf8View } else { dictionary() };
        for (d, views) in self.cube.dimensions.iter().zip(views) {
            fields.push(Field::new(&d.name, text(views[0]), false));
            fields.extend(d.levels.iter().zip(&views[1..]).map(|(l, v)| Field::new(&l.name, text(*v), true)));
        }
        for m in &self.cube.measures {
            let t = if m.kind == MeasureType::Integer { DataType::Int64 } else { DataType::Float64 };
            fields.push(Field::new(&m.name, t, true));
        }
        Arc::new(Schema::new(fields))
    }
    /// Checks a cell write against the model (`triad_changelog::cell::check`, the one check of
    /// every write path); the cell in canonical form.
    pub fn check(&self, cell: &Map<String, Value>) -> Result<Map<String, Value>> {
        triad_changelog::cell::check(&self.cube, cell)
    }

    fn row_of(&self, key: &[u32]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.rows.find(hash, |&r| key.iter().zip(&self.codes).all(|(k, col)| col[r as usize] == *k)).copied()
    }

    /// The row of the cell at `key`, added (measures NULL) if new.
    fn row(&mut self, key: &[u32]) -> usize {
        if let Some(r) = self.row_of(key) {
            return r as usize;
        }
        let r = self.len();
        for (col, k) in self.codes.iter_mut().zip(key) {
            col.push(*k);
        }
        self.values.iter_mut().for_each(|v| v.push(None));
        let (codes, hasher) = (&self.codes, &self.hasher);
        let rehash = |&row: &u32| hasher.hash_one(codes.iter().map(|c| c[row as usize]).collect::<Vec<u32>>().as_slice());
        self.rows.insert_unique(hasher.hash_one(key), r as u32, rehash);
        if self.chunks.len() <= r / CHUNK {
            self.chunks.push(None);
        }
        r
    }

    /// Applies one checked cell: the measures it names are set, the others kept.
    pub fn apply(&mut self, cell: &Map<String, Value>) {
        let key: Vec<u32> = self.cube.dimensions.iter().zip(&mut self.members).map(|(d, m)| m.code(cell.get(&d.name).and_then(Value::as_str).unwrap_or_default())).collect();
        let r = self.row(&key);
        for (i, m) in self.cube.measures.iter().enumerate() {
            if let Some(v) = cell.get(&m.name) {
                self.values[i].set_at(r, v.as_f64());
            }
        }
        self.chunks[r / CHUNK] = None;
    }

    /// Every cell as (members, measures) in row order: for comparing images.
    pub fn cells(&self) -> Vec<(Vec<String>, Vec<Option<f64>>)> {
        (0..self.len())
            .map(|r| (self.codes.iter().zip(&self.members).map(|(c, m)| m.names[c[r] as usize].clone()).collect(), self.values.iter().map(|v| v.get(r)).collect()))
            .collect()
    }

    /// The cells column by column, for a snapshot: each dimension's members, each dimension's
    /// member codes per cell, each measure's values per cell.
    pub fn columns(&self) -> Columns {
        Columns { members: self.members.iter().map(|m| m.names.clone()).collect(), codes: self.codes.clone(), values: self.values.clone() }
    }

    /// Replaces every cell by a snapshot's columns; they must fit this cube.
    pub fn set_columns(&mut self, c: Columns) -> Result<()> {
        let rows = c.codes.first().map_or(0, Vec::len);
        let fits = c.members.len() == self.codes.len()
            && c.codes.len() == self.codes.len()
            && c.values.len() == self.values.len()
            && c.codes.iter().zip(&c.members).all(|(col, m)| col.len() == rows && col.iter().all(|&k| (k as usize) < m.len()))
            && c.values.iter().all(|v| v.len() == rows);
        if !fits {
            bail!("the snapshot's columns of cube {} do not fit its model", self.cube.name);
        }
        *self = CubeStore::new(self.cube.clone());
        for (m, names) in self.members.iter_mut().zip(c.members) {
            for n in names {
                m.code(&n);
            }
        }
        // The columns are taken whole; only the index is built. Ten million inserts in row
        // order hit the table at random places, a cache miss or two each: 3.8 s of a 5 s
        // restart. In the order of the buckets they land in, the table is filled front to back.
        self.codes = c.codes;
        self.values = c.values;
        let n = self.len();
        let (codes, hasher, index) = (&self.codes, &self.hasher, &mut self.rows);
        let key_of = |row: u32| codes.iter().map(|c| c[row as usize]).collect::<Vec<u32>>();
        index.reserve(n, |&r| hasher.hash_one(key_of(r).as_slice()));
        let mut key = vec![0u32; codes.len()];
        let mut order: Vec<(u64, u32)> = (0..n as u32)
            .map(|r| {
                key.iter_mut().zip(codes).for_each(|(k, col)| *k = col[r as usize]);
                (hasher.hash_one(key.as_slice()), r)
            })
            .collect();
        // hashbrown starts probing at `hash & (buckets - 1)`; its capacity is 7/8 of its buckets.
        let buckets_mask = ((index.capacity() / 7 * 8).max(1).next_power_of_two() - 1) as u64;
        order.sort_unstable_by_key(|&(hash, _)| hash & buckets_mask);
        for (hash, r) in order {
            let same = |&o: &u32| codes.iter().all(|col| col[o as usize] == col[r as usize]);
            if index.find(hash, same).is_some() {
                bail!("the snapshot of cube {} holds the cell {:?} twice", self.cube.name, key_of(r));
            }
            index.insert_unique(hash, r, |&o| hasher.hash_one(key_of(o).as_slice()));
        }
        self.chunks = vec![None; n.div_ceil(CHUNK)];
        Ok(())
    }

    /// The cube as Arrow batches of up to CHUNK rows; only chunks changed since the last call
    /// are rebuilt. Dimension and level columns are dictionaries over the members.
    pub fn batches(&mut self) -> Result<Vec<RecordBatch>> {
        let views = self.views();
        let schema = self.schema_with(&views);
        if views != self.built_views {
            // A column changed representation (it grew past VIEW_ABOVE members, or a new
            // hierarchy): every chunk must share the new schema.
            self.chunks.iter_mut().for_each(|c| *c = None);
            self.built_views = views.clone();
        }
        let dims: Vec<Vec<ArrayRef>> = self.cube.dimensions.iter().zip(&mut self.members).map(|(d, m)| m.arrays(d)).collect();
        let parts = Parts { codes: &self.codes, values: &self.values, cube: &self.cube, len: self.len(), schema: &schema, dims: &dims, views: &views };
        let missing: Vec<usize> = self.chunks.iter().enumerate().filter(|(_, c)| c.is_none()).map(|(i, _)| i).collect();
        // After a restart or a new hierarchy every chunk is built (153 of them at ten million
        // cells): on every core, which cuts an engine's restart by seconds. A write rebuilds
        // one chunk, on the calling thread.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(missing.len() / 4).max(1);
        let built: Vec<(usize, Result<RecordBatch>)> = if threads == 1 {
            missing.iter().map(|&c| (c, parts.chunk(c))).collect()
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads).map(|t| {
                    let (parts, missing) = (&parts, &missing);
                    scope.spawn(move || missing.iter().skip(t).step_by(threads).map(|&c| (c, parts.chunk(c))).collect::<Vec<_>>())
                }).collect();
                workers.into_iter().flat_map(|w| w.join().expect("building a chunk does not panic")).collect()
            })
        };
        for (c, batch) in built {
            self.chunks[c] = Some(batch?);
        }
        Ok(self.chunks.iter().flatten().cloned().collect())
    }
}

/// What building one chunk's Arrow batch reads (shared by the threads that build them).
struct Parts<'a> {
    codes: &'a [Vec<u32>],
    values: &'a [MeasureColumn],
    cube: &'a Cube,
    len: usize,
    schema: &'a SchemaRef,
    dims: &'a [Vec<ArrayRef>],
    views: &'a [Vec<bool>],
}

impl Parts<'_> {
    fn chunk(&self, c: usize) -> Result<RecordBatch> {
        let range = c * CHUNK..self.len.min((c + 1) * CHUNK);
        let mut columns: Vec<ArrayRef> = vec![];
        for ((codes, arrays), views) in self.codes.iter().zip(self.dims).zip(self.views) {
            let codes = &codes[range.clone()];
            let keys = UInt32Array::from(codes.to_vec());
            for (values, view) in arrays.iter().zip(views) {
                columns.push(if *view {
                    let names = values.as_any().downcast_ref::<StringArray>().expect("member names are strings");
                    Arc::new(StringViewArray::from_iter(codes.iter().map(|&c| (!names.is_null(c as usize)).then(|| names.value(c as usize)))))
                } else {
                    Arc::new(DictionaryArray::<UInt32Type>::try_new(keys.clone(), values.clone())?)
                });
            }
        }
        for (m, values) in self.cube.measures.iter().zip(self.values) {
            columns.push(if m.kind == MeasureType::Integer { Arc::new(values.int64(range.clone())) } else { Arc::new(values.float64(range.clone())) });
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl CubeStore {
    /// The cube's batches as they would be with `cells` (checked) applied, leaving the cube
    /// as it is: a transaction reads its own uncommitted writes. Rows the cells overwrite are
    /// filtered out of their chunks; the cells, merged with what they overwrite, follow in a
    /// batch of their own.
    pub fn batches_with(&mut self, cells: &[Map<String, Value>]) -> Result<Vec<RecordBatch>> {
        let mut batches = self.batches()?;
        if cells.is_empty() {
            return Ok(batches);
        }
        let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| self.schema());
        // The member codes of the cube's own: a code names one member in every batch of a
        // cube (queries group by codes, `group_keys`); new members get new codes after them.
        let mut mine = CubeStore::new(self.cube.clone());
        mine.members = self.members.iter().map(|m| Members { names: m.names.clone(), codes: m.codes.clone(), arrays: None }).collect();
        let mut shadowed = std::collections::BTreeSet::new();
        for cell in cells {
            let key: Option<Vec<u32>> = self.cube.dimensions.iter().zip(&self.members).map(|(d, m)| cell.get(&d.name).and_then(Value::as_str).and_then(|n| m.codes.get(n).copied())).collect();
            if let Some(row) = key.and_then(|k| self.row_of(&k)) {
                if shadowed.insert(row as usize) {
                    // Start from the committed cell: the write keeps the measures it omits.
                    let mut base = cell.clone();
                    for (m, values) in self.cube.measures.iter().zip(&self.values) {
                        let v = values.get(row as usize).map_or(Value::Null, |x| if m.kind == MeasureType::Integer { Value::from(x as i64) } else { serde_json::json!(x) });
                        base.insert(m.name.clone(), v);
                    }
                    mine.apply(&base);
                }
            }
            mine.apply(cell);
        }
        let mut chunks: Vec<usize> = shadowed.iter().map(|r| r / CHUNK).collect();
        chunks.dedup();
        for chunk in chunks {
            let keep = datafusion::arrow::array::BooleanArray::from_iter((0..batches[chunk].num_rows()).map(|r| Some(!shadowed.contains(&(chunk * CHUNK + r)))));
            batches[chunk] = datafusion::arrow::compute::filter_record_batch(&batches[chunk], &keep)?;
        }
        for b in mine.batches()? {
            // Same columns, possibly another representation (dictionary or view).
            let columns = b.columns().iter().zip(schema.fields()).map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type())).collect::<Result<Vec<_>, _>>()?;
            batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        }
        Ok(batches)
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
                    s.republish(cube.clone());
                    s
                }
                _ => CubeStore::new(cube.clone()),
            };
            self.cubes.insert(key, store);
        }
        self.models.insert(name, model);
    }

    /// Approximate memory of every cube: cells, and as much again for the Arrow batches
    /// queries read (an upper bound: batches hold codes, not member names).
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
    use datafusion::arrow::array::{Float64Array, Int64Array};
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
        let b = c.batches().unwrap().remove(0);
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
        assert!(e(json!({"region": "north", "month": "m", "units": "1.5"})).contains("integer"));
        assert!(e(json!({"region": "north", "month": "m", "amount": "ten"})).contains("invalid input syntax"));
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
        let b = c.batches().unwrap().remove(0);
        assert_eq!(b.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["month", "quarter", "v"]);
        let text = |i: usize| datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8).unwrap();
        let (months, quarters) = (text(0), text(1));
        let (months, quarters) = (months.as_any().downcast_ref::<StringArray>().unwrap(), quarters.as_any().downcast_ref::<StringArray>().unwrap());
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
        assert_eq!(c.batches().unwrap()[0].num_columns(), 5);
    }

    #[test]
    fn many_cells_span_chunks_and_a_write_rebuilds_only_its_own() {
        let mut i = image();
        let c = i.cube_mut("sales", "revenue").unwrap();
        let n = CHUNK + 10;
        for k in 0..n {
            c.apply(&cell(json!({"region": "north", "month": format!("m{k}"), "units": k})));
        }
        let before = c.batches().unwrap();
        assert_eq!(before.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [CHUNK, 10]);
        let types: Vec<DataType> = before[0].schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types[..2], [dictionary(), DataType::Utf8View], "region has 1 member, month more than VIEW_ABOVE");
        let months = before[1].column(1).as_any().downcast_ref::<StringViewArray>().unwrap();
        assert_eq!(months.value(0), format!("m{CHUNK}"));
        c.apply(&cell(json!({"region": "north", "month": "m3", "amount": 1.5})));
        assert_eq!(c.len(), n, "a write to an existing cell adds no row");
        let after = c.batches().unwrap();
        assert!(after[1].column(0).to_data() == before[1].column(0).to_data(), "the untouched chunk is reused");
        let amount = after[0].column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        let units = after[0].column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!((amount.value(3), units.value(3)), (1.5, 3));
        let mut again = CubeStore::new(c.cube.clone());
        again.set_columns(c.columns()).unwrap();
        assert_eq!((again.len(), again.columns()), (n, c.columns()));
        let mut bad = c.columns();
        bad.codes[0][0] = 99;
        assert!(again.set_columns(bad).unwrap_err().to_string().contains("do not fit"));
    }

    #[test]
    fn a_transactions_own_cells_keep_the_cubes_member_codes() {
        let mut i = image();
        let c = i.cube_mut("sales", "revenue").unwrap();
        for (r, m) in [("north", "m1"), ("south", "m2")] {
            let w = c.check(&cell(json!({"region": r, "month": m, "units": 1}))).unwrap();
            c.apply(&w);
        }
        // South is code 1 in the cube; in a store of the transaction's own it would be 0.
        let mine = c.check(&cell(json!({"region": "south", "month": "m9", "units": 2}))).unwrap();
        let batches = c.batches_with(&[mine]).unwrap();
        let own = batches.last().unwrap().column(0).as_any().downcast_ref::<DictionaryArray<UInt32Type>>().unwrap();
        assert_eq!((own.len(), own.keys().value(0)), (1, 1));
        assert_eq!(c.len(), 2, "the cube itself is unchanged");
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
