//! A dimension's member codes as values of their own, for grouping (`group_keys`):
//! `triad_member_code(d)` is the code of each cell's member (the dictionary key: a member's
//! code never changes and names one member in every chunk of a cube, `store::Members`), and
//! the aggregate `triad_member_name(d)` gives back each group's member, as the dimension's own
//! dictionary type.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, StringArray, UInt32Array};
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
    /// The dimension's own type: each group's code over the member names.
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NameAccumulator(None)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format_state_name(args.name, "member"), args.return_type().clone(), true))])
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Codes { codes: vec![], set: vec![], names: None }))
    }
}

fn dimension(a: &ArrayRef) -> Result<&DictionaryArray<UInt32Type>> {
    match a.as_dictionary_opt::<UInt32Type>() {
        Some(d) if is_dimension_type(a.data_type()) => Ok(d),
        _ => exec_err!("triad_member_name takes a cube's dimension column, not {}", a.data_type()),
    }
}

fn member(name: Option<String>) -> ScalarValue {
    ScalarValue::Dictionary(Box::new(DataType::UInt32), Box::new(ScalarValue::Utf8(name)))
}

#[derive(Debug)]
struct NameAccumulator(Option<String>);

impl Accumulator for NameAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if self.0.is_none() {
            let d = dimension(&values[0])?;
            let names = d.values().as_string::<i32>();
            self.0 = d.keys().iter().flatten().find_map(|k| names.is_valid(k as usize).then(|| names.value(k as usize).to_string()));
        }
        Ok(())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![member(self.0.clone())])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(member(self.0.clone()))
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.0.as_ref().map_or(0, String::capacity)
    }
}

/// Each group's member code, and the longest member list seen: members are only ever added,
/// so every chunk's list is the start of the longest one and a code means the same name in
/// all of them. Nothing is copied per group but the code (with 416 000 region × product
/// groups a string per group cost more than grouping by the code saved).
#[derive(Debug)]
struct Codes {
    codes: Vec<u32>,
    set: Vec<bool>,
    names: Option<ArrayRef>,
}

impl Codes {
    fn take(&mut self, values: &[ArrayRef], groups: &[usize], filter: Option<&BooleanArray>, total: usize) -> Result<()> {
        let d = dimension(&values[0])?;
        if self.names.as_ref().is_none_or(|n| n.len() < d.values().len()) {
            self.names = Some(d.values().clone());
        }
        self.codes.resize(total, 0);
        self.set.resize(total, false);
        let keys = d.keys();
        for (i, &g) in groups.iter().enumerate() {
            if keys.is_valid(i) && passes(filter, i) {
                self.codes[g] = keys.value(i);
                self.set[g] = true;
            }
        }
        Ok(())
    }
    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (codes, set) = (emit_to.take_needed(&mut self.codes), emit_to.take_needed(&mut self.set));
        let keys = UInt32Array::from_iter(codes.into_iter().zip(set).map(|(c, s)| s.then_some(c)));
        let names = self.names.clone().unwrap_or_else(|| Arc::new(StringArray::from(Vec::<String>::new())));
        Ok(Arc::new(DictionaryArray::<UInt32Type>::try_new(keys, names)?))
    }
}

impl GroupsAccumulator for Codes {
    fn update_batch(&mut self, values: &[ArrayRef], groups: &[usize], filter: Option<&BooleanArray>, total: usize) -> Result<()> {
        self.take(values, groups, filter, total)
    }
    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.take(values, groups, None, total)
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to)
    }
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)?])
    }
    fn convert_to_state(&self, values: &[ArrayRef], filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let d = dimension(&values[0])?;
        let keys = UInt32Array::from_iter((0..d.len()).map(|i| (d.keys().is_valid(i) && passes(filter, i)).then(|| d.keys().value(i))));
        Ok(vec![Arc::new(DictionaryArray::<UInt32Type>::try_new(keys, d.values().clone())?)])
    }
    fn size(&self) -> usize {
        size_of_val(self) + self.codes.capacity() * 4 + self.set.capacity()
    }
}
