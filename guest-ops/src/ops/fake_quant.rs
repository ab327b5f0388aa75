//! Quantization-aware training's fake quantization (`FakeQuantize` modules): values rounded
//! to an affine integer grid and back, with PyTorch's checks; libtorch computes them on the
//! host.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::shape::{numel, wrap_dim};
use crate::types::{FusedFakeQuantizeParams, LibraryOp, Output, Scalar, ScalarType, TensorMeta};

fn check_range(quant_min: i64, quant_max: i64) -> Result<()> {
    // PyTorch's message keeps the indentation of its source line.
    ensure!(
        quant_min <= quant_max,
        "`quant_min` should be less than or         equal to `quant_max`."
    );
    Ok(())
}

fn check_input(x: &TensorMeta, kernel: &str) -> Result<()> {
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    Ok(())
}

/// The fake-quantized `x` (the first input) and the mask of its elements inside the grid,
/// both laid out as `x`, from `op`.
fn cachemask(cx: &mut Ctx, op: LibraryOp, inputs: &[TensorMeta]) -> Outputs {
    let x = &inputs[0];
    let out = cx.empty_like(x)?;
    let mask = cx.empty_like(&TensorMeta {
        dtype: ScalarType::Bool,
        ..x.clone()
    })?;
    launch(cx, op, inputs, vec![out, mask])
}

/// `fake_quantize_per_tensor_affine_cachemask(self, scale, zero_point, quant_min,
/// quant_max)`.
pub fn per_tensor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let x = args.tensor(0)?;
    let (scale, zero_point) = (args.scalar(1)?.to_f64(), args.int(2)?);
    let (quant_min, quant_max) = (args.int(3)?, args.int(4)?);
    check_range(quant_min, quant_max)?;
    ensure!(
        (quant_min..=quant_max).contains(&zero_point),
        "`zero_point` must be between `quant_min` and `quant_max`."
    );
    check_input(x, "fake_quantize_tensor_cachemask_kernel_type_handling")?;
    let op = LibraryOp::FakeQuantize((scale, zero_point, quant_min, quant_max));
    cachemask(cx, op, std::slice::from_ref(x))
}

/// `_fake_quantize_per_tensor_affine_cachemask_tensor_qparams(self, scale, zero_point,
/// fake_quant_enabled, quant_min, quant_max)`: one-element qparams; with fake quantization
/// disabled, `self` and an all-true mask.
pub fn per_tensor_qparams(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let x = args.tensor(0)?;
    let qparams = [args.tensor(1)?, args.tensor(2)?, args.tensor(3)?];
    let (quant_min, quant_max) = (args.int(4)?, args.int(5)?);
    check_range(quant_min, quant_max)?;
    check_input(x, "fake_quantize_tensor_cachemask_kernel_type_handling")?;
    for t in qparams {
        let n = numel(&t.sizes)?;
        if n != 1 {
            return Err(Error::invalid(format!(
                "a Tensor with {n} elements cannot be converted to Scalar"
            )));
        }
    }
    let mut inputs = vec![x.clone()];
    inputs.extend(qparams.map(TensorMeta::clone));
    let op = LibraryOp::FakeQuantizeTensorQparams((quant_min, quant_max));
    cachemask(cx, op, &inputs)
}

/// `fake_quantize_per_channel_affine_cachemask(self, scale, zero_point, axis, quant_min,
/// quant_max)`: a float scale and zero point per slice of `self` along `axis`. A zero point
/// out of range is found by the host, from its values.
pub fn per_channel(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (x, scale, zero_point) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let axis = args.int(3)?;
    let (quant_min, quant_max) = (args.int(4)?, args.int(5)?);
    ensure!(
        matches!(scale.dtype, ScalarType::Float32 | ScalarType::Bfloat16),
        "Scale must be Float or BFloat16, found {}",
        scale.dtype.name()
    );
    ensure!(
        matches!(
            zero_point.dtype,
            ScalarType::Int32 | ScalarType::Float32 | ScalarType::Float16
        ),
        "Zero-point must be Int32, Float or Half, found {}",
        zero_point.dtype.name()
    );
    ensure!(scale.dim() == 1, "scale should be a 1-D tensor");
    ensure!(zero_point.dim() == 1, "zero point should be a 1-D tensor");
    ensure!(
        scale.sizes == zero_point.sizes,
        "scale and zero-point need to have the same dimensions"
    );
    let channels = x.sizes[wrap_dim(axis, x.dim())?];
    ensure!(
        scale.sizes[0] == channels,
        "dimensions of scale and zero-point are not consistent with input tensor"
    );
    check_range(quant_min, quant_max)?;
    ensure!(
        axis >= 0 && axis <= x.dim() as i64,
        "`axis` must be between 0 and number of dimensions of input"
    );
    check_input(x, "fake_quantize_channel_cachemask_cpu_type_handling")?;
    let op = LibraryOp::FakeQuantizePerChannel((axis, quant_min, quant_max));
    cachemask(cx, op, &[x.clone(), scale.clone(), zero_point.clone()])
}

/// Checks that `t`, the argument `name` of the fused observer, has `n` elements: libtorch's
/// kernel reads them unchecked.
fn check_numel(t: &TensorMeta, name: &str, n: i64) -> Result<()> {
    ensure!(
        numel(&t.sizes)? == n,
        "_fused_moving_avg_obs_fq_helper: expected {name} of {n} elements, but got {}",
        t.describe()
    );
    Ok(())
}

/// Checks that `t`, part of the fused observer's state, has `dtype` and, unless `n` is none,
/// that many elements.
fn check_state(t: &TensorMeta, name: &str, dtype: ScalarType, n: Option<i64>) -> Result<()> {
    ensure!(
        t.dtype == dtype,
        "_fused_moving_avg_obs_fq_helper: expected {name} of dtype {}, but got {}",
        dtype.name(),
        t.describe()
    );
    n.map_or(Ok(()), |n| check_numel(t, name, n))
}

/// `_fused_moving_avg_obs_fq_helper(self, observer_on, fake_quant_on, running_min!,
/// running_max!, scale!, zero_point!, averaging_const, quant_min, quant_max, ch_axis,
/// per_row_fake_quant=False, symmetric_quant=False)`: the fake-quantized `self` and its
/// mask. Per row, empty running ranges first become one element per slice of `self` along
/// `ch_axis` (min +inf, max -inf), with scale and zero point resized to match; those
/// arguments come back as updates past the two results. The observer's state must be as its
/// modules make it, which libtorch's kernel reads without checks.
pub fn fused_observer(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(13)?;
    let x = args.tensor(0)?;
    let flags = [args.tensor(1)?, args.tensor(2)?];
    let (running_min, running_max) = (args.tensor(3)?, args.tensor(4)?);
    let (scale, zero_point) = (args.tensor(5)?, args.tensor(6)?);
    let params = FusedFakeQuantizeParams {
        averaging_const: args.scalar(7)?.to_f64(),
        quant_min: args.int(8)?,
        quant_max: args.int(9)?,
        ch_axis: args.int(10)?,
        per_row: args.bool_or(11, false)?,
        symmetric: args.bool_or(12, false)?,
    };
    ensure!(
        params.ch_axis < x.dim() as i64,
        "Error in fused_moving_avg_obs_fake_quant_cpu: ch_axis must be < self.dim()"
    );
    // libtorch's kernel would index its permutation with a negative axis.
    ensure!(
        !params.per_row || params.ch_axis >= 0,
        "_fused_moving_avg_obs_fq_helper: ch_axis must not be negative, but got {}",
        params.ch_axis
    );
    ensure!(
        x.dtype == ScalarType::Float32,
        "expected scalar type Float but found {}",
        x.dtype.name()
    );
    check_range(params.quant_min, params.quant_max)?;
    for (flag, name) in flags.iter().zip(["observer_on", "fake_quant_on"]) {
        check_numel(flag, name, 1)?;
    }
    let channels = if params.per_row {
        x.sizes[wrap_dim(params.ch_axis, x.dim())?]
    } else {
        1
    };
    let fresh = params.per_row && numel(&running_min.sizes)? == 0;
    let state_len = if fresh { None } else { Some(channels) };
    check_state(running_min, "running_min", ScalarType::Float32, state_len)?;
    check_state(running_max, "running_max", ScalarType::Float32, state_len)?;
    check_state(scale, "scale", ScalarType::Float32, state_len)?;
    check_state(zero_point, "zero_point", ScalarType::Int32, state_len)?;
    let mut updates = vec![];
    let mut state = [running_min, running_max, scale, zero_point].map(TensorMeta::clone);
    if fresh {
        for (i, t) in state.iter_mut().enumerate() {
            *t = cx.resize(t, &[channels], vec![1])?;
            updates.push(Output::Updated((3 + i as u32, t.clone())));
        }
        for (t, bound) in state[..2].iter().zip([f64::INFINITY, f64::NEG_INFINITY]) {
            cx.k.fill(t, Scalar::Float(bound)).map_err(failed("fill"))?;
        }
    }
    let mut inputs = vec![x.clone(), flags[0].clone(), flags[1].clone()];
    inputs.extend(state);
    let mut outputs = cachemask(cx, LibraryOp::FusedFakeQuantize(params), &inputs)?;
    outputs.extend(updates);
    Ok(outputs)
}
