//! Pooling over 2 or 3 spatial dims and its backwards: `max_pool{2,3}d_with_indices`,
//! `avg_pool{2,3}d`, `_adaptive_avg_pool{2,3}d`, `adaptive_max_pool{2,3}d`. Outputs keep a
//! 4-d input's channels-last layout (and max pooling a 5-d input's channels-last-3d one), as
//! PyTorch's CPU kernels do.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::check_not_bool;
use crate::rules::layout::{contiguous_strides, strides_for, suggest_memory_format, MemoryFormat};
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{Output, PoolOp, PoolParams, ScalarType, TensorMeta};

/// One pooling: its op, over how many spatial dims, and the name PyTorch reports it by.
#[derive(Clone, Copy)]
pub struct Pooling {
    pub op: PoolOp,
    pub dims: usize,
}

impl Pooling {
    fn name(self) -> String {
        let kind = match self.op {
            PoolOp::Max => "max_pool",
            PoolOp::Avg => "avg_pool",
            PoolOp::AdaptiveAvg => "adaptive_avg_pool",
            PoolOp::AdaptiveMax => "adaptive_max_pool",
        };
        format!("{kind}{}d", self.dims)
    }

    /// The layout of the pooled output of `x`: channels-last kept in 2-d, and by max pooling
    /// in 3-d; contiguous otherwise.
    fn strides(self, x: &TensorMeta, sizes: &[i64]) -> Result<Vec<i64>> {
        if self.dims == 3 && self.op != PoolOp::Max {
            return contiguous_strides(sizes);
        }
        strides_for(sizes, suggest_memory_format(&x.sizes, &x.strides))
    }
}

/// A 1- or `n`-element int list as `n` values; `empty` stands for a missing one.
fn spatial(list: &[i64], pooling: Pooling, what: &str, empty: Option<&[i64]>) -> Result<Vec<i64>> {
    let n = pooling.dims;
    match (list, empty) {
        ([], Some(default)) => Ok(default.to_vec()),
        ([v], _) => Ok(vec![*v; n]),
        (l, _) if l.len() == n => Ok(l.to_vec()),
        _ => Err(Error::invalid(list_message(pooling, what))),
    }
}

/// The CPU's message for a window list of the wrong length, whose wording each op has its own.
fn list_message(pooling: Pooling, what: &str) -> String {
    let count = if pooling.dims == 2 { "two" } else { "three" };
    let must = match (what, pooling.op, pooling.dims) {
        ("dilation", _, _) => "must be either",
        (_, PoolOp::Avg, 3) => "must be",
        _ => "must either be",
    };
    let omitted = if what == "stride" { "omitted, " } else { "" };
    format!(
        "{}: {what} {must} {omitted}a single int, or a tuple of {count} ints",
        pooling.name()
    )
}

/// `values` labelled per spatial dim as the CPU's shape checks print them (`kT: 2 kH: 2`).
fn labelled(prefix: &str, values: &[i64]) -> String {
    let axes = &["T", "H", "W"][3 - values.len()..];
    let parts: Vec<String> = axes
        .iter()
        .zip(values)
        .map(|(axis, v)| format!("{prefix}{axis}: {v}"))
        .collect();
    parts.join(" ")
}

/// The input's rank, checked after the window lists' lengths as the CPU does.
fn check_rank(x: &TensorMeta, dims: usize) -> Result<()> {
    ensure!(
        x.dim() == dims + 1 || x.dim() == dims + 2,
        "non-empty {}D or {}D (batch mode) tensor expected for input",
        dims + 1,
        dims + 2
    );
    Ok(())
}

/// Only the batch dim may be empty, checked after the window parameters as the CPU does
/// (whose 3-d message names the zero length where it means the dim).
fn check_nonempty(x: &TensorMeta, pooling: Pooling) -> Result<()> {
    let batched = x.dim() == pooling.dims + 2;
    let rest = &x.sizes[usize::from(batched)..];
    if pooling.dims == 2 {
        ensure!(
            rest.iter().all(|s| *s != 0),
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but \
             got:{}",
            fmt_shape(&x.sizes)
        );
        return Ok(());
    }
    let function = match pooling.op {
        PoolOp::Max => "max_pool3d_with_indices_out_cpu_template",
        _ => "avg_pool3d",
    };
    ensure!(
        rest.iter().all(|s| *s > 0),
        "{function}(): Expected input's non-batch dimensions to have positive length, but input \
         has a shape of {} and non-batch dimension 0 has length zero!",
        fmt_shape(&x.sizes)
    );
    Ok(())
}

/// `pooling_output_shape`.
fn out_size(input: i64, kernel: i64, pad: i64, stride: i64, dilation: i64, ceil: bool) -> i64 {
    let span = input + 2 * pad - dilation * (kernel - 1) - 1 + if ceil { stride - 1 } else { 0 };
    let mut out = span.div_euclid(stride) + 1;
    if ceil && (out - 1) * stride >= input + pad {
        out -= 1;
    }
    out
}

/// The window parameters of a max/avg pooling, read from `args` at 1.
fn params(args: &Args, pooling: Pooling) -> Result<PoolParams> {
    let n = pooling.dims;
    let kernel = spatial(args.int_list(1)?, pooling, "kernel_size", None)?;
    let stride = spatial(
        args.opt_int_list(2)?.unwrap_or(&[]),
        pooling,
        "stride",
        Some(&kernel),
    )?;
    let padding = spatial(
        args.opt_int_list(3)?.unwrap_or(&[0]),
        pooling,
        "padding",
        None,
    )?;
    let (dilation, ceil_mode, count_include_pad, divisor) = if pooling.op == PoolOp::Max {
        let d = spatial(
            args.opt_int_list(4)?.unwrap_or(&[1]),
            pooling,
            "dilation",
            None,
        )?;
        (d, args.bool_or(5, false)?, true, None)
    } else {
        let divisor = args.opt_int(6)?;
        ensure!(divisor != Some(0), "divisor must be not zero");
        (
            vec![1; n],
            args.bool_or(4, false)?,
            args.bool_or(5, true)?,
            divisor,
        )
    };
    Ok(PoolParams {
        kernel,
        stride,
        padding,
        dilation,
        ceil_mode,
        count_include_pad,
        divisor_override: divisor,
    })
}

/// `pooling_output_shape`'s checks, dim by dim, then the shape check's signs.
fn check_params(p: &PoolParams) -> Result<()> {
    let (kernel, stride, padding, dilation) = (&p.kernel, &p.stride, &p.padding, &p.dilation);
    for i in 0..kernel.len() {
        ensure!(stride[i] != 0, "stride should not be zero");
        ensure!(
            padding[i] >= 0,
            "pad must be non-negative, but got pad: {}",
            padding[i]
        );
        let effective = (kernel[i] - 1) * dilation[i] + 1;
        ensure!(
            padding[i] <= effective / 2,
            "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} \
             and dilation={}",
            padding[i],
            kernel[i],
            dilation[i]
        );
    }
    for (what, prefix, values) in [
        ("kernel size", "k", &kernel),
        ("stride", "d", &stride),
        ("dilation", "dilation", &dilation),
    ] {
        ensure!(
            values.iter().all(|v| *v > 0),
            "{what} should be greater than zero, but got {}",
            labelled(prefix, values)
        );
    }
    Ok(())
}

/// The shape check's window tests before the output's size: an average pooling's 3-d window
/// within the input, padding within half the window.
fn check_window_fits(input: &[i64], p: &PoolParams, pooling: Pooling) -> Result<()> {
    let (kernel, padding) = (&p.kernel, &p.padding);
    if pooling.op == PoolOp::Avg && pooling.dims == 3 {
        ensure!(
            input.iter().zip(kernel).all(|(i, k)| i >= k),
            "input image ({}) smaller than kernel size ({})",
            labelled("", input),
            labelled("k", kernel)
        );
    }
    let fits = kernel.iter().zip(padding).all(|(k, pad)| k / 2 >= *pad);
    if pooling.dims == 2 {
        ensure!(
            fits,
            "pad should be smaller than or equal to half of kernel size, but got padW = {}, \
             padH = {}, kW = {}, kH = {}",
            padding[1],
            padding[0],
            kernel[1],
            kernel[0]
        );
    } else {
        ensure!(
            fits,
            "pad should be smaller than or equal to half of kernel size, but got kT: {} kW: {} \
             kH: {} padT: {} padW: {} padH: {}",
            kernel[0],
            kernel[2],
            kernel[1],
            padding[0],
            padding[2],
            padding[1]
        );
    }
    Ok(())
}

/// The window parameters and output shape of a max/avg pooling of `x`.
fn window(args: &Args, x: &TensorMeta, pooling: Pooling) -> Result<(PoolParams, Vec<i64>)> {
    let p = params(args, pooling)?;
    check_rank(x, pooling.dims)?;
    check_params(&p)?;
    check_nonempty(x, pooling)?;
    let first = x.dim() - pooling.dims;
    let input = &x.sizes[first..];
    check_window_fits(input, &p, pooling)?;
    let out: Vec<i64> = (0..pooling.dims)
        .map(|i| {
            out_size(
                input[i],
                p.kernel[i],
                p.padding[i],
                p.stride[i],
                p.dilation[i],
                p.ceil_mode,
            )
        })
        .collect();
    let c = x.sizes[first - 1];
    let show = |sizes: &[i64]| {
        let dims: Vec<String> = std::iter::once(c)
            .chain(sizes.iter().copied())
            .map(|s| s.to_string())
            .collect();
        dims.join("x")
    };
    ensure!(
        out.iter().all(|s| *s >= 1),
        "Given input size: ({}). Calculated output size: ({}). Output size is too small",
        show(input),
        show(&out)
    );
    let mut shape = x.sizes[..first].to_vec();
    shape.extend(out);
    Ok((p, shape))
}

/// The pooled output of `sizes` in the layout `pooling` gives it, or the `out=` tensor.
fn pooled(
    cx: &mut Ctx,
    dest: Dest,
    (pooling, x): (Pooling, &TensorMeta),
    sizes: &[i64],
    dtype: ScalarType,
) -> Result<(TensorMeta, Output)> {
    match dest {
        Dest::New => {
            let t = cx.empty(sizes, pooling.strides(x, sizes)?, dtype)?;
            Ok((t.clone(), Output::Tensor(t)))
        }
        dest => output(cx, dest, sizes, dtype),
    }
}

/// `max_pool{2,3}d_with_indices(self, kernel_size, stride=[], padding=0, dilation=1,
/// ceil_mode=False)` and its `.out` form (`out`, `indices` at 6 and 7).
pub fn max_pool(args: &Args, cx: &mut Ctx, dims: usize, outs: bool) -> Outputs {
    args.at_most(if outs { 8 } else { 6 })?;
    let x = args.tensor(0)?;
    let pooling = Pooling {
        op: PoolOp::Max,
        dims,
    };
    check_not_bool(x.dtype, &pooling.name())?;
    let (params, shape) = window(args, x, pooling)?;
    let (vd, id) = if outs {
        (Dest::Out(6, args.tensor(6)?), Dest::Out(7, args.tensor(7)?))
    } else {
        (Dest::New, Dest::New)
    };
    let (out, o0) = pooled(cx, vd, (pooling, x), &shape, x.dtype)?;
    let (indices, o1) = pooled(cx, id, (pooling, x), &shape, ScalarType::Int64)?;
    cx.k.pool(PoolOp::Max, x, &params, &out, Some(&indices))
        .map_err(failed("pool"))?;
    Ok(vec![o0, o1])
}

/// `avg_pool{2,3}d(self, kernel_size, stride=[], padding=0, ceil_mode=False,
/// count_include_pad=True, divisor_override=None)` and `.out`.
pub fn avg_pool(args: &Args, cx: &mut Ctx, dims: usize, form: Form) -> Outputs {
    args.at_most(7 + form.out_len())?;
    let x = args.tensor(0)?;
    let pooling = Pooling {
        op: PoolOp::Avg,
        dims,
    };
    // The CPU averages floating types and int64.
    let kernel = if dims == 2 {
        "avg_pool2d"
    } else {
        "avg_pool3d_out_frame"
    };
    ensure_kernel!(
        !x.dtype.is_integral(true) || x.dtype == ScalarType::Int64,
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    let (params, shape) = window(args, x, pooling)?;
    let (out, o0) = pooled(cx, form.dest(args)?, (pooling, x), &shape, x.dtype)?;
    cx.k.pool(PoolOp::Avg, x, &params, &out, None)
        .map_err(failed("pool"))?;
    Ok(vec![o0])
}

/// The output size of an adaptive pooling of `x` at `args[1]`, checked, and the output shape.
fn adaptive_shape(args: &Args, x: &TensorMeta, pooling: Pooling) -> Result<(Vec<i64>, Vec<i64>)> {
    let (n, name) = (pooling.dims, pooling.name());
    let max = pooling.op == PoolOp::AdaptiveMax;
    let size = args.int_list(1)?;
    let empty_dim = |first: usize| match (first..x.dim()).find(|&d| x.sizes[d] == 0) {
        Some(empty) => Err(Error::invalid(format!(
            "{name}(): Expected input to have non-zero size for non-batch dimensions, but input \
             has sizes {} with dimension {empty} being empty",
            fmt_shape(&x.sizes)
        ))),
        None => Ok(()),
    };
    let ndim_ok = x.dim() == n + 1 || x.dim() == n + 2;
    let wrong_ndim = || {
        format!(
            "{name}(): Expected {}D or {}D tensor, but got{} {}",
            n + 1,
            n + 2,
            if max { ":" } else { "" },
            fmt_shape(&x.sizes)
        )
    };
    // The CPU's kernels differ in order and in which dims must not be empty: max pooling
    // checks every dim past the first after the rank; 3-d average pooling the same dims
    // before it; 2-d average pooling only the pooled dims.
    if max {
        ensure!(ndim_ok, "{}", wrong_ndim());
        ensure!(
            size.len() == n,
            "{name}(): internal error: output_size.size() must be {n}"
        );
        empty_dim(1)?;
    } else {
        ensure!(size.len() == n, "{name}: output_size must be {n}");
        if n == 3 {
            empty_dim(1)?;
        }
        ensure!(ndim_ok, "{}", wrong_ndim());
        empty_dim(x.dim() - n)?;
    }
    let kernel = match (n, suggest_memory_format(&x.sizes, &x.strides)) {
        (2, MemoryFormat::ChannelsLast) => format!("{name}_channels_last"),
        (2, _) => name.clone(),
        _ => format!("{name}_cpu"),
    };
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    let mut shape = x.sizes[..x.dim() - n].to_vec();
    shape.extend(size);
    if let Some(negative) = size.iter().find(|s| **s < 0) {
        // The CPU's max pooling finds it only allocating its output; its 3-d message lacks a
        // space.
        let message = if max {
            format!(
                "Trying to create tensor with negative dimension {negative}: {}",
                fmt_shape(&shape)
            )
        } else {
            let tail = if n == 3 {
                format!(",{}", size[2])
            } else {
                String::new()
            };
            format!(
                "{name}: elements of output_size must be greater than or equal to 0 but received \
                 {{{}, {}{tail}}}",
                size[0], size[1]
            )
        };
        return Err(Error::invalid(message));
    }
    Ok((size.to_vec(), shape))
}

/// `_adaptive_avg_pool{2,3}d(self, output_size)` and `adaptive_max_pool{2,3}d(self,
/// output_size)`, the latter with the indices of the maxima (and `.out` forms with `out`
/// and `indices` at 2 and 3).
pub fn adaptive_pool(args: &Args, cx: &mut Ctx, pooling: Pooling, outs: bool) -> Outputs {
    let max = pooling.op == PoolOp::AdaptiveMax;
    args.at_most(2 + if outs { 1 + usize::from(max) } else { 0 })?;
    let x = args.tensor(0)?;
    let (size, shape) = adaptive_shape(args, x, pooling)?;
    let dest = |i: usize| -> Result<Dest> {
        Ok(if outs {
            Dest::Out(i as u32, args.tensor(i)?)
        } else {
            Dest::New
        })
    };
    let (out, o0) = pooled(cx, dest(2)?, (pooling, x), &shape, x.dtype)?;
    let mut result = vec![o0];
    let indices = if max {
        let (indices, o1) = pooled(cx, dest(3)?, (pooling, x), &shape, ScalarType::Int64)?;
        result.push(o1);
        Some(indices)
    } else {
        None
    };
    cx.k.pool(
        pooling.op,
        x,
        &adaptive_params(&size),
        &out,
        indices.as_ref(),
    )
    .map_err(failed("pool"))?;
    Ok(result)
}

fn adaptive_params(size: &[i64]) -> PoolParams {
    PoolParams {
        kernel: size.to_vec(),
        stride: vec![],
        padding: vec![],
        dilation: vec![],
        ceil_mode: false,
        count_include_pad: false,
        divisor_override: None,
    }
}

/// The gradient with respect to `x` of `grad`, which must have the pooled shape.
fn backward_into(
    cx: &mut Ctx,
    (form, args): (Form, &Args),
    (pooling, params, shape): (Pooling, PoolParams, Vec<i64>),
    grad: &TensorMeta,
    x: &TensorMeta,
    indices: Option<&TensorMeta>,
) -> Outputs {
    let name = pooling.name();
    ensure!(
        grad.sizes == shape,
        "{name}_backward: expected grad_output of shape {}, but got {}",
        fmt_shape(&shape),
        fmt_shape(&grad.sizes)
    );
    ensure!(
        grad.dtype == x.dtype,
        "{name}_backward: expected grad_output of dtype {}, but got {}",
        x.dtype.name(),
        grad.dtype.name()
    );
    // The CPU lays the gradient out as it lays out the pooled output.
    let (out, o0) = pooled(cx, form.dest(args)?, (pooling, x), &x.sizes, x.dtype)?;
    cx.k.pool_backward(pooling.op, grad, x, &params, indices, &out)
        .map_err(failed("pool_backward"))?;
    Ok(vec![o0])
}

fn check_indices(indices: &TensorMeta, shape: &[i64], name: &str) -> Result<()> {
    ensure!(
        indices.sizes == shape && indices.dtype == ScalarType::Int64,
        "{name}_backward: expected indices of shape {} (Long), got {}",
        fmt_shape(shape),
        indices.describe()
    );
    Ok(())
}

/// `max_pool{2,3}d_with_indices_backward(grad_output, self, kernel_size, stride, padding,
/// dilation, ceil_mode, indices)` and `.grad_input`.
pub fn max_pool_backward(args: &Args, cx: &mut Ctx, dims: usize, form: Form) -> Outputs {
    args.at_most(8 + form.out_len())?;
    let (grad, x, indices) = (args.tensor(0)?, args.tensor(1)?, args.tensor(7)?);
    let pooling = Pooling {
        op: PoolOp::Max,
        dims,
    };
    let (params, shape) = window(&Args::new(&args_from(args, 1, 7)?), x, pooling)?;
    check_indices(indices, &shape, &pooling.name())?;
    ensure_kernel!(
        !grad.dtype.is_integral(true),
        "\"max_pool{dims}d_backward\" not implemented for '{}'",
        grad.dtype.name()
    );
    backward_into(
        cx,
        (form, args),
        (pooling, params, shape),
        grad,
        x,
        Some(indices),
    )
}

/// `avg_pool{2,3}d_backward(grad_output, self, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)` and `.grad_input`.
pub fn avg_pool_backward(args: &Args, cx: &mut Ctx, dims: usize, form: Form) -> Outputs {
    args.at_most(8 + form.out_len())?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let pooling = Pooling {
        op: PoolOp::Avg,
        dims,
    };
    let (params, shape) = window(&Args::new(&args_from(args, 1, 8)?), x, pooling)?;
    backward_into(cx, (form, args), (pooling, params, shape), grad, x, None)
}

/// `_adaptive_avg_pool{2,3}d_backward(grad_output, self)` and
/// `adaptive_max_pool{2,3}d_backward(grad_output, self, indices)` (and `.grad_input`).
pub fn adaptive_pool_backward(args: &Args, cx: &mut Ctx, pooling: Pooling, form: Form) -> Outputs {
    let max = pooling.op == PoolOp::AdaptiveMax;
    args.at_most(2 + usize::from(max) + form.out_len())?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let (n, name) = (pooling.dims, pooling.name());
    ensure!(
        (x.dim() == n + 1 || x.dim() == n + 2) && grad.dim() == x.dim(),
        "{name}_backward: expected {}D or {}D grad_output and input of the same rank, got {} \
         and {}",
        n + 1,
        n + 2,
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{name}_backward\" not implemented for '{}'",
        x.dtype.name()
    );
    let size = grad.sizes[grad.dim() - n..].to_vec();
    let mut shape = x.sizes[..x.dim() - n].to_vec();
    shape.extend(&size);
    numel(&shape)?;
    let indices = if max {
        let indices = args.tensor(2)?;
        check_indices(indices, &shape, &name)?;
        Some(indices)
    } else {
        None
    };
    let params = adaptive_params(&size);
    backward_into(cx, (form, args), (pooling, params, shape), grad, x, indices)
}

/// The arguments `from..to` of `args`, so that a backward reads its window like the forward.
fn args_from(args: &Args, from: usize, to: usize) -> Result<Vec<crate::types::Arg>> {
    Ok(args.raw()[from.min(args.raw().len())..to.min(args.raw().len())].to_vec())
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, ScalarType};

    fn ints(v: &[i64]) -> Arg {
        Arg::IntList(v.to_vec())
    }

    #[test]
    fn max_pool_shapes() {
        let x = f32s(&[2, 3, 7, 8], 1);
        let args = vec![
            arg(&x),
            ints(&[3, 3]),
            ints(&[2, 2]),
            ints(&[1, 1]),
            ints(&[1, 1]),
            Arg::Boolean(true),
        ];
        let (res, _) = run("max_pool2d_with_indices", "", args);
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![2, 3, 4, 5]);
        assert_eq!(meta(&outputs, 1).dtype, ScalarType::Int64);
        let mut cl = f32s(&[2, 3, 7, 8], 2);
        cl.strides = vec![168, 1, 24, 3];
        let (res, _) = run("max_pool2d_with_indices", "", vec![arg(&cl), ints(&[2])]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 3, 3, 4], vec![36, 1, 12, 3], 0, ScalarType::Float32)
        );
        let args = vec![arg(&x), ints(&[2, 2]), ints(&[2, 2]), ints(&[2, 2])];
        let (res, _) = run("max_pool2d_with_indices", "", args);
        assert!(res.unwrap_err().message.contains(
            "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"
        ));
        let (res, _) = run(
            "max_pool2d_with_indices",
            "",
            vec![arg(&f32s(&[1, 1, 1, 1], 3)), ints(&[2, 2])],
        );
        assert!(res.unwrap_err().message.contains(
            "Given input size: (1x1x1). Calculated output size: (1x0x0). Output size is too small"
        ));
    }

    #[test]
    fn avg_and_adaptive_pool() {
        let x = tensor(&[3, 7, 8], ScalarType::Int64, 1);
        let (res, _) = run("avg_pool2d", "", vec![arg(&x), ints(&[2, 2])]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![3, 3, 4]);
        let args = vec![
            arg(&x),
            ints(&[2, 2]),
            ints(&[]),
            ints(&[0]),
            Arg::Boolean(false),
            Arg::Boolean(true),
            Arg::Integer(0),
        ];
        let (res, _) = run("avg_pool2d", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("divisor must be not zero"));
        let f = f32s(&[2, 3, 7, 8], 2);
        let (res, _) = run("_adaptive_avg_pool2d", "", vec![arg(&f), ints(&[0, 4])]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![12, 4, 4, 1]);
        let (res, _) = run("_adaptive_avg_pool2d", "", vec![arg(&x), ints(&[2, 2])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("not implemented for 'Long'"));
        let g = f32s(&[2, 3, 3, 4], 3);
        let (res, fake) = run("_adaptive_avg_pool2d_backward", "", vec![arg(&g), arg(&f)]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 3, 7, 8]);
        assert_eq!(fake.kernels(), vec!["pool_backward"]);
    }
}
