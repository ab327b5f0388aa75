//! Normalizations and their backwards: `native_layer_norm`, `native_batch_norm`,
//! `native_group_norm`, and the fused weight norm (`_weight_norm_interface`). Statistics are contiguous; reduced-precision inputs with float
//! parameters keep float statistics (CPU's mixed-type path).

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::dtype::check_scalar_type;
use crate::rules::layout::is_contiguous;
use crate::rules::layout::{
    contiguous_strides, is_contiguous_in, strides_for, suggest_memory_format, MemoryFormat,
};
use crate::rules::shape::wrap_dim;
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{LibraryOp, Output, ScalarType, TensorMeta};

/// `suggest_memory_format` of `t`.
fn suggested(t: &TensorMeta) -> MemoryFormat {
    suggest_memory_format(&t.sizes, &t.strides)
}

/// Whether `t` is dense in one of the memory formats (Normalization.cpp's `is_contiguous`).
fn dense_in_a_format(t: &TensorMeta) -> bool {
    [
        MemoryFormat::Contiguous,
        MemoryFormat::ChannelsLast,
        MemoryFormat::ChannelsLast3d,
    ]
    .into_iter()
    .any(|f| is_contiguous_in(&t.sizes, &t.strides, f))
}

/// The layout of batch norm's output (or grad input) on the CPU: for a `dense` input, the
/// format it is dense in, contiguous first (`suggest_memory_format_contig`; `suggest_memory_format`
/// reads a channels-last tensor with size-1 dims as channels-last even where it is also
/// contiguous); otherwise the suggested one.
fn batch_norm_format(x: &TensorMeta, dense: bool) -> MemoryFormat {
    if !dense {
        suggested(x)
    } else if is_contiguous(&x.sizes, &x.strides) {
        MemoryFormat::Contiguous
    } else if is_contiguous_in(&x.sizes, &x.strides, MemoryFormat::ChannelsLast3d) {
        MemoryFormat::ChannelsLast3d
    } else {
        MemoryFormat::ChannelsLast
    }
}

/// The statistics' dtype: float for a half/bfloat16 input with float parameters. As on the
/// CPU, the first given parameter decides: of the input's dtype, every parameter must be;
/// of another, every parameter must be float and the input half or bfloat16.
fn stats_dtype(name: &str, x: &TensorMeta, params: &[Option<&TensorMeta>]) -> Result<ScalarType> {
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{name}\" not implemented for '{}'",
        x.dtype.name()
    );
    let mut given = params.iter().flatten();
    let mixed = given.clone().next().is_some_and(|p| p.dtype != x.dtype);
    if !mixed {
        for p in given {
            check_scalar_type(x.dtype, p.dtype)?;
        }
        return Ok(x.dtype);
    }
    ensure!(
        given.all(|p| p.dtype == ScalarType::Float32),
        "mixed dtype (CPU): expect parameter to have scalar type of Float"
    );
    ensure!(
        matches!(x.dtype, ScalarType::Float16 | ScalarType::Bfloat16),
        "mixed dtype (CPU): all inputs must share same datatype."
    );
    Ok(ScalarType::Float32)
}

/// A requested gradient (`want`) of `sizes`, or none.
fn maybe(
    cx: &mut Ctx,
    want: bool,
    sizes: &[i64],
    strides: Vec<i64>,
    dtype: ScalarType,
) -> Result<(Option<TensorMeta>, Output)> {
    if !want {
        return Ok((None, Output::None));
    }
    let t = cx.empty(sizes, strides, dtype)?;
    Ok((Some(t.clone()), Output::Tensor(t)))
}

fn mask(args: &Args, i: usize) -> Result<[bool; 3]> {
    let m = args.int_list(i)?;
    ensure!(
        m.len() == 3,
        "output_mask must have 3 entries, got {}",
        m.len()
    );
    Ok([m[0] != 0, m[1] != 0, m[2] != 0])
}

/// `native_layer_norm(input, normalized_shape, weight, bias, eps)`.
pub fn layer_norm(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let x = args.tensor(0)?;
    let shape = args.int_list(1)?;
    let (weight, bias) = (args.opt_tensor(2)?, args.opt_tensor(3)?);
    let eps = args.float_or(4, 1e-5)?;
    let axis = check_layer_norm(x, shape, weight, bias)?;
    let stats = stats_dtype("LayerNormKernelImpl", x, &[weight, bias])?;
    let out = cx.empty_contiguous(&x.sizes, x.dtype)?;
    let mut stat_shape = x.sizes[..axis].to_vec();
    stat_shape.extend(vec![1; shape.len()]);
    let mean = cx.empty_contiguous(&stat_shape, stats)?;
    let rstd = cx.empty_contiguous(&stat_shape, stats)?;
    cx.k.layer_norm(x, shape, weight, bias, eps, &out, &mean, &rstd)
        .map_err(failed("layer_norm"))?;
    Ok(vec![
        Output::Tensor(out),
        Output::Tensor(mean),
        Output::Tensor(rstd),
    ])
}

/// `_check_layer_norm_inputs`: the first normalized dim.
fn check_layer_norm(
    x: &TensorMeta,
    shape: &[i64],
    weight: Option<&TensorMeta>,
    bias: Option<&TensorMeta>,
) -> Result<usize> {
    ensure!(
        !shape.is_empty(),
        "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one \
         element, but got normalized_shape = {}",
        fmt_shape(shape)
    );
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p {
            ensure!(
                p.sizes == shape,
                "Expected {what} to be of same shape as normalized_shape, but got {what} of shape \
                 {} and normalized_shape = {}",
                fmt_shape(&p.sizes),
                fmt_shape(shape)
            );
        }
    }
    let fits = x.dim() >= shape.len() && x.sizes[x.dim() - shape.len()..] == *shape;
    if !fits {
        let dims: String = shape.iter().map(|s| format!(", {s}")).collect();
        return Err(Error::invalid(format!(
            "Given normalized_shape={}, expected input with shape [*{dims}], but got input of \
             size{}",
            fmt_shape(shape),
            fmt_shape(&x.sizes)
        )));
    }
    Ok(x.dim() - shape.len())
}

/// `native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight, bias,
/// output_mask)`.
pub fn layer_norm_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let shape = args.int_list(2)?;
    let (mean, rstd) = (args.tensor(3)?, args.tensor(4)?);
    let (weight, bias) = (args.opt_tensor(5)?, args.opt_tensor(6)?);
    let m = mask(args, 7)?;
    let axis = check_layer_norm(x, shape, weight, bias)?;
    stats_dtype("LayerNormBackwardKernelImpl", x, &[weight, bias])?;
    let rows = numel(&x.sizes[..axis])?;
    check_saved(
        "native_layer_norm_backward",
        rows,
        [("mean", mean), ("rstd", rstd)],
    )?;
    ensure!(
        grad.sizes == x.sizes,
        "native_layer_norm_backward: grad_out of shape {} does not match input of shape {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    ensure!(
        weight.is_some() || !m[1],
        "native_layer_norm_backward: a weight gradient needs a weight"
    );
    ensure!(
        bias.is_some() || !m[2],
        "native_layer_norm_backward: a bias gradient needs a bias"
    );
    let dtype = |p: Option<&TensorMeta>| p.map_or(x.dtype, |p| p.dtype);
    let (gi, o0) = maybe(cx, m[0], &x.sizes, contiguous_strides(&x.sizes)?, x.dtype)?;
    let (gw, o1) = maybe(cx, m[1], shape, contiguous_strides(shape)?, dtype(weight))?;
    let (gb, o2) = maybe(cx, m[2], shape, contiguous_strides(shape)?, dtype(bias))?;
    cx.k.layer_norm_backward(
        grad,
        x,
        shape,
        mean,
        rstd,
        weight,
        bias,
        gi.as_ref(),
        gw.as_ref(),
        gb.as_ref(),
    )
    .map_err(failed("layer_norm_backward"))?;
    Ok(vec![o0, o1, o2])
}

/// The channel count of a batch-norm input, with its parameters' checks.
fn channels(x: &TensorMeta, params: &[(&str, Option<&TensorMeta>)]) -> Result<i64> {
    ensure!(
        x.dim() >= 2,
        "batch_norm: expected an input with at least 2 dims, got {}",
        fmt_shape(&x.sizes)
    );
    let c = x.sizes[1];
    for (what, p) in params {
        if let Some(p) = p {
            ensure!(
                numel(&p.sizes)? == c,
                "{what} should contain {c} elements not {}",
                numel(&p.sizes)?
            );
        }
    }
    Ok(c)
}

/// Checks that each saved statistic of `op`'s forward holds `count` values: the host's
/// kernel reads that many.
fn check_saved(op: &str, count: i64, stats: [(&str, &TensorMeta); 2]) -> Result<()> {
    for (what, t) in stats {
        ensure!(
            numel(&t.sizes)? == count,
            "{op}: expected {what} to hold {count} values, but got one of shape {}",
            fmt_shape(&t.sizes)
        );
    }
    Ok(())
}

/// The arguments of a batch norm's forward, wherever its schema puts them.
struct BatchNorm<'a> {
    x: &'a TensorMeta,
    weight: Option<&'a TensorMeta>,
    bias: Option<&'a TensorMeta>,
    running_mean: Option<&'a TensorMeta>,
    running_var: Option<&'a TensorMeta>,
    training: bool,
    momentum: f64,
    eps: f64,
}

impl<'a> BatchNorm<'a> {
    /// `input, weight, bias[, running_mean, running_var][, training], momentum, eps` from 0:
    /// `stats` says whether the running statistics are there, `training` gives the mode
    /// when the schema has no flag for it.
    fn parse(args: &Args<'a>, stats: bool, training: Option<bool>) -> Result<Self> {
        let at = if stats { 5 } else { 3 };
        let (training, at) = match training {
            Some(fixed) => (fixed, at),
            None => (args.bool_or(at, false)?, at + 1),
        };
        let (running_mean, running_var) = if stats {
            (args.opt_tensor(3)?, args.opt_tensor(4)?)
        } else {
            (None, None)
        };
        Ok(Self {
            x: args.tensor(0)?,
            weight: args.opt_tensor(1)?,
            bias: args.opt_tensor(2)?,
            running_mean,
            running_var,
            training,
            momentum: args.float_or(at, 0.1)?,
            eps: args.float_or(at + 1, 1e-5)?,
        })
    }

    /// The result in the input's memory format, and the saved statistics (empty in eval);
    /// the running statistics are updated in place in training.
    fn run(&self, cx: &mut Ctx) -> Result<[TensorMeta; 3]> {
        let x = self.x;
        let (weight, bias) = (self.weight, self.bias);
        let (running_mean, running_var) = (self.running_mean, self.running_var);
        let c = channels(
            x,
            &[
                ("weight", weight),
                ("bias", bias),
                ("running_mean", running_mean),
                ("running_var", running_var),
            ],
        )?;
        ensure!(
            self.training || (running_mean.is_some() && running_var.is_some()),
            "running_mean and running_var must be defined in evaluation mode"
        );
        let stats = stats_dtype("batch_norm", x, &[weight, bias, running_mean, running_var])?;
        let params = [weight, bias, running_mean, running_var];
        let dense = dense_in_a_format(x)
            && params
                .iter()
                .flatten()
                .all(|p| is_contiguous(&p.sizes, &p.strides));
        let format = batch_norm_format(x, dense);
        let out = cx.empty(&x.sizes, strides_for(&x.sizes, format)?, x.dtype)?;
        let saved = if self.training { c } else { 0 };
        let save_mean = cx.empty_contiguous(&[saved], stats)?;
        let save_invstd = cx.empty_contiguous(&[saved], stats)?;
        cx.k.batch_norm(
            x,
            weight,
            bias,
            running_mean,
            running_var,
            self.training,
            self.momentum,
            self.eps,
            &out,
            &save_mean,
            &save_invstd,
        )
        .map_err(failed("batch_norm"))?;
        Ok([out, save_mean, save_invstd])
    }
}

fn tensors(metas: impl IntoIterator<Item = TensorMeta>) -> Outputs {
    Ok(metas.into_iter().map(Output::Tensor).collect())
}

/// `native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
/// eps)` and `_native_batch_norm_legit`, the same with the running statistics required.
pub fn batch_norm(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    tensors(BatchNorm::parse(args, true, None)?.run(cx)?)
}

/// `_native_batch_norm_legit.no_stats(input, weight, bias, training, momentum, eps)`.
pub fn batch_norm_without_stats(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    tensors(BatchNorm::parse(args, false, None)?.run(cx)?)
}

/// `_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var,
/// momentum, eps)`.
pub fn batch_norm_eval(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    tensors(BatchNorm::parse(args, true, Some(false))?.run(cx)?)
}

/// `_batch_norm_with_update(input, weight, bias, running_mean, running_var, momentum, eps)`
/// and `_batch_norm_no_update` (`update` false): the result, the saved statistics and the
/// reserve, which only cuDNN fills (empty bytes, as on the CPU).
pub fn batch_norm_update(args: &Args, cx: &mut Ctx, update: bool) -> Outputs {
    args.at_most(7)?;
    let [out, mean, invstd] = BatchNorm::parse(args, true, Some(update))?.run(cx)?;
    let reserve = cx.empty_contiguous(&[0], ScalarType::Uint8)?;
    tensors([out, mean, invstd, reserve])
}

/// `_native_batch_norm_legit_functional(input, weight, bias, running_mean, running_var,
/// training, momentum, eps)`: as `native_batch_norm`, with the updated running statistics
/// returned as new tensors rather than written over the given ones.
pub fn batch_norm_functional(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let given = BatchNorm::parse(args, true, None)?;
    let (running_mean, running_var) = (args.tensor(3)?, args.tensor(4)?);
    let (mean, var) = (cx.empty_like(running_mean)?, cx.empty_like(running_var)?);
    cx.k.copy(running_mean, &mean).map_err(failed("copy"))?;
    cx.k.copy(running_var, &var).map_err(failed("copy"))?;
    let norm = BatchNorm {
        running_mean: Some(&mean),
        running_var: Some(&var),
        ..given
    };
    let [out, save_mean, save_invstd] = norm.run(cx)?;
    tensors([out, save_mean, save_invstd, mean, var])
}

/// `native_batch_norm_backward(grad_out, input, weight, running_mean, running_var,
/// save_mean, save_invstd, train, eps, output_mask)`, and `batch_norm_backward`, the same
/// with `update` for `train` and the forward's reserve last.
pub fn batch_norm_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(11)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let weight = args.opt_tensor(2)?;
    let (running_mean, running_var) = (args.opt_tensor(3)?, args.opt_tensor(4)?);
    let (save_mean, save_invstd) = (args.opt_tensor(5)?, args.opt_tensor(6)?);
    let training = args.bool_or(7, false)?;
    let eps = args.float_or(8, 1e-5)?;
    let m = mask(args, 9)?;
    // The host's kernel reads `c` values of the statistics it uses.
    let [used_mean, used_var] = if training {
        [("save_mean", save_mean), ("save_invstd", save_invstd)]
    } else {
        [("running_mean", running_mean), ("running_var", running_var)]
    };
    let c = channels(x, &[("weight", weight), used_mean, used_var])?;
    stats_dtype("batch_norm_backward", x, &[weight])?;
    ensure!(
        grad.sizes == x.sizes,
        "batch_norm_backward: grad_out of shape {} does not match input of shape {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    let stats_ok = if training {
        save_mean.is_some() && save_invstd.is_some()
    } else {
        running_mean.is_some() && running_var.is_some()
    };
    ensure!(
        stats_ok,
        "batch_norm_backward: the statistics of the forward pass are missing"
    );
    let param = weight.map_or(x.dtype, |w| w.dtype);
    let dense = dense_in_a_format(x) && dense_in_a_format(grad) && suggested(x) == suggested(grad);
    let strides = strides_for(&x.sizes, batch_norm_format(x, dense))?;
    let (gi, o0) = maybe(cx, m[0], &x.sizes, strides, x.dtype)?;
    let (gw, o1) = maybe(cx, m[1], &[c], vec![1], param)?;
    let (gb, o2) = maybe(cx, m[2], &[c], vec![1], param)?;
    cx.k.batch_norm_backward(
        grad,
        x,
        weight,
        running_mean,
        running_var,
        save_mean,
        save_invstd,
        training,
        eps,
        gi.as_ref(),
        gw.as_ref(),
        gb.as_ref(),
    )
    .map_err(failed("batch_norm_backward"))?;
    Ok(vec![o0, o1, o2])
}

/// The `N, C, HxW, group` arguments of group norm, checked against `x`.
fn group_dims(args: &Args, at: usize, x: &TensorMeta) -> Result<[i64; 4]> {
    let dims = [
        args.int(at)?,
        args.int(at + 1)?,
        args.int(at + 2)?,
        args.int(at + 3)?,
    ];
    let [n, c, hxw, groups] = dims;
    ensure!(
        groups > 0,
        "Expected num_groups to be positive, got {groups}"
    );
    ensure!(
        c % groups == 0,
        "Expected number of channels in input to be divisible by num_groups, but got input of \
         shape {} and num_groups={groups}",
        fmt_shape(&x.sizes)
    );
    let fits = x.dim() >= 2
        && x.sizes[0] == n
        && x.sizes[1] == c
        && n.checked_mul(c).and_then(|v| v.checked_mul(hxw)) == Some(numel(&x.sizes)?);
    ensure!(
        fits,
        "Expected input of shape {} to be [N={n}, C={c}, *] with {hxw} elements per channel",
        fmt_shape(&x.sizes)
    );
    Ok(dims)
}

/// `native_group_norm(input, weight, bias, N, C, HxW, group, eps)`.
pub fn group_norm(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let x = args.tensor(0)?;
    let (weight, bias) = (args.opt_tensor(1)?, args.opt_tensor(2)?);
    let [n, c, hxw, groups] = group_dims(args, 3, x)?;
    let eps = args.float_or(7, 1e-5)?;
    for (what, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p {
            ensure!(
                p.dim() == 1 && p.sizes[0] == c,
                "Expected {what} to be a vector of size equal to the number of channels in \
                 input, but got {what} of shape {} and input of shape {}",
                fmt_shape(&p.sizes),
                fmt_shape(&x.sizes)
            );
        }
    }
    let format = suggested(x);
    ensure!(
        is_contiguous_in(&x.sizes, &x.strides, format) || numel(&x.sizes)? <= 1,
        "Expected X.is_contiguous(memory_format) to be true, but got false.  (Could this error \
         message be improved?  If so, please report an enhancement request to PyTorch.)"
    );
    let stats = stats_dtype("GroupNormKernelImpl", x, &[weight, bias])?;
    let out = cx.empty(&x.sizes, strides_for(&x.sizes, format)?, x.dtype)?;
    let mean = cx.empty_contiguous(&[n, groups], stats)?;
    let rstd = cx.empty_contiguous(&[n, groups], stats)?;
    cx.k.group_norm(x, weight, bias, n, c, hxw, groups, eps, &out, &mean, &rstd)
        .map_err(failed("group_norm"))?;
    Ok(vec![
        Output::Tensor(out),
        Output::Tensor(mean),
        Output::Tensor(rstd),
    ])
}

/// `native_group_norm_backward(grad_out, input, mean, rstd, weight, N, C, HxW, group,
/// output_mask)`.
pub fn group_norm_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(10)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let (mean, rstd) = (args.tensor(2)?, args.tensor(3)?);
    let weight = args.opt_tensor(4)?;
    let [n, c, hxw, groups] = group_dims(args, 5, x)?;
    let m = mask(args, 9)?;
    stats_dtype("GroupNormBackwardKernelImpl", x, &[weight])?;
    check_saved(
        "native_group_norm_backward",
        n.saturating_mul(groups),
        [("mean", mean), ("rstd", rstd)],
    )?;
    ensure!(
        grad.sizes == x.sizes,
        "native_group_norm_backward: grad_out of shape {} does not match input of shape {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    ensure!(
        weight.is_some() || !(m[1] || m[2]),
        "native_group_norm_backward: weight and bias gradients need a weight"
    );
    let param = weight.map_or(x.dtype, |w| w.dtype);
    let strides = strides_for(&x.sizes, suggested(x))?;
    let (gi, o0) = maybe(cx, m[0], &x.sizes, strides, x.dtype)?;
    let (gw, o1) = maybe(cx, m[1], &[c], vec![1], param)?;
    let (gb, o2) = maybe(cx, m[2], &[c], vec![1], param)?;
    cx.k.group_norm_backward(
        grad,
        x,
        mean,
        rstd,
        weight,
        n,
        c,
        hxw,
        groups,
        gi.as_ref(),
        gw.as_ref(),
        gb.as_ref(),
    )
    .map_err(failed("group_norm_backward"))?;
    Ok(vec![o0, o1, o2])
}

/// The dim of a fused weight norm: the first or the last of `v`'s.
fn weight_norm_dim(args: &Args, at: usize, v: &TensorMeta) -> Result<i64> {
    let dim = args.int_or(at, 0)?;
    let d = wrap_dim(dim, v.dim())? as i64;
    ensure!(
        d == 0 || d == v.dim() as i64 - 1,
        "fused kernels can only be applied for first or last dim"
    );
    Ok(dim)
}

/// `_weight_norm_interface(v, g, dim=0)`: `v` scaled to norm `g` along every dim but `dim`,
/// contiguous, and the norms, laid out as `g` (in float for a half or bfloat16 `g`).
pub fn weight_norm(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (v, g) = (args.tensor(0)?, args.tensor(1)?);
    let dim = weight_norm_dim(args, 2, v)?;
    ensure_kernel!(
        v.dtype.is_floating() && g.dtype.is_floating(),
        "\"weight_norm_fwd_first_dim_kernel\" not implemented for '{}'",
        v.dtype.name()
    );
    check_scalar_type(v.dtype, g.dtype)?;
    let w = cx.empty_contiguous(&v.sizes, v.dtype)?;
    let norm_dtype = match g.dtype {
        ScalarType::Bfloat16 | ScalarType::Float16 => ScalarType::Float32,
        other => other,
    };
    let norms = cx.empty(&g.sizes, g.strides.clone(), norm_dtype)?;
    let op = LibraryOp::WeightNorm(dim);
    launch(cx, op, &[v.clone(), g.clone()], vec![w, norms])
}

/// `_weight_norm_interface_backward(grad_w, saved_v, saved_g, saved_norms, dim)`: the
/// gradients of `v` and `g`, contiguous.
pub fn weight_norm_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let [grad, v, g, norms] = [0, 1, 2, 3].map(|i| args.tensor(i));
    let (grad, v, g, norms) = (grad?, v?, g?, norms?);
    for (t, name) in [(v, "saved_v"), (g, "saved_g"), (norms, "saved_norms")] {
        ensure!(
            is_contiguous(&t.sizes, &t.strides),
            "{name} must be contiguous"
        );
    }
    ensure!(
        grad.sizes == v.sizes,
        "_weight_norm_interface_backward: expected grad_w of v's shape {}, but got {}",
        fmt_shape(&v.sizes),
        fmt_shape(&grad.sizes)
    );
    let dim = weight_norm_dim(args, 4, v)?;
    let grad_v = cx.empty_contiguous(&v.sizes, v.dtype)?;
    let grad_g = cx.empty_contiguous(&g.sizes, g.dtype)?;
    let inputs = [grad, v, g, norms].map(TensorMeta::clone);
    launch(
        cx,
        LibraryOp::WeightNormBackward(dim),
        &inputs,
        vec![grad_v, grad_g],
    )
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    #[test]
    fn layer_norm_shapes_and_checks() {
        let mut xt = f32s(&[4, 3, 5], 1);
        xt.strides = vec![1, 4, 12];
        let args = vec![
            arg(&xt),
            Arg::IntList(vec![5]),
            Arg::OptionalTensor(Some(f32s(&[5], 2))),
            Arg::OptionalTensor(None),
            Arg::Float(1e-5),
        ];
        let (res, _) = run("native_layer_norm", "", args);
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).strides, vec![15, 5, 1]);
        assert_eq!(
            geometry(&meta(&outputs, 1)),
            (vec![4, 3, 1], vec![3, 1, 1], 0, ScalarType::Float32)
        );
        let args = vec![arg(&xt), Arg::IntList(vec![4]), Arg::None, Arg::None];
        let (res, _) = run("native_layer_norm", "", args);
        assert!(res.unwrap_err().message.contains(
            "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[4, 3, 5]"
        ));
        let long = tensor(&[2, 5], ScalarType::Int64, 3);
        let (res, _) = run(
            "native_layer_norm",
            "",
            vec![arg(&long), Arg::IntList(vec![5])],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("\"LayerNormKernelImpl\" not implemented for 'Long'"));
        let x = f32s(&[4, 5], 4);
        let stat = f32s(&[4, 1], 5);
        let args = vec![
            arg(&x),
            arg(&x),
            Arg::IntList(vec![5]),
            arg(&stat),
            arg(&stat),
            Arg::OptionalTensor(Some(f32s(&[5], 6))),
            Arg::OptionalTensor(Some(f32s(&[5], 7))),
            Arg::IntList(vec![1, 0, 1]),
        ];
        let (res, _) = run("native_layer_norm_backward", "", args);
        let outputs = res.unwrap();
        assert_eq!(outputs[1], Output::None);
        assert_eq!(meta(&outputs, 2).sizes, vec![5]);
    }

    #[test]
    fn batch_norm_layouts_and_stats() {
        let mut cl = f32s(&[2, 3, 4, 5], 1);
        cl.strides = vec![60, 1, 15, 3];
        let stat = || Arg::OptionalTensor(Some(f32s(&[3], 2)));
        let args = vec![
            arg(&cl),
            stat(),
            stat(),
            stat(),
            stat(),
            Arg::Boolean(false),
            Arg::Float(0.1),
            Arg::Float(1e-5),
        ];
        let (res, fake) = run("native_batch_norm", "", args);
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).strides, vec![60, 1, 15, 3]);
        assert_eq!(meta(&outputs, 1).sizes, vec![0]);
        assert_eq!(fake.kernels(), vec!["batch_norm"]);
        let args = vec![
            arg(&f32s(&[4, 3], 3)),
            Arg::OptionalTensor(None),
            Arg::OptionalTensor(None),
            Arg::OptionalTensor(None),
            Arg::OptionalTensor(None),
            Arg::Boolean(false),
            Arg::Float(0.1),
            Arg::Float(1e-5),
        ];
        let (res, _) = run("native_batch_norm", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("must be defined in evaluation mode"));
    }

    #[test]
    fn batch_norm_backward_reads_only_whole_statistics() {
        let x = f32s(&[4, 3], 1);
        let stat = |n: i64, id| Arg::OptionalTensor(Some(f32s(&[n], id)));
        let args = |training: bool, save: i64, running: i64| {
            vec![
                arg(&x),
                arg(&x),
                stat(3, 2),
                stat(running, 3),
                stat(running, 4),
                stat(save, 5),
                stat(save, 6),
                Arg::Boolean(training),
                Arg::Float(1e-5),
                Arg::IntList(vec![1, 1, 1]),
            ]
        };
        // Training reads the saved statistics, evaluation the running ones (the CPU's
        // forward saves empty ones in evaluation).
        let (res, fake) = run("native_batch_norm_backward", "", args(true, 3, 0));
        assert_eq!(res.unwrap().len(), 3);
        assert_eq!(fake.kernels(), vec!["batch_norm_backward"]);
        let (res, _) = run("native_batch_norm_backward", "", args(false, 0, 3));
        assert_eq!(res.unwrap().len(), 3);
        let (res, _) = run("native_batch_norm_backward", "", args(true, 2, 3));
        assert!(res
            .unwrap_err()
            .message
            .contains("save_mean should contain 3 elements not 2"));
        let (res, _) = run("native_batch_norm_backward", "", args(false, 3, 5));
        assert!(res
            .unwrap_err()
            .message
            .contains("running_mean should contain 3 elements not 5"));
    }

    #[test]
    fn layer_and_group_norm_backwards_read_only_whole_saved_statistics() {
        let x = f32s(&[4, 6], 1);
        let layer = |stat: &[i64]| {
            vec![
                arg(&x),
                arg(&x),
                Arg::IntList(vec![6]),
                arg(&f32s(stat, 2)),
                arg(&f32s(stat, 3)),
                Arg::None,
                Arg::None,
                Arg::IntList(vec![1, 0, 0]),
            ]
        };
        let (res, _) = run("native_layer_norm_backward", "", layer(&[4, 1]));
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![4, 6]);
        let (res, _) = run("native_layer_norm_backward", "", layer(&[3, 1]));
        assert!(res
            .unwrap_err()
            .message
            .contains("expected mean to hold 4 values, but got one of shape [3, 1]"));
        let group = |stat: &[i64]| {
            let mut args = vec![arg(&x), arg(&x), arg(&f32s(stat, 2)), arg(&f32s(stat, 3))];
            args.push(Arg::OptionalTensor(None));
            args.extend([4, 6, 1, 3].map(Arg::Integer));
            args.push(Arg::IntList(vec![1, 0, 0]));
            args
        };
        let (res, _) = run("native_group_norm_backward", "", group(&[4, 3]));
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![4, 6]);
        let (res, _) = run("native_group_norm_backward", "", group(&[4]));
        assert!(res
            .unwrap_err()
            .message
            .contains("expected mean to hold 12 values, but got one of shape [4]"));
    }

    #[test]
    fn group_norm_checks() {
        let x = f32s(&[4, 3, 5], 1);
        let dims = |g: i64| [4, 3, 5, g].map(Arg::Integer);
        let mut args = vec![
            arg(&x),
            Arg::OptionalTensor(None),
            Arg::OptionalTensor(None),
        ];
        args.extend(dims(3));
        args.push(Arg::Float(1e-5));
        let (res, _) = run("native_group_norm", "", args.clone());
        assert_eq!(meta(&res.unwrap(), 1).sizes, vec![4, 3]);
        args[6] = Arg::Integer(2);
        let (res, _) = run("native_group_norm", "", args.clone());
        assert!(res.unwrap_err().message.contains(
            "divisible by num_groups, but got input of shape [4, 3, 5] and num_groups=2"
        ));
        args[6] = Arg::Integer(3);
        let mut xt = f32s(&[4, 3, 5], 1);
        xt.strides = vec![1, 4, 12];
        args[0] = arg(&xt);
        let (res, _) = run("native_group_norm", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected X.is_contiguous(memory_format) to be true"));
    }
}
