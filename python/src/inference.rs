//! Times the guest's shape inference for the benchmark: one op lowered again and again
//! through wasmtime, and through the client's memoised lowerings.

use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use torch_remote_host::guest::{Arg, ScalarType};
use torch_remote_host::memo::op_key;

use crate::core::{contiguous_strides, Core};
use crate::lowering::{Lowering, Lowerings};
use torch_remote_host::guest::TensorMeta;

/// Seconds per lowering: through the guest each time, and from the memo after the first.
pub struct InferenceCost {
    pub guest: f64,
    pub memoised: f64,
}

/// One benchmark argument: `(sizes, "float32")` is a contiguous tensor; ints, floats, bools,
/// int lists and None stand for themselves.
fn arg(value: &Bound<'_, PyAny>, storage: u64) -> PyResult<Arg> {
    if value.is_none() {
        return Ok(Arg::None);
    }
    if let Ok((sizes, dtype)) = value.extract::<(Vec<i64>, String)>() {
        let dtype = match dtype.as_str() {
            "float32" => ScalarType::Float32,
            "float64" => ScalarType::Float64,
            "int64" => ScalarType::Int64,
            other => return Err(PyValueError::new_err(format!("dtype {other}"))),
        };
        let strides = contiguous_strides(&sizes);
        return Ok(Arg::Tensor(TensorMeta {
            sizes,
            strides,
            storage_offset: 0,
            dtype,
            storage,
        }));
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

impl Core {
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
        let (key, named) = op_key(name, overload, args, ScalarType::Float32);
        memo.insert(key, named, last.expect("repeat > 0"));
        let start = Instant::now();
        for _ in 0..repeat {
            let (key, named) = op_key(name, overload, args, ScalarType::Float32);
            let lowering: Option<Lowering> = memo.get(&key, &named, 0);
            std::hint::black_box(lowering);
        }
        let memoised = start.elapsed().as_secs_f64() / f64::from(repeat);
        Ok(InferenceCost { guest, memoised })
    }
}
