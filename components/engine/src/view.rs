//! The image as queries and write checks see it: immutable, and replaced whole. The
//! replication loop applies a batch of the log to the engine's mutable `Image`, then publishes
//! a new `View` (the Arrow batches of every cube, rebuilt only for the cubes the batch
//! touched) with one atomic pointer swap. A query takes the current view and reads it without
//! any lock, however long it runs, and applying the next batch never waits for a query: write
//! visibility no longer depends on what the dashboards are doing. A view is consistent: every
//! cube in it reflects exactly the log up to `applied`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::model::{Cube, Model};
use crate::store::Image;

/// One cube as of the view's position.
#[derive(Clone)]
pub struct CubeView {
    pub cube: Cube,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub cells: usize,
}

#[derive(Clone, Default)]
pub struct View {
    /// The log position the view reflects.
    pub applied: i64,
    pub models: BTreeMap<String, Model>,
    pub cubes: BTreeMap<(String, String), CubeView>,
    /// Approximate memory of the image (`Image::approx_bytes`) when the view was taken.
    pub bytes: usize,
}

/// Which cubes changed since the last view: the ones named, or all of them (a model was
/// published, a snapshot was loaded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Touched {
    #[default]
    Nothing,
    Cubes(BTreeSet<(String, String)>),
    All,
}

impl Touched {
    pub fn cube(&mut self, model: &str, cube: &str) {
        match self {
            Touched::All => {}
            Touched::Nothing => *self = Touched::Cubes(BTreeSet::from([(model.to_lowercase(), cube.to_lowercase())])),
            Touched::Cubes(set) => {
                set.insert((model.to_lowercase(), cube.to_lowercase()));
            }
        }
    }

    fn includes(&self, key: &(String, String)) -> bool {
        match self {
            Touched::All => true,
            Touched::Nothing => false,
            Touched::Cubes(set) => set.contains(key),
        }
    }
}

impl View {
    /// The view of `image`, reusing `previous`'s cubes that `touched` does not name.
    pub fn of(image: &mut Image, previous: &View, touched: &Touched) -> Result<View> {
        let bytes = image.approx_bytes();
        let mut cubes = BTreeMap::new();
        for (key, store) in image.cubes.iter_mut() {
            let reused = (!touched.includes(key)).then(|| previous.cubes.get(key)).flatten();
            let view = match reused {
                Some(v) => v.clone(),
                None => CubeView { cube: store.cube.clone(), schema: store.schema(), batches: store.batches()?, cells: store.len() },
            };
            cubes.insert(key.clone(), view);
        }
        Ok(View { applied: image.applied, models: image.models.clone(), cubes, bytes })
    }

    pub fn cube(&self, model: &str, cube: &str) -> Option<&CubeView> {
        self.cubes.get(&(model.to_lowercase(), cube.to_lowercase()))
    }

    /// `model.cube` of every published cube, for error messages.
    pub fn cube_names(&self) -> String {
        self.cubes.keys().map(|(m, c)| format!("{m}.{c}")).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image() -> Image {
        let mut i = Image::default();
        i.publish(Model::from_json(json!({"name": "s", "cubes": [
            {"name": "a", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "float"}]},
            {"name": "b", "dimensions": [{"name": "d"}], "measures": [{"name": "m", "type": "float"}]}]})).unwrap());
        i
    }

    fn write(i: &mut Image, cube: &str, d: &str, m: f64) {
        let store = i.cube_mut("s", cube).unwrap();
        let cell = store.check(json!({"d": d, "m": m}).as_object().unwrap()).unwrap();
        store.apply(&cell);
    }

    #[test]
    fn a_view_is_the_image_at_its_position_and_stays_so() {
        let mut i = image();
        write(&mut i, "a", "x", 1.0);
        i.applied = 1;
        let v1 = View::of(&mut i, &View::default(), &Touched::All).unwrap();
        assert_eq!((v1.applied, v1.cube("s", "a").unwrap().cells, v1.cube("S", "B").unwrap().cells), (1, 1, 0));
        write(&mut i, "a", "y", 2.0);
        i.applied = 2;
        let mut t = Touched::default();
        t.cube("s", "a");
        let v2 = View::of(&mut i, &v1, &t).unwrap();
        assert_eq!(v2.cube("s", "a").unwrap().cells, 2);
        // The earlier view is untouched by the later writes.
        assert_eq!(v1.cube("s", "a").unwrap().cells, 1);
        let rows = |v: &View, c: &str| v.cube("s", c).unwrap().batches.iter().map(|b| b.num_rows()).sum::<usize>();
        assert_eq!((rows(&v1, "a"), rows(&v2, "a")), (1, 2));
    }

    #[test]
    fn only_touched_cubes_are_rebuilt() {
        let mut i = image();
        write(&mut i, "a", "x", 1.0);
        write(&mut i, "b", "x", 1.0);
        let v1 = View::of(&mut i, &View::default(), &Touched::All).unwrap();
        write(&mut i, "b", "y", 1.0);
        // Only "a" named: "b" keeps its old batches (the caller names what it changed).
        let mut t = Touched::default();
        t.cube("s", "a");
        let v2 = View::of(&mut i, &v1, &t).unwrap();
        assert_eq!(v2.cube("s", "b").unwrap().cells, 1);
        assert_eq!(View::of(&mut i, &v1, &Touched::All).unwrap().cube("s", "b").unwrap().cells, 2);
        assert_eq!(View::of(&mut i, &v1, &Touched::Nothing).unwrap().cube("s", "a").unwrap().cells, 1);
    }
}
