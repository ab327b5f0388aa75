//! The guest's shape inference asked from Python without running an op: timed for the
//! benchmark (one op lowered again and again through wasmtime, and through the client's
//! memoised lowerings), and the output layouts torch.compile's fake tensors take.

use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use torch_remote_host::guest::{Arg, Output, ScalarType, TensorMeta, DEFAULT_SETTINGS};
use torch_remote_host::memo::op_key;

use crate::core::{contiguous_strides, Core};
use crate::lowering::{Lowering, Lowerings};

/// Seconds per lowering: through the guest each time, and from the memo after the first.
pub struct InferenceCost {
    pub guest: f64,
    pub memoised: f64,
}

/// The dtype PyTorch names `name` (`torch.float32` without `torch.`).
fn dtype_named(name: &str) -> PyResult<ScalarType> {
    Ok(match name {
        "uint8" => ScalarType::Uint8,
        "int8" => ScalarType::Int8,
        "int16" => ScalarType::Int16,
        "int32" => ScalarType::Int32,
        "int64" => ScalarType::Int64,
        "float16" => ScalarType::Float16,
        "float32" => ScalarType::Float32,
        "float64" => ScalarType::Float64,
        "bool" => ScalarType::Bool,
        "bfloat16" => ScalarType::Bfloat16,
        "complex64" => ScalarType::Complex64,
        "complex128" => ScalarType::Complex128,
        other => return Err(PyValueError::new_err(format!("dtype {other}"))),
    })
}

/// One argument: `(sizes, "float32")` is a contiguous tensor and `(sizes, strides, "float32")`
/// a strided one; ints, floats, bools, int lists and None stand for themselves.
fn arg(value: &Bound<'_, PyAny>, storage: u64) -> PyResult<Arg> {
    if value.is_none() {
        return Ok(Arg::None);
    }
    let tensor = |sizes: Vec<i64>, strides: Vec<i64>, dtype: &str| {
        Ok(Arg::Tensor(TensorMeta {
            sizes,
            strides,
            storage_offset: 0,
            dtype: dtype_named(dtype)?,
            storage,
        }))
    };
    if let Ok((sizes, dtype)) = value.extract::<(Vec<i64>, String)>() {
        let strides = contiguous_strides(&sizes);
        return tensor(sizes, strides, &dtype);
    }
    if let Ok((sizes, strides, dtype)) = value.extract::<(Vec<i64>, Vec<i64>, String)>() {
        return tensor(sizes, strides, &dtype);
    }
    if let Ok(b) = value.extract::<bool>() {
        return Ok(Arg::Boolean(b));
    }
    if let Ok(i) = value.extract::<i64>() {
        return Ok(Arg::Integer(i));
    }
    if let Ok(f) = value.extract::<f64>() {
        return Ok(Arg::Float(f));
    }
    Ok(Arg::IntList(value.extract::<Vec<i64>>()?))
}

pub fn args(values: &[Bound<'_, PyAny>]) -> PyResult<Vec<Arg>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| arg(v, u64::MAX - i as u64))
        .collect()
}

/// The sizes and strides of each output an op returns (none for one without a tensor).
pub type Layouts = Vec<Option<(Vec<i64>, Vec<i64>)>>;

impl Core {
    /// The layouts the guest gives the outputs of `name.overload` on `args`.
    pub fn layouts(
        &mut self,
        name: &str,
        overload: &str,
        args: &[Arg],
    ) -> crate::core::Result<Layouts> {
        let lowering = self.lower(0, name, overload, args)?;
        Ok(lowering
            .outputs
            .into_iter()
            .map(|output| match output {
                Output::Tensor(m) => Some((m.sizes, m.strides)),
                _ => None,
            })
            .collect())
    }

    /// Lowers `name.overload` on `args` `repeat` times each way.
    pub fn time_inference(
        &mut self,
        name: &str,
        overload: &str,
        args: &[Arg],
        repeat: u32,
    ) -> crate::core::Result<InferenceCost> {
        let start = Instant::now();
        let mut last = None;
        for _ in 0..repeat {
            last = Some(self.lower(0, name, overload, args)?);
        }
        let guest = start.elapsed().as_secs_f64() / f64::from(repeat);
        let mut memo = Lowerings::default();
        let (key, named) = op_key(name, overload, args, &DEFAULT_SETTINGS);
        memo.insert(key, named, last.expect("repeat > 0"));
        let start = Instant::now();
        for _ in 0..repeat {
            let (key, named) = op_key(name, overload, args, &DEFAULT_SETTINGS);
            let lowering: Option<Lowering> = memo.get(&key, &named, 0);
            std::hint::black_box(lowering);
        }
        let memoised = start.elapsed().as_secs_f64() / f64::from(repeat);
        Ok(InferenceCost { guest, memoised })
    }
}
