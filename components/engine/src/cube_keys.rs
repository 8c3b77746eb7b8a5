//! Each cube's primary key in the catalog, as PostgreSQL shows a table's: a cell is addressed
//! by its dimensions (the cube's NOT NULL columns), so `pg_constraint` holds a constraint
//! `<cube>_pkey` (contype `p`) and `pg_index` and `pg_class` its unique index over them —
//! what pgJDBC's getPrimaryKeys and SQLAlchemy's get_pk_constraint read. The rows are added to
//! datafusion-pg-catalog's tables when they are scanned, from its own `pg_class`,
//! `pg_namespace` and `pg_attribute` rows (so the oids agree); the index's and constraint's
//! oids are derived from the cube's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, new_empty_array};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

use crate::pgproc::{column, int, text};

/// `pg_catalog` with the cubes' keys in `pg_class`, `pg_index` and `pg_constraint`.
#[derive(Debug)]
pub struct WithKeys {
    inner: Arc<dyn SchemaProvider>,
    indexes: Indexes,
}

impl WithKeys {
    pub fn new(inner: Arc<dyn SchemaProvider>, indexes: Indexes) -> WithKeys {
        WithKeys { inner, indexes }
    }
}

/// The key indexes seen by the latest scans, by oid: `pg_get_indexdef(oid, ...)` answers from
/// them (a query learns an index's oid only by reading pg_index or pg_class, which fills this
/// before the query's functions run).
#[derive(Debug, Clone, Default)]
pub struct Indexes(Arc<std::sync::RwLock<HashMap<i64, IndexDef>>>);

#[derive(Debug, Clone)]
struct IndexDef {
    table: String,
    name: String,
    columns: Vec<String>,
}

impl Indexes {
    /// PostgreSQL's `pg_get_indexdef(oid)` (`column` 0) or the name of its key column `column`;
    /// NULL for another oid (PostgreSQL's answer for an oid that is no index).
    fn definition(&self, oid: i64, column: i64) -> Option<String> {
        let map = self.0.read().unwrap();
        let d = map.get(&oid)?;
        if column == 0 {
            return Some(format!("CREATE UNIQUE INDEX {} ON {} USING btree ({})", d.name, d.table, d.columns.join(", ")));
        }
        d.columns.get(usize::try_from(column).ok()?.checked_sub(1)?).cloned()
    }

    /// `pg_get_indexdef(oid)` and `pg_get_indexdef(oid, column, pretty)`.
    pub fn udf(&self) -> datafusion::logical_expr::ScalarUDF {
        datafusion::logical_expr::ScalarUDF::new_from_impl(IndexDefFn { indexes: self.clone(), signature: datafusion::logical_expr::Signature::one_of(vec![datafusion::logical_expr::TypeSignature::Any(1), datafusion::logical_expr::TypeSignature::Any(3)], datafusion::logical_expr::Volatility::Stable) })
    }
}

#[derive(Debug)]
struct IndexDefFn {
    indexes: Indexes,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for IndexDefFn {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for IndexDefFn {}
impl std::hash::Hash for IndexDefFn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "pg_get_indexdef".hash(state)
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for IndexDefFn {
    fn name(&self) -> &str {
        "pg_get_indexdef"
    }
    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: datafusion::logical_expr::ScalarFunctionArgs) -> Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::{Array, Int64Array, StringArray};
        let rows = args.number_rows;
        let scalar = args.args.iter().all(|a| matches!(a, datafusion::logical_expr::ColumnarValue::Scalar(_)));
        let int = |i: usize| -> Result<Option<Int64Array>> {
            match args.args.get(i) {
                None => Ok(None),
                Some(a) => Ok(Some(datafusion::arrow::compute::cast(&a.to_array(rows)?, &DataType::Int64)?.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone())),
            }
        };
        let (oids, columns) = (int(0)?.expect("one argument at least"), int(1)?);
        let out: StringArray = (0..rows)
            .map(|i| {
                let column = match &columns {
                    Some(c) if c.is_null(i) => return None,
                    Some(c) => c.value(i),
                    None => 0,
                };
                (!oids.is_null(i)).then(|| self.indexes.definition(oids.value(i), column)).flatten()
            })
            .collect();
        let out: datafusion::arrow::array::ArrayRef = Arc::new(out);
        Ok(if scalar { datafusion::logical_expr::ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?) } else { datafusion::logical_expr::ColumnarValue::Array(out) })
    }
}

#[async_trait]
impl SchemaProvider for WithKeys {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        Ok(match (name, table) {
            ("pg_class" | "pg_index" | "pg_constraint", Some(table)) => Some(Arc::new(KeyRows { name: name.to_string(), table, catalog: self.inner.clone(), indexes: self.indexes.clone() })),
            (_, table) => table,
        })
    }
    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// One of the three tables, with the keys' rows after its own.
#[derive(Debug)]
struct KeyRows {
    name: String,
    table: Arc<dyn TableProvider>,
    catalog: Arc<dyn SchemaProvider>,
    indexes: Indexes,
}

#[async_trait]
impl TableProvider for KeyRows {
    fn schema(&self) -> SchemaRef {
        let inner = self.table.schema();
        if self.name != "pg_class" {
            return inner;
        }
        // pg_class's columns that datafusion-pg-catalog's lacks (SQLAlchemy's and psql's
        // queries name them), NULL for every relation as for one without ACL or options.
        let mut fields: Vec<datafusion::arrow::datatypes::FieldRef> = inner.fields().iter().cloned().collect();
        for name in ["relacl", "reloptions"] {
            if inner.field_with_name(name).is_err() {
                fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(name, DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new_list_field(DataType::Utf8, true))), true)));
            }
        }
        Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(fields, inner.metadata().clone()))
    }
    fn table_type(&self) -> TableType {
        self.table.table_type()
    }
    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, _filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        let mut batches = scan(state, &self.table).await?;
        let keys = keys(state, &self.catalog).await?;
        self.indexes.0.write().unwrap().extend(keys.iter().map(|k| (k.index_oid(), IndexDef { table: k.table.clone(), name: format!("{}_pkey", k.name), columns: k.columns.clone() })));
        let template = batches.iter().find(|b| b.num_rows() > 0).map(|b| b.slice(0, 1));
        let schema = self.table.schema();
        let added = match self.name.as_str() {
            "pg_class" => {
                let rows: Vec<(RecordBatch, Vec<(&str, Option<String>)>)> = keys.iter().map(|k| (k.class_row.clone(), k.index_class())).collect();
                let mut out = vec![];
                for (template, values) in rows {
                    out.push(rows_of(&schema, Some(&template), &[values])?);
                }
                out
            }
            "pg_index" => vec![rows_of(&schema, template.as_ref(), &keys.iter().map(Key::index).collect::<Vec<_>>())?],
            _ => vec![rows_of(&schema, template.as_ref(), &keys.iter().map(Key::constraint).collect::<Vec<_>>())?],
        };
        batches.extend(added);
        let wide = self.schema();
        let batches = batches
            .into_iter()
            .map(|b| {
                let mut columns = b.columns().to_vec();
                columns.extend(wide.fields()[b.num_columns()..].iter().map(|f| datafusion::arrow::array::new_null_array(f.data_type(), b.num_rows())));
                RecordBatch::try_new(wide.clone(), columns)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        MemTable::try_new(wide, vec![batches])?.scan(state, projection, &[], limit).await
    }
}

async fn scan(state: &dyn Session, table: &Arc<dyn TableProvider>) -> Result<Vec<RecordBatch>> {
    collect(table.scan(state, None, &[], None).await?, state.task_ctx()).await
}

/// A cube's key: its pg_class row, oid, namespace and the attnums of its dimensions.
struct Key {
    class_row: RecordBatch,
    oid: i64,
    namespace: i64,
    name: String,
    attnums: Vec<i64>,
    /// `schema.table`, and the key columns' names (quoted where PostgreSQL would).
    table: String,
    columns: Vec<String>,
}

impl Key {
    fn index_oid(&self) -> i64 {
        (1 << 30) + 2 * self.oid
    }
    fn constraint_oid(&self) -> i64 {
        self.index_oid() + 1
    }
    fn vector(&self, each: impl Fn(i64) -> String) -> String {
        self.attnums.iter().map(|a| each(*a)).collect::<Vec<_>>().join(" ")
    }
    fn index_class(&self) -> Vec<(&'static str, Option<String>)> {
        let s = |v: &str| Some(v.to_string());
        vec![
            ("oid", Some(self.index_oid().to_string())),
            ("relname", Some(format!("{}_pkey", self.name))),
            ("relkind", s("i")),
            ("relam", s("403")),
            ("reltype", s("0")),
            ("relfilenode", Some(self.index_oid().to_string())),
            ("relnatts", Some(self.attnums.len().to_string())),
            ("relhasindex", s("false")),
            ("relchecks", s("0")),
        ]
    }
    fn index(&self) -> Vec<(&'static str, Option<String>)> {
        let (t, f, n) = (Some("true".to_string()), Some("false".to_string()), Some(self.attnums.len().to_string()));
        vec![
            ("indexrelid", Some(self.index_oid().to_string())),
            ("indrelid", Some(self.oid.to_string())),
            ("indnatts", n.clone()),
            ("indnkeyatts", n),
            ("indisunique", t.clone()),
            ("indnullsnotdistinct", f.clone()),
            ("indisprimary", t.clone()),
            ("indisexclusion", f.clone()),
            ("indimmediate", t.clone()),
            ("indisclustered", f.clone()),
            ("indisvalid", t.clone()),
            ("indcheckxmin", f.clone()),
            ("indisready", t.clone()),
            ("indislive", t),
            ("indisreplident", f),
            ("indkey", Some(self.vector(|a| a.to_string()))),
            // text columns: the default collation, text_ops, ascending.
            ("indcollation", Some(self.vector(|_| "100".into()))),
            ("indclass", Some(self.vector(|_| "3126".into()))),
            ("indoption", Some(self.vector(|_| "0".into()))),
            ("indexprs", None),
            ("indpred", None),
        ]
    }
    fn constraint(&self) -> Vec<(&'static str, Option<String>)> {
        let s = |v: &str| Some(v.to_string());
        let keys = self.attnums.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
        vec![
            ("oid", Some(self.constraint_oid().to_string())),
            ("conname", Some(format!("{}_pkey", self.name))),
            ("connamespace", Some(self.namespace.to_string())),
            ("contype", s("p")),
            ("condeferrable", s("false")),
            ("condeferred", s("false")),
            ("convalidated", s("true")),
            ("conrelid", Some(self.oid.to_string())),
            ("contypid", s("0")),
            ("conindid", Some(self.index_oid().to_string())),
            ("conparentid", s("0")),
            ("confrelid", s("0")),
            ("confupdtype", s(" ")),
            ("confdeltype", s(" ")),
            ("confmatchtype", s(" ")),
            ("conislocal", s("true")),
            ("coninhcount", s("0")),
            ("connoinherit", s("true")),
            ("conkey", Some(format!("{{{keys}}}"))),
            ("confkey", None),
            ("conpfeqop", None),
            ("conppeqop", None),
            ("conffeqop", None),
            ("confdelsetcols", None),
            ("conexclop", None),
            ("conbin", None),
        ]
    }
}

/// The keys of the cubes: every ordinary table outside pg_catalog and information_schema,
/// over its NOT NULL columns (the dimensions).
async fn keys(state: &dyn Session, catalog: &Arc<dyn SchemaProvider>) -> Result<Vec<Key>> {
    let table = |name: &'static str| async move { catalog.table(name).await?.ok_or_else(|| datafusion::error::DataFusionError::Plan(format!("pg_catalog.{name} is missing"))) };
    let (mut system, mut namespaces) = (vec![], HashMap::new());
    for b in scan(state, &table("pg_namespace").await?).await? {
        let (oid, name) = (column(&b, "oid", &DataType::Int64)?, column(&b, "nspname", &DataType::Utf8)?);
        for i in 0..b.num_rows() {
            if matches!(text(&name[i]).as_deref(), Some("pg_catalog" | "information_schema")) {
                system.extend(int(&oid[i]));
            }
            if let (Some(oid), Some(name)) = (int(&oid[i]), text(&name[i])) {
                namespaces.insert(oid, name);
            }
        }
    }
    let mut attnums: HashMap<i64, BTreeMap<i64, String>> = HashMap::new();
    for b in scan(state, &table("pg_attribute").await?).await? {
        let (rel, num, notnull, name) = (column(&b, "attrelid", &DataType::Int64)?, column(&b, "attnum", &DataType::Int64)?, column(&b, "attnotnull", &DataType::Boolean)?, column(&b, "attname", &DataType::Utf8)?);
        for i in 0..b.num_rows() {
            if let (Some(rel), Some(num), Some(ScalarValue::Boolean(Some(true))), Some(name)) = (int(&rel[i]), int(&num[i]), &notnull[i], text(&name[i]))
                && num > 0
            {
                attnums.entry(rel).or_default().insert(num, name);
            }
        }
    }
    let mut keys = vec![];
    for b in scan(state, &table("pg_class").await?).await? {
        let (oid, ns, name, kind) = (column(&b, "oid", &DataType::Int64)?, column(&b, "relnamespace", &DataType::Int64)?, column(&b, "relname", &DataType::Utf8)?, column(&b, "relkind", &DataType::Utf8)?);
        for i in 0..b.num_rows() {
            let (Some(oid), Some(namespace), Some(name)) = (int(&oid[i]), int(&ns[i]), text(&name[i])) else { continue };
            if text(&kind[i]).as_deref() != Some("r") || system.contains(&namespace) {
                continue;
            }
            let Some(nums) = attnums.get(&oid).filter(|n| !n.is_empty()) else { continue };
            let table = format!("{}.{}", quote(namespaces.get(&namespace).map_or("", |n| n.as_str())), quote(&name));
            keys.push(Key { class_row: b.slice(i, 1), oid, namespace, name, attnums: nums.keys().copied().collect(), table, columns: nums.values().map(|c| quote(c)).collect() });
        }
    }
    Ok(keys)
}

/// An identifier as PostgreSQL writes it: quoted unless lower case letters, digits and `_`.
fn quote(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// Rows of `schema`: each column's value from `values` (text, cast to the column's type;
/// `None` is NULL where the column allows it), else the template row's.
fn rows_of(schema: &SchemaRef, template: Option<&RecordBatch>, values: &[Vec<(&str, Option<String>)>]) -> Result<RecordBatch> {
    let mut columns = vec![];
    for (c, field) in schema.fields().iter().enumerate() {
        let from_template = || template.map_or_else(|| ScalarValue::try_from(field.data_type()), |t| ScalarValue::try_from_array(t.column(c), 0));
        let mut column = vec![];
        for row in values {
            column.push(match row.iter().find(|(n, _)| *n == field.name()) {
                Some((_, Some(v))) => ScalarValue::Utf8(Some(v.clone())).cast_to(field.data_type())?,
                Some((_, None)) if field.is_nullable() => ScalarValue::try_from(field.data_type())?,
                _ => from_template()?,
            });
        }
        columns.push(if column.is_empty() { new_empty_array(field.data_type()) } else { ScalarValue::iter_to_array(column)? });
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
