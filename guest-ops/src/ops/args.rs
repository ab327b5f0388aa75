//! Typed access to an op's arguments. Trailing arguments the client left out read as `none`,
//! and every mismatch is an invalid-argument error naming the argument's position.

use crate::error::{Error, Result};
use crate::rules::layout::MemoryFormat;
use crate::rules::shape::check_meta;
use crate::types::{Arg, Scalar, ScalarType, TensorMeta};

/// A `Tensor` argument, which may be a Python number PyTorch wrapped into a 0-dim tensor.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Tensor(&'a TensorMeta),
    Number(Scalar),
}

static NONE: Arg = Arg::None;

pub struct Args<'a> {
    list: &'a [Arg],
}

impl<'a> Args<'a> {
    pub fn new(list: &'a [Arg]) -> Self {
        Args { list }
    }

    /// The arguments as given.
    pub fn raw(&self) -> &'a [Arg] {
        self.list
    }

    /// Rejects more arguments than the schema has.
    pub fn at_most(&self, schema_len: usize) -> Result<()> {
        if self.list.len() > schema_len {
            return Err(Error::invalid(format!(
                "expected at most {schema_len} arguments, got {}",
                self.list.len()
            )));
        }
        Ok(())
    }

    fn get(&self, i: usize) -> &'a Arg {
        self.list.get(i).unwrap_or(&NONE)
    }

    fn wrong(&self, i: usize, wanted: &str) -> Error {
        Error::invalid(format!(
            "argument {i} must be {wanted}, but got {}",
            kind(self.get(i))
        ))
    }

    /// Every tensor is checked here, so that the rules can index and multiply freely.
    pub fn tensor(&self, i: usize) -> Result<&'a TensorMeta> {
        match self.get(i) {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) => valid(t),
            _ => Err(self.wrong(i, "a tensor")),
        }
    }

    pub fn opt_tensor(&self, i: usize) -> Result<Option<&'a TensorMeta>> {
        match self.get(i) {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) => valid(t).map(Some),
            Arg::OptionalTensor(None) | Arg::None => Ok(None),
            _ => Err(self.wrong(i, "a tensor or none")),
        }
    }

    /// A `Tensor[]`, every element checked.
    pub fn tensor_list(&self, i: usize) -> Result<&'a [TensorMeta]> {
        match self.get(i) {
            Arg::TensorList(list) => {
                for t in list {
                    valid(t)?;
                }
                Ok(list)
            }
            _ => Err(self.wrong(i, "a list of tensors")),
        }
    }

    /// A `Tensor?[]`; a plain tensor list reads as one without gaps.
    pub fn opt_tensor_list(&self, i: usize) -> Result<Vec<Option<&'a TensorMeta>>> {
        match self.get(i) {
            Arg::OptionalTensorList(list) => list
                .iter()
                .map(|t| t.as_ref().map(valid).transpose())
                .collect(),
            Arg::TensorList(list) => list.iter().map(|t| valid(t).map(Some)).collect(),
            _ => Err(self.wrong(i, "a list of optional tensors")),
        }
    }

    pub fn value(&self, i: usize) -> Result<Value<'a>> {
        match self.get(i) {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) => valid(t).map(Value::Tensor),
            other => as_scalar(other)
                .map(Value::Number)
                .ok_or_else(|| self.wrong(i, "a tensor or a number")),
        }
    }

    pub fn scalar_or(&self, i: usize, default: Scalar) -> Result<Scalar> {
        match self.get(i) {
            Arg::None => Ok(default),
            other => as_scalar(other).ok_or_else(|| self.wrong(i, "a number")),
        }
    }

    pub fn scalar(&self, i: usize) -> Result<Scalar> {
        as_scalar(self.get(i)).ok_or_else(|| self.wrong(i, "a number"))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i) {
            Arg::Integer(v) | Arg::Scalar(Scalar::Integer(v)) => Ok(Some(*v)),
            Arg::None => Ok(None),
            _ => Err(self.wrong(i, "an int")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.wrong(i, "an int"))
    }

    pub fn int_or(&self, i: usize, default: i64) -> Result<i64> {
        Ok(self.opt_int(i)?.unwrap_or(default))
    }

    pub fn opt_float(&self, i: usize) -> Result<Option<f64>> {
        match self.get(i) {
            Arg::None => Ok(None),
            Arg::Float(v) | Arg::Scalar(Scalar::Float(v)) => Ok(Some(*v)),
            Arg::Integer(v) | Arg::Scalar(Scalar::Integer(v)) => Ok(Some(*v as f64)),
            _ => Err(self.wrong(i, "a float")),
        }
    }

    pub fn float_or(&self, i: usize, default: f64) -> Result<f64> {
        Ok(self.opt_float(i)?.unwrap_or(default))
    }

    pub fn bool_or(&self, i: usize, default: bool) -> Result<bool> {
        match self.get(i) {
            Arg::None => Ok(default),
            Arg::Boolean(v) | Arg::Scalar(Scalar::Boolean(v)) => Ok(*v),
            _ => Err(self.wrong(i, "a bool")),
        }
    }

    /// An `int[]`; a lone int stands for a one-element list, as in Python.
    pub fn opt_int_list(&self, i: usize) -> Result<Option<&'a [i64]>> {
        match self.get(i) {
            Arg::IntList(v) => Ok(Some(v)),
            Arg::Integer(v) => Ok(Some(std::slice::from_ref(v))),
            Arg::None => Ok(None),
            _ => Err(self.wrong(i, "a list of ints")),
        }
    }

    pub fn int_list(&self, i: usize) -> Result<&'a [i64]> {
        self.opt_int_list(i)?
            .ok_or_else(|| self.wrong(i, "a list of ints"))
    }

    pub fn opt_dtype(&self, i: usize) -> Result<Option<ScalarType>> {
        match self.get(i) {
            Arg::Dtype(d) => Ok(Some(*d)),
            Arg::None => Ok(None),
            _ => Err(self.wrong(i, "a dtype")),
        }
    }

    pub fn dtype(&self, i: usize) -> Result<ScalarType> {
        self.opt_dtype(i)?.ok_or_else(|| self.wrong(i, "a dtype"))
    }

    pub fn opt_str(&self, i: usize) -> Result<Option<&'a str>> {
        match self.get(i) {
            Arg::Str(s) => Ok(Some(s)),
            Arg::None => Ok(None),
            _ => Err(self.wrong(i, "a string")),
        }
    }

    pub fn str(&self, i: usize) -> Result<&'a str> {
        self.opt_str(i)?.ok_or_else(|| self.wrong(i, "a string"))
    }

    pub fn memory_format(&self, i: usize) -> Result<Option<MemoryFormat>> {
        self.opt_int(i)?.map(MemoryFormat::from_code).transpose()
    }
}

fn valid(t: &TensorMeta) -> Result<&TensorMeta> {
    check_meta(t)?;
    Ok(t)
}

fn as_scalar(arg: &Arg) -> Option<Scalar> {
    match arg {
        Arg::Scalar(s) => Some(*s),
        Arg::Integer(v) => Some(Scalar::Integer(*v)),
        Arg::Float(v) => Some(Scalar::Float(*v)),
        Arg::Boolean(v) => Some(Scalar::Boolean(*v)),
        _ => None,
    }
}

fn kind(arg: &Arg) -> &'static str {
    match arg {
        Arg::Tensor(_) => "a tensor",
        Arg::OptionalTensor(_) => "an optional tensor",
        Arg::TensorList(_) => "a tensor list",
        Arg::OptionalTensorList(_) => "a list of optional tensors",
        Arg::Integer(_) => "an int",
        Arg::Float(_) => "a float",
        Arg::Boolean(_) => "a bool",
        Arg::IntList(_) => "a list of ints",
        Arg::Scalar(_) => "a number",
        Arg::Dtype(_) => "a dtype",
        Arg::None => "none",
        Arg::Str(_) => "a string",
    }
}
