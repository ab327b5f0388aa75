//! 2-d pooling and its backwards: `max_pool2d_with_indices`, `avg_pool2d`,
//! `_adaptive_avg_pool2d`. Outputs keep a 4-d input's channels-last layout.

use crate::error::{ensure, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::layout::{is_channels_last, is_contiguous, strides_for, MemoryFormat};
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{Output, Pool2dParams, PoolOp, ScalarType, TensorMeta};

fn format_of(t: &TensorMeta) -> MemoryFormat {
    let cl = t.dim() == 4
        && is_channels_last(&t.sizes, &t.strides)
        && !is_contiguous(&t.sizes, &t.strides);
    if cl {
        MemoryFormat::ChannelsLast
    } else {
        MemoryFormat::Contiguous
    }
}

/// A 1- or 2-element `int[2]` as (height, width); `empty` stands for a missing one.
fn pair(list: &[i64], what: &str, empty: Option<[i64; 2]>) -> Result<[i64; 2]> {
    match (list, empty) {
        ([], Some(default)) => Ok(default),
        ([v], _) => Ok([*v, *v]),
        ([h, w], _) => Ok([*h, *w]),
        _ => Err(Error::invalid(format!(
            "max_pool2d: {what} must either be a single int, or a tuple of two ints"
        ))),
    }
}

fn check_input(x: &TensorMeta, name: &str) -> Result<()> {
    let ok = (x.dim() == 3 || x.dim() == 4) && x.sizes[x.dim() - 3..].iter().all(|s| *s > 0);
    ensure!(
        ok,
        "{name}: non-empty 3D or 4D (batch mode) tensor expected for input, but got {}",
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

/// The window parameters and output shape of a max/avg pooling, read from `args` at 1.
fn window(args: &Args, x: &TensorMeta, op: PoolOp) -> Result<(Pool2dParams, Vec<i64>)> {
    let name = if op == PoolOp::Max {
        "max_pool2d"
    } else {
        "avg_pool2d"
    };
    check_input(x, name)?;
    let kernel = pair(args.int_list(1)?, "kernel_size", None)?;
    let stride = pair(args.opt_int_list(2)?.unwrap_or(&[]), "stride", Some(kernel))?;
    let padding = pair(args.opt_int_list(3)?.unwrap_or(&[0]), "padding", None)?;
    let (dilation, ceil_mode, count_include_pad, divisor) = if op == PoolOp::Max {
        let d = pair(args.opt_int_list(4)?.unwrap_or(&[1]), "dilation", None)?;
        (d, args.bool_or(5, false)?, true, None)
    } else {
        let divisor = args.opt_int(6)?;
        ensure!(divisor != Some(0), "divisor must be not zero");
        (
            [1, 1],
            args.bool_or(4, false)?,
            args.bool_or(5, true)?,
            divisor,
        )
    };
    for i in 0..2 {
        ensure!(
            kernel[i] > 0 && stride[i] > 0 && dilation[i] > 0,
            "{name}: kernel size, stride and dilation should be greater than zero, but got \
             kernel {kernel:?}, stride {stride:?}, dilation {dilation:?}"
        );
        let effective = (kernel[i] - 1) * dilation[i] + 1;
        ensure!(
            padding[i] >= 0 && padding[i] <= effective / 2,
            "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} \
             and dilation={}",
            padding[i],
            kernel[i],
            dilation[i]
        );
    }
    let (h, w) = (x.sizes[x.dim() - 2], x.sizes[x.dim() - 1]);
    let oh = out_size(h, kernel[0], padding[0], stride[0], dilation[0], ceil_mode);
    let ow = out_size(w, kernel[1], padding[1], stride[1], dilation[1], ceil_mode);
    let c = x.sizes[x.dim() - 3];
    ensure!(
        oh >= 1 && ow >= 1,
        "Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{oh}x{ow}). Output size \
         is too small"
    );
    let mut shape = x.sizes[..x.dim() - 2].to_vec();
    shape.extend([oh, ow]);
    let params = Pool2dParams {
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        dilation: dilation.to_vec(),
        ceil_mode,
        count_include_pad,
        divisor_override: divisor,
    };
    Ok((params, shape))
}

/// An output of `sizes` in `x`'s memory format, or the given `out=` tensor.
fn pooled(
    cx: &mut Ctx,
    dest: Dest,
    x: &TensorMeta,
    sizes: &[i64],
    dtype: ScalarType,
) -> Result<(TensorMeta, Output)> {
    match dest {
        Dest::New => {
            let t = cx.empty(sizes, strides_for(sizes, format_of(x))?, dtype)?;
            Ok((t.clone(), Output::Tensor(t)))
        }
        dest => output(cx, dest, sizes, dtype),
    }
}

/// `max_pool2d_with_indices(self, kernel_size, stride=[], padding=0, dilation=1,
/// ceil_mode=False)` and its `.out` form (`out`, `indices` at 6 and 7).
pub fn max_pool(args: &Args, cx: &mut Ctx, outs: bool) -> Outputs {
    args.at_most(if outs { 8 } else { 6 })?;
    let x = args.tensor(0)?;
    ensure!(
        x.dtype != ScalarType::Bool,
        "\"max_pool2d\" not implemented for 'Bool'"
    );
    let (params, shape) = window(args, x, PoolOp::Max)?;
    let (vd, id) = if outs {
        (Dest::Out(6, args.tensor(6)?), Dest::Out(7, args.tensor(7)?))
    } else {
        (Dest::New, Dest::New)
    };
    let (out, o0) = pooled(cx, vd, x, &shape, x.dtype)?;
    let (indices, o1) = pooled(cx, id, x, &shape, ScalarType::Int64)?;
    cx.k.pool2d(PoolOp::Max, x, &params, &out, Some(&indices))
        .map_err(failed("pool2d"))?;
    Ok(vec![o0, o1])
}

/// `avg_pool2d(self, kernel_size, stride=[], padding=0, ceil_mode=False,
/// count_include_pad=True, divisor_override=None)` and `.out`.
pub fn avg_pool(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(7 + form.out_len())?;
    let x = args.tensor(0)?;
    ensure!(
        x.dtype != ScalarType::Bool,
        "\"avg_pool2d_out_frame\" not implemented for 'Bool'"
    );
    let (params, shape) = window(args, x, PoolOp::Avg)?;
    let (out, o0) = pooled(cx, form.dest(args)?, x, &shape, x.dtype)?;
    cx.k.pool2d(PoolOp::Avg, x, &params, &out, None)
        .map_err(failed("pool2d"))?;
    Ok(vec![o0])
}

/// `_adaptive_avg_pool2d(self, output_size)`.
pub fn adaptive_avg_pool(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let size = args.int_list(1)?;
    ensure!(
        size.len() == 2,
        "adaptive_avg_pool2d: output_size must be 2, got {}",
        size.len()
    );
    ensure!(
        (x.dim() == 3 || x.dim() == 4) && x.sizes[x.dim() - 2..].iter().all(|s| *s > 0),
        "adaptive_avg_pool2d(): Expected 3D or 4D tensor, with non-zero sizes for non-batch \
         dimensions, but input has sizes {}",
        fmt_shape(&x.sizes)
    );
    ensure!(
        x.dtype.is_floating(),
        "\"adaptive_avg_pool2d\" not implemented for '{}'",
        x.dtype.name()
    );
    ensure!(
        size.iter().all(|s| *s >= 0),
        "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but \
         received {}",
        fmt_shape(size)
    );
    let mut shape = x.sizes[..x.dim() - 2].to_vec();
    shape.extend(size);
    let params = adaptive_params(size);
    let (out, o0) = pooled(cx, Dest::New, x, &shape, x.dtype)?;
    cx.k.pool2d(PoolOp::AdaptiveAvg, x, &params, &out, None)
        .map_err(failed("pool2d"))?;
    Ok(vec![o0])
}

fn adaptive_params(size: &[i64]) -> Pool2dParams {
    Pool2dParams {
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
    form: Form,
    args: &Args,
    (op, params, shape): (PoolOp, Pool2dParams, Vec<i64>),
    grad: &TensorMeta,
    x: &TensorMeta,
    indices: Option<&TensorMeta>,
) -> Outputs {
    ensure!(
        grad.sizes == shape,
        "pool2d backward: expected grad_output of shape {}, but got {}",
        fmt_shape(&shape),
        fmt_shape(&grad.sizes)
    );
    ensure!(
        grad.dtype == x.dtype,
        "pool2d backward: expected grad_output of dtype {}, but got {}",
        x.dtype.name(),
        grad.dtype.name()
    );
    let (out, o0) = pooled(cx, form.dest(args)?, x, &x.sizes, x.dtype)?;
    cx.k.pool2d_backward(op, grad, x, &params, indices, &out)
        .map_err(failed("pool2d_backward"))?;
    Ok(vec![o0])
}

/// `max_pool2d_with_indices_backward(grad_output, self, kernel_size, stride, padding,
/// dilation, ceil_mode, indices)` and `.grad_input`.
pub fn max_pool_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(8 + form.out_len())?;
    let (grad, x, indices) = (args.tensor(0)?, args.tensor(1)?, args.tensor(7)?);
    let (params, shape) = window(&Args::new(&args_from(args, 1, 7)?), x, PoolOp::Max)?;
    ensure!(
        indices.sizes == shape && indices.dtype == ScalarType::Int64,
        "max_pool2d backward: expected indices of shape {} (Long), got {}",
        fmt_shape(&shape),
        indices.describe()
    );
    backward_into(
        cx,
        form,
        args,
        (PoolOp::Max, params, shape),
        grad,
        x,
        Some(indices),
    )
}

/// `avg_pool2d_backward(grad_output, self, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)` and `.grad_input`.
pub fn avg_pool_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(8 + form.out_len())?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let (params, shape) = window(&Args::new(&args_from(args, 1, 8)?), x, PoolOp::Avg)?;
    backward_into(cx, form, args, (PoolOp::Avg, params, shape), grad, x, None)
}

/// `_adaptive_avg_pool2d_backward(grad_output, self)`.
pub fn adaptive_avg_pool_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    ensure!(
        (x.dim() == 3 || x.dim() == 4) && grad.dim() == x.dim(),
        "adaptive_avg_pool2d_backward: expected 3D or 4D grad_output and input of the same \
         rank, got {} and {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    ensure!(
        x.dtype.is_floating(),
        "\"adaptive_avg_pool2d_backward_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    let size = grad.sizes[grad.dim() - 2..].to_vec();
    let mut shape = x.sizes[..x.dim() - 2].to_vec();
    shape.extend(&size);
    numel(&shape)?;
    let params = adaptive_params(&size);
    backward_into(
        cx,
        Form::Functional,
        args,
        (PoolOp::AdaptiveAvg, params, shape),
        grad,
        x,
        None,
    )
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
        assert_eq!(fake.kernels(), vec!["pool2d_backward"]);
    }
}
