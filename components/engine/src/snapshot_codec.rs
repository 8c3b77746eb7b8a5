//! The bytes of a snapshot. Cells go as Arrow IPC streams with zstd-compressed buffers (one
//! per cube: a column of member codes per dimension, one of values per measure); models,
//! users and members go in a JSON header before them. At ten million cells JSON took seconds
//! of a core to write and to read, and about 400 MB of WAL that the synchronous standby had to
//! take in while the writes of the moment waited behind it; member codes compress to almost
//! nothing.
//!
//! Layout: `MAGIC`, the header's length (u64 little endian), the header, then per cube in the
//! header's order the stream's length (u64 little endian) and the stream. Snapshots written
//! before this format (JSON, starting with `{`) are still read.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use serde::{Deserialize, Serialize};

use crate::measure_column::MeasureColumn;
use crate::model::Model;
use crate::snapshot::{CubeCells, Snapshot};
use crate::store::Columns;

const MAGIC: &[u8] = b"TRIAD-SNAPSHOT-2\n";

/// Rows per IPC batch: bounds the buffers compressed and decompressed at once.
const BATCH_ROWS: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Header {
    pos: i64,
    models: Vec<Model>,
    users: BTreeMap<String, String>,
    /// Absent in snapshots of earlier releases.
    #[serde(default)]
    roles: BTreeMap<String, triad_config::UserRole>,
    cubes: Vec<CubeHeader>,
}

#[derive(Serialize, Deserialize)]
struct CubeHeader {
    model: String,
    cube: String,
    members: Vec<Vec<String>>,
    measures: usize,
    rows: usize,
}

pub fn encode(s: &Snapshot) -> Result<Vec<u8>> {
    let header = Header {
        pos: s.pos,
        models: s.models.clone(),
        users: s.users.clone(),
        roles: s.roles.clone(),
        cubes: s.cubes.iter().map(|c| CubeHeader { model: c.model.clone(), cube: c.cube.clone(), members: c.columns.members.clone(), measures: c.columns.values.len(), rows: rows(&c.columns) }).collect(),
    };
    let header = serde_json::to_vec(&header)?;
    let mut out = MAGIC.to_vec();
    out.extend((header.len() as u64).to_le_bytes());
    out.extend(header);
    for c in &s.cubes {
        let stream = cells_stream(&c.columns).with_context(|| format!("encoding the cells of {}.{}", c.model, c.cube))?;
        out.extend((stream.len() as u64).to_le_bytes());
        out.extend(stream);
    }
    Ok(out)
}

pub fn decode(bytes: &[u8]) -> Result<Snapshot> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).context("reading a snapshot in the JSON format");
    }
    let mut rest = bytes.strip_prefix(MAGIC).context("not a Triad snapshot (unknown format)")?;
    let header: Header = serde_json::from_slice(take(&mut rest)?).context("reading the snapshot's header")?;
    let mut cubes = vec![];
    for h in header.cubes {
        let stream = take(&mut rest)?;
        let (codes, values) = read_cells(stream, h.members.len(), h.measures).with_context(|| format!("reading the cells of {}.{}", h.model, h.cube))?;
        ensure!(codes.iter().all(|c| c.len() == h.rows) && values.iter().all(|v| v.len() == h.rows), "{}.{}: the snapshot's cells are incomplete", h.model, h.cube);
        cubes.push(CubeCells { model: h.model, cube: h.cube, columns: Columns { members: h.members, codes, values } });
    }
    ensure!(rest.is_empty(), "the snapshot has {} bytes after its last cube", rest.len());
    Ok(Snapshot { pos: header.pos, models: header.models, cubes, users: header.users, roles: header.roles })
}

fn rows(c: &Columns) -> usize {
    c.codes.first().map(Vec::len).or_else(|| c.values.first().map(MeasureColumn::len)).unwrap_or(0)
}

/// A length-prefixed part, taken off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<8>().context("the snapshot is cut short")?;
    let len = u64::from_le_bytes(*len) as usize;
    ensure!(tail.len() >= len, "the snapshot is cut short ({} bytes of a {len}-byte part)", tail.len());
    let (part, tail) = tail.split_at(len);
    *rest = tail;
    Ok(part)
}

fn schema(dimensions: usize, measures: usize) -> Arc<Schema> {
    let codes = (0..dimensions).map(|i| Field::new(format!("d{i}"), DataType::UInt32, false));
    let values = (0..measures).map(|i| Field::new(format!("m{i}"), DataType::Float64, true));
    Arc::new(Schema::new(codes.chain(values).collect::<Vec<_>>()))
}

fn cells_stream(c: &Columns) -> Result<Vec<u8>> {
    let schema = schema(c.codes.len(), c.values.len());
    let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::ZSTD))?;
    let mut w = StreamWriter::try_new_with_options(vec![], &schema, options)?;
    let n = rows(c);
    for start in (0..n).step_by(BATCH_ROWS) {
        let range = start..n.min(start + BATCH_ROWS);
        let mut columns: Vec<ArrayRef> = c.codes.iter().map(|col| Arc::new(UInt32Array::from(col[range.clone()].to_vec())) as ArrayRef).collect();
        columns.extend(c.values.iter().map(|col| Arc::new(col.float64(range.clone())) as ArrayRef));
        // A cube of measures alone (no dimension) still needs its row count.
        w.write(&RecordBatch::try_new_with_options(schema.clone(), columns, &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(range.len())))?)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

type Cells = (Vec<Vec<u32>>, Vec<MeasureColumn>);

fn read_cells(stream: &[u8], dimensions: usize, measures: usize) -> Result<Cells> {
    let reader = StreamReader::try_new(Cursor::new(stream), None)?;
    if reader.schema() != schema(dimensions, measures) {
        bail!("its columns do not match its header ({} dimensions, {measures} measures)", dimensions);
    }
    let (mut codes, mut values) = (vec![vec![]; dimensions], vec![MeasureColumn::default(); measures]);
    for batch in reader {
        let batch = batch?;
        for (i, col) in codes.iter_mut().enumerate() {
            let a = batch.column(i).as_any().downcast_ref::<UInt32Array>().context("a code column is not u32")?;
            col.extend_from_slice(a.values());
        }
        for (i, col) in values.iter_mut().enumerate() {
            let a = batch.column(dimensions + i).as_any().downcast_ref::<Float64Array>().context("a value column is not f64")?;
            col.extend_from_arrow(a);
        }
    }
    Ok((codes, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(rows: usize) -> Snapshot {
        // Like a cube's: few members per dimension, prices that repeat, some cells empty.
        let codes = vec![(0..rows as u32).map(|r| r % 3).collect(), (0..rows as u32).map(|r| r / 3 % 1000).collect()];
        let values = vec![(0..rows).map(|r| (r % 7 != 0).then_some((r % 400) as f64 / 4.0)).collect::<Vec<_>>().into()];
        let members = vec![vec!["a".into(), "b".into(), "c".into()], (0..1000).map(|r| format!("m{r}")).collect()];
        Snapshot {
            pos: 42,
            models: vec![],
            cubes: vec![CubeCells { model: "s".into(), cube: "c".into(), columns: Columns { members, codes, values } }],
            users: BTreeMap::from([("ana".into(), "$argon2id$x".into())]),
            roles: BTreeMap::from([("ana".into(), triad_config::UserRole::Modeler)]),
        }
    }

    #[test]
    fn a_snapshot_reads_back_as_written_nulls_included() {
        for rows in [0, 1, BATCH_ROWS + 3] {
            let s = snapshot(rows);
            let back = decode(&encode(&s).unwrap()).unwrap();
            assert_eq!(back, s, "{rows} rows");
        }
    }

    #[test]
    fn codes_compress_and_json_snapshots_still_read() {
        let s = snapshot(100_000);
        let (binary, json) = (encode(&s).unwrap(), serde_json::to_vec(&s).unwrap());
        assert!(binary.len() * 3 < json.len(), "{} bytes against {} as JSON", binary.len(), json.len());
        assert_eq!(decode(&json).unwrap(), s);
    }

    #[test]
    fn damage_is_an_error_naming_it() {
        let bytes = encode(&snapshot(10)).unwrap();
        let e = |b: &[u8]| format!("{:#}", decode(b).unwrap_err());
        assert!(e(&bytes[..bytes.len() - 5]).contains("cut short"));
        assert!(e(b"PK\x03\x04").contains("unknown format"));
        let mut longer = bytes.clone();
        longer.extend([0; 3]);
        assert!(e(&longer).contains("after its last cube"));
    }
}
