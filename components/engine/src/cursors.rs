//! Server-side cursors (`DECLARE name CURSOR FOR query`, `FETCH`, `CLOSE`), as psycopg's and
//! psycopg2's named cursors and pgJDBC's fetch size use them: the query runs at DECLARE, its
//! result is kept in the session and handed out FETCH by FETCH. Forward only (NO SCROLL);
//! a cursor without HOLD ends with its transaction block, as in PostgreSQL.

use std::collections::{HashMap, VecDeque};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

/// A declared cursor: its columns and the rows not fetched yet.
#[derive(Debug)]
pub struct Cursor {
    pub schema: SchemaRef,
    rows: VecDeque<RecordBatch>,
    pub hold: bool,
}

#[derive(Debug, Default)]
pub struct Cursors(HashMap<String, Cursor>);

/// How many rows a FETCH takes: a count, or all that are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    Rows(usize),
    All,
}

impl Cursor {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>, hold: bool) -> Cursor {
        Cursor { schema, rows: batches.into_iter().filter(|b| b.num_rows() > 0).collect(), hold }
    }

    /// The next rows, at most `take`.
    pub fn fetch(&mut self, take: Take) -> Vec<RecordBatch> {
        let mut left = match take {
            Take::Rows(n) => n,
            Take::All => usize::MAX,
        };
        let mut out = vec![];
        while left > 0 {
            let Some(b) = self.rows.pop_front() else { break };
            if b.num_rows() <= left {
                left -= b.num_rows();
                out.push(b);
            } else {
                out.push(b.slice(0, left));
                self.rows.push_front(b.slice(left, b.num_rows() - left));
                left = 0;
            }
        }
        out
    }
}

impl Cursors {
    pub fn declare(&mut self, name: &str, cursor: Cursor) -> Result<(), (&'static str, String)> {
        if self.0.contains_key(name) {
            return Err(("42P03", format!("cursor \"{name}\" already exists")));
        }
        self.0.insert(name.to_string(), cursor);
        Ok(())
    }

    pub fn get(&mut self, name: &str) -> Result<&mut Cursor, (&'static str, String)> {
        self.0.get_mut(name).ok_or_else(|| ("34000", format!("cursor \"{name}\" does not exist")))
    }

    pub fn close(&mut self, name: Option<&str>) -> Result<(), (&'static str, String)> {
        match name {
            None => self.0.clear(),
            Some(n) => {
                self.0.remove(n).ok_or_else(|| ("34000", format!("cursor \"{n}\" does not exist")))?;
            }
        }
        Ok(())
    }

    /// The end of a transaction block: cursors without HOLD are gone.
    pub fn block_ended(&mut self) {
        self.0.retain(|_, c| c.hold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(values: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
    }

    fn values(batches: &[RecordBatch]) -> Vec<i64> {
        batches.iter().flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()).collect()
    }

    #[test]
    fn fetches_hand_out_the_rows_in_order_across_batches() {
        let b = batch(&[1, 2, 3]);
        let mut c = Cursor::new(b.schema(), vec![b, batch(&[]), batch(&[4, 5])], false);
        assert_eq!(values(&c.fetch(Take::Rows(2))), [1, 2]);
        assert_eq!(values(&c.fetch(Take::Rows(2))), [3, 4]);
        assert_eq!(values(&c.fetch(Take::All)), [5]);
        assert!(c.fetch(Take::Rows(10)).is_empty() && c.fetch(Take::All).iter().all(|b| b.column(0).is_empty()));
    }

    #[test]
    fn cursors_without_hold_end_with_the_block() {
        let b = batch(&[1]);
        let mut cs = Cursors::default();
        cs.declare("a", Cursor::new(b.schema(), vec![b.clone()], false)).unwrap();
        cs.declare("h", Cursor::new(b.schema(), vec![b.clone()], true)).unwrap();
        assert_eq!(cs.declare("a", Cursor::new(b.schema(), vec![], false)).unwrap_err().0, "42P03");
        cs.block_ended();
        assert_eq!(cs.get("a").unwrap_err().0, "34000");
        assert!(cs.get("h").is_ok());
        cs.close(Some("h")).unwrap();
        assert_eq!(cs.close(Some("h")).unwrap_err().0, "34000");
    }
}
