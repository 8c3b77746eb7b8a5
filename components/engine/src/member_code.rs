//! A dimension's member codes as values of their own, for grouping (`group_keys`):
//! `triad_member_code(d)` is the code of each cell's member (the dictionary key: a member's
//! code never changes and names one member in every chunk of a cube, `store::Members`), and
//! the aggregate `triad_member_name(d)` gives back each group's member name.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt32Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use crate::pgaggregates::passes;

/// The type of a cube's dimension column.
pub fn is_dimension_type(t: &DataType) -> bool {
    matches!(t, DataType::Dictionary(k, v) if **k == DataType::UInt32 && **v == DataType::Utf8)
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MemberCode {
    signature: Signature,
}

impl Default for MemberCode {
    fn default() -> Self {
        MemberCode { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for MemberCode {
    fn name(&self) -> &str {
        "triad_member_code"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Array(a) if is_dimension_type(a.data_type()) => Ok(ColumnarValue::Array(Arc::new(a.as_dictionary::<UInt32Type>().keys().clone()))),
            other => exec_err!("triad_member_code takes a cube's dimension column, not {}", other.data_type()),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MemberName {
    signature: Signature,
}

impl Default for MemberName {
    fn default() -> Self {
        MemberName { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for MemberName {
    fn name(&self) -> &str {
        "triad_member_name"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NameAccumulator(None)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "name"), DataType::Utf8, true))])
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Names(vec![])))
    }
}

/// The name in row `i` of a dimension column (dictionary) or of a state (text).
fn name_at(a: &dyn Array, i: usize) -> Option<String> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i).to_string()),
        _ => {
            let d = a.as_dictionary::<UInt32Type>();
            let values = d.values().as_string::<i32>();
            let k = d.keys().value(i) as usize;
            values.is_valid(k).then(|| values.value(k).to_string())
        }
    }
}

#[derive(Debug)]
struct NameAccumulator(Option<String>);

impl Accumulator for NameAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if self.0.is_none() {
            self.0 = (0..values[0].len()).find_map(|i| name_at(values[0].as_ref(), i));
        }
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(self.0.clone())])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(self.0.clone()))
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.0.as_ref().map_or(0, String::capacity)
    }
}

/// Each group's name, taken from its first row: a group is one member code, so every row of
/// it has the same name.
#[derive(Debug)]
struct Names(Vec<Option<String>>);

impl Names {
    fn take(&mut self, values: &[ArrayRef], groups: &[usize], filter: Option<&BooleanArray>, total: usize) {
        self.0.resize(total, None);
        for (i, &g) in groups.iter().enumerate() {
            if self.0[g].is_none() && passes(filter, i) {
                self.0[g] = name_at(values[0].as_ref(), i);
            }
        }
    }
    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        Arc::new(StringArray::from(emit_to.take_needed(&mut self.0)))
    }
}

impl GroupsAccumulator for Names {
    fn update_batch(&mut self, values: &[ArrayRef], groups: &[usize], filter: Option<&BooleanArray>, total: usize) -> Result<()> {
        self.take(values, groups, filter, total);
        Ok(())
    }
    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.take(values, groups, None, total);
        Ok(())
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.emit(emit_to))
    }
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)])
    }
    fn convert_to_state(&self, values: &[ArrayRef], filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let a = values[0].as_ref();
        Ok(vec![Arc::new(StringArray::from_iter((0..a.len()).map(|i| if passes(filter, i) { name_at(a, i) } else { None })))])
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.0.iter().map(|n| 24 + n.as_ref().map_or(0, String::capacity)).sum::<usize>()
    }
}
