//! `pg_single_value(x)`: the value of a scalar subquery as PostgreSQL computes it — NULL for no
//! row, the value for one row, and for more than one row PostgreSQL's error "more than one row
//! returned by a subquery used as an expression". An aggregate, so that DataFusion, which
//! decorrelates only aggregate scalar subqueries, plans the correlated subqueries drivers send
//! (`subqueries` wraps their select item in it).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;

pub const NAME: &str = "pg_single_value";

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(SingleValue { signature: Signature::any(1, Volatility::Immutable) }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(One { value: ScalarValue::try_from(args.return_type())?, rows: 0 }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "value"), args.return_type().clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "rows"), DataType::UInt64, true)),
        ])
    }
}

/// The value of the one row seen (NULL until then) and how many rows were seen.
#[derive(Debug)]
struct One {
    value: ScalarValue,
    rows: u64,
}

impl One {
    fn add(&mut self, values: &ArrayRef, rows: u64, at: Option<usize>) -> Result<()> {
        self.rows += rows;
        if self.rows > 1 {
            return exec_err!("more than one row returned by a subquery used as an expression");
        }
        if let Some(i) = at {
            self.value = ScalarValue::try_from_array(values, i)?;
        }
        Ok(())
    }
}

impl Accumulator for One {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let v = &values[0];
        self.add(v, v.len() as u64, (v.len() == 1).then_some(0))
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[1].as_primitive::<UInt64Type>();
        for i in 0..counts.len() {
            let n = if counts.is_valid(i) { counts.value(i) } else { 0 };
            self.add(&states[0], n, (n == 1).then_some(i))?;
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value.clone(), ScalarValue::UInt64(Some(self.rows))])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.value.size()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn none_one_or_an_error_as_postgresql() {
        let ctx = datafusion::prelude::SessionContext::new();
        super::register(&ctx);
        let one = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { ctx.sql(sql).await?.collect().await }
        };
        let got = one("SELECT pg_single_value(x) AS v FROM (VALUES (1), (2)) t(x) WHERE x = 2").await.unwrap();
        assert_eq!(datafusion::arrow::util::pretty::pretty_format_batches(&got).unwrap().to_string().lines().nth(3), Some("| 2 |"));
        let got = one("SELECT pg_single_value(x) IS NULL AS v FROM (VALUES (1)) t(x) WHERE x = 2").await.unwrap();
        assert!(datafusion::arrow::util::pretty::pretty_format_batches(&got).unwrap().to_string().contains("true"));
        let err = one("SELECT pg_single_value(x) FROM (VALUES (1), (2)) t(x)").await.unwrap_err();
        assert!(err.to_string().contains("more than one row returned by a subquery used as an expression"), "{err}");
    }
}
