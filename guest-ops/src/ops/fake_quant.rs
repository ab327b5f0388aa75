//! Quantization-aware training's fake quantization (`FakeQuantize` modules): values rounded
//! to an affine integer grid and back, with PyTorch's checks; libtorch computes them on the
//! host.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dims::select;
use crate::rules::shape::{broadcast, numel, wrap_dim, wrap_dim_of_dims};
use crate::types::{
    FusedFakeQuantizeParams, LearnableFakeQuantizeParams, LibraryOp, Output, Scalar, ScalarType,
    TensorMeta,
};

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
    check_per_channel(x, scale, zero_point, axis, (quant_min, quant_max))?;
    let op = LibraryOp::FakeQuantizePerChannel((axis, quant_min, quant_max));
    cachemask(cx, op, &[x.clone(), scale.clone(), zero_point.clone()])
}

/// The per-channel fake quantization's checks, in PyTorch's order.
fn check_per_channel(
    x: &TensorMeta,
    scale: &TensorMeta,
    zero_point: &TensorMeta,
    axis: i64,
    (quant_min, quant_max): (i64, i64),
) -> Result<()> {
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
    check_channels(x, scale, axis)?;
    check_range(quant_min, quant_max)?;
    check_axis(x, axis)?;
    check_input(x, "fake_quantize_channel_cachemask_cpu_type_handling")
}

/// One scale per slice of `x` along `axis` (`x.size(axis)`, an IndexError for a bad axis).
fn check_channels(x: &TensorMeta, scale: &TensorMeta, axis: i64) -> Result<()> {
    let channels = x.sizes[wrap_dim_of_dims(axis, x.dim())?];
    ensure!(
        numel(&scale.sizes)? == channels,
        "dimensions of scale and zero-point are not consistent with input tensor"
    );
    Ok(())
}

fn check_axis(x: &TensorMeta, axis: i64) -> Result<()> {
    ensure!(
        axis >= 0 && axis <= x.dim() as i64,
        "`axis` must be between 0 and number of dimensions of input"
    );
    Ok(())
}

/// The learnable ops' integer arguments, from `at` on, and their `grad_factor`.
fn learnable_params(
    args: &Args,
    at: usize,
    axis: Option<i64>,
) -> Result<LearnableFakeQuantizeParams> {
    Ok(LearnableFakeQuantizeParams {
        axis,
        quant_min: args.int(at)?,
        quant_max: args.int(at + 1)?,
        grad_factor: args.float_or(at + 2, 1.0)?,
    })
}

/// `scale[0]` and `zero_point[0]`, which the per-tensor learnable ops read first.
fn check_first_elements(scale: &TensorMeta, zero_point: &TensorMeta) -> Result<()> {
    select(scale, 0, 0)?;
    select(zero_point, 0, 0)?;
    Ok(())
}

/// `_fake_quantize_learnable_per_tensor_affine(self, scale, zero_point, quant_min, quant_max,
/// grad_factor=1.)`: `fake_quantize_per_tensor_affine` with the first scale and the first
/// zero point, rounded and clamped into the range, laid out as `self`.
pub fn learnable_per_tensor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (x, scale, zero_point) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check_first_elements(scale, zero_point)?;
    let params = learnable_params(args, 3, None)?;
    check_range(params.quant_min, params.quant_max)?;
    check_input(x, "fake_quantize_tensor_cachemask_kernel_type_handling")?;
    learnable(cx, params, [x, scale, zero_point])
}

/// `_fake_quantize_learnable_per_channel_affine(self, scale, zero_point, axis, quant_min,
/// quant_max, grad_factor=1.)`: `fake_quantize_per_channel_affine` with the zero points
/// rounded, clamped into the range and made int32.
pub fn learnable_per_channel(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (x, scale, zero_point) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let axis = args.int(3)?;
    let params = learnable_params(args, 4, Some(axis))?;
    check_roundable(zero_point)?;
    let rounded = TensorMeta {
        dtype: ScalarType::Int32,
        ..zero_point.clone()
    };
    let range = (params.quant_min, params.quant_max);
    check_per_channel(x, scale, &rounded, axis, range)?;
    learnable(cx, params, [x, scale, zero_point])
}

/// The per-channel learnable ops round their zero points first.
fn check_roundable(zero_point: &TensorMeta) -> Result<()> {
    ensure_kernel!(
        zero_point.dtype != ScalarType::Bool,
        "\"round_vml_cpu\" not implemented for '{}'",
        zero_point.dtype.name()
    );
    Ok(())
}

fn learnable(
    cx: &mut Ctx,
    params: LearnableFakeQuantizeParams,
    inputs: [&TensorMeta; 3],
) -> Outputs {
    let out = cx.empty_like(inputs[0])?;
    let op = LibraryOp::FakeQuantizeLearnable(params);
    launch(cx, op, &inputs.map(TensorMeta::clone), vec![out])
}

/// A learnable backward's tensors: `(grad, self, scale, zero_point)`.
fn backward_inputs<'a>(args: &Args<'a>) -> Result<[&'a TensorMeta; 4]> {
    Ok([
        args.tensor(0)?,
        args.tensor(1)?,
        args.tensor(2)?,
        args.tensor(3)?,
    ])
}

/// The learnable backwards' dtype checks of their four tensors, which PyTorch words as bare
/// conditions. A bfloat16 `self` has all four made float32 first, so nothing fails.
fn check_float(tensors: [&TensorMeta; 4]) -> Result<()> {
    if tensors[1].dtype == ScalarType::Bfloat16 {
        return Ok(());
    }
    for (t, name) in tensors.iter().zip(["dY_", "X_", "scale_", "zero_point_"]) {
        ensure!(
            t.dtype == ScalarType::Float32,
            "Expected {name}.scalar_type() == ScalarType::Float to be true, but got false.  \
             (Could this error message be improved?  If so, please report an enhancement \
             request to PyTorch.)"
        );
    }
    Ok(())
}

/// `_fake_quantize_learnable_per_tensor_affine_backward(grad, self, scale, zero_point,
/// quant_min, quant_max, grad_factor=1.)`: the gradients of `self` (laid out as it), of the
/// scale and of the zero point (one element each).
pub fn learnable_per_tensor_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let inputs = backward_inputs(args)?;
    let [grad, x, scale, zero_point] = inputs;
    check_first_elements(scale, zero_point)?;
    let params = learnable_params(args, 4, None)?;
    check_float(inputs)?;
    ensure!(
        numel(&x.sizes)? == numel(&grad.sizes)?,
        "`X` and `dY` are not the same size"
    );
    ensure!(
        params.quant_min <= 0 && params.quant_max >= 0,
        "`quant_min` should be less than or         equal to `quant_max`, and the quantization \
         range should include 0."
    );
    learnable_backward(cx, params, inputs, &[1])
}

/// `_fake_quantize_learnable_per_channel_affine_backward(grad, self, scale, zero_point, axis,
/// quant_min, quant_max, grad_factor=1.)`: the gradients of `self` (laid out as it), of the
/// scales and of the zero points (one per channel).
pub fn learnable_per_channel_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let inputs = backward_inputs(args)?;
    let [grad, x, scale, zero_point] = inputs;
    let axis = args.int(4)?;
    let params = learnable_params(args, 5, Some(axis))?;
    check_roundable(zero_point)?;
    check_float(inputs)?;
    ensure!(x.sizes == grad.sizes, "`X` and `dY` are not the same size");
    ensure!(
        params.quant_min <= 0 && params.quant_max >= 0,
        "Expecting `quant_min` <= 0 and `quant_max` >= 0"
    );
    ensure!(scale.dim() == 1, "scale should be a 1-D tensor");
    ensure!(zero_point.dim() == 1, "zero point should be a 1-D tensor");
    ensure!(
        numel(&scale.sizes)? == numel(&zero_point.sizes)?,
        "scale and zero-point need to have the same dimensions"
    );
    check_channels(x, scale, axis)?;
    // The range check takes the rounded zero points' min(), of all of them.
    ensure!(
        numel(&zero_point.sizes)? > 0,
        "min(): Expected reduction dim to be specified for input.numel() == 0. Specify the \
         reduction dim with the 'dim' argument."
    );
    ensure!(
        axis >= 0 && axis < x.dim() as i64,
        "`axis` must be between 0 and number of dimensions of input"
    );
    // One gradient per channel, summed over the other dims: over all of a 1-d `self`'s.
    let params_shape = if x.dim() == 1 {
        vec![]
    } else {
        scale.sizes.clone()
    };
    learnable_backward(cx, params, inputs, &params_shape)
}

/// The gradients of a learnable fake quantization, float32, those of the scale and zero point
/// shaped `params_shape`. Of an empty `self` PyTorch gives back `self`, the scale and the zero
/// point themselves. A `grad` of another shape (with as many elements) resizes the outputs to
/// the shape both broadcast to, as TensorIterator does, with its warning for each.
fn learnable_backward(
    cx: &mut Ctx,
    params: LearnableFakeQuantizeParams,
    [grad, x, scale, zero_point]: [&TensorMeta; 4],
    params_shape: &[i64],
) -> Outputs {
    if numel(&x.sizes)? == 0 {
        return Ok((1..=3).map(Output::Argument).collect());
    }
    let float = TensorMeta {
        dtype: ScalarType::Float32,
        ..x.clone()
    };
    let dx = if grad.sizes == x.sizes {
        cx.empty_like(&float)?
    } else {
        let shape = broadcast(&x.sizes, &grad.sizes)?;
        for _ in 0..3 {
            cx.warn_resized(x, &shape)?;
        }
        cx.empty_contiguous(&shape, ScalarType::Float32)?
    };
    let dscale = cx.empty_contiguous(params_shape, ScalarType::Float32)?;
    let dzero_point = cx.empty_contiguous(params_shape, ScalarType::Float32)?;
    let inputs = [grad, x, scale, zero_point].map(TensorMeta::clone);
    let op = LibraryOp::FakeQuantizeLearnableBackward(params);
    launch(cx, op, &inputs, vec![dx, dscale, dzero_point])
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
