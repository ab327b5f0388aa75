//! Ops on points, vectors and sampling grids that the host's libtorch computes whole, one
//! `library` kernel each: `_cdist_forward`, `_pdist_forward` and their backwards, `linalg_cross`,
//! `grid_sampler_2d`/`3d` and their backwards, and `channel_shuffle`. Their checks, shapes
//! and layouts are PyTorch's.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::out::output;
use crate::ops::{Form, Outputs};
use crate::rules::dtype::{check_not_bool, check_scalar_type};
use crate::rules::layout::{is_contiguous, strides_for, suggest_memory_format};
use crate::rules::propagate::preserve_strides;
use crate::rules::shape::{broadcast, fmt_shape, wrap_dim};
use crate::types::{GridSampleParams, LibraryOp, Output, Scalar, ScalarType, TensorMeta};

/// The kernels' typed reads of `b` as `a`'s dtype.
fn check_same_dtype(op: &str, a: &TensorMeta, b: &TensorMeta) -> Result<()> {
    ensure!(
        a.dtype == b.dtype,
        "{op}: expected scalar type {} but found {} (shapes {} and {})",
        a.dtype.name(),
        b.dtype.name(),
        fmt_shape(&a.sizes),
        fmt_shape(&b.sizes)
    );
    Ok(())
}

/// `_cdist_forward`'s first checks of `x1 [..., P, M]` and `x2 [..., R, M]`, each named.
fn check_cdist_dims(x1: &TensorMeta, x2: &TensorMeta) -> Result<()> {
    for (t, name) in [(x1, "X1"), (x2, "X2")] {
        ensure!(
            t.dim() >= 2,
            "cdist only supports at least 2D tensors, {name} got: {}D",
            t.dim()
        );
    }
    let (m1, m2) = (x1.sizes[x1.dim() - 1], x2.sizes[x2.dim() - 1]);
    ensure!(
        m1 == m2,
        "X1 and X2 must have the same number of columns. X1: {m1} X2: {m2}"
    );
    Ok(())
}

/// The broadcast batch dims of `x1` and `x2`, and whether the CPU returns before its kernels:
/// no rows, no columns or no batch.
fn cdist_batch(x1: &TensorMeta, x2: &TensorMeta) -> Result<(Vec<i64>, bool)> {
    let batch = broadcast(&x1.sizes[..x1.dim() - 2], &x2.sizes[..x2.dim() - 2])?;
    let rows = [x1.sizes[x1.dim() - 2], x2.sizes[x2.dim() - 2]];
    let columns = x1.sizes[x1.dim() - 1];
    let empty = rows.contains(&0) || batch.contains(&0) || columns == 0;
    Ok((batch, empty))
}

/// `cdist_impl`'s check of `p` (its backward reuses it: the host's kernel is not run on a
/// negative `p`).
fn check_cdist_p(p: f64) -> Result<()> {
    // Named, as `ensure!` negates its condition: a NaN `p` fails it, as on the CPU.
    let nonnegative = p >= 0.0;
    ensure!(nonnegative, "cdist only supports non-negative p values");
    Ok(())
}

/// `_cdist_forward(x1, x2, p, compute_mode)`: the `p`-norm distances `[..., P, R]`,
/// contiguous.
pub fn cdist(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (x1, x2) = (args.tensor(0)?, args.tensor(1)?);
    let p = args.float_or(2, 2.0)?;
    let mode = args.opt_int(3)?;
    check_cdist_dims(x1, x2)?;
    for (t, name) in [(x1, "X1"), (x2, "X2")] {
        ensure!(
            t.dtype.is_floating(),
            "cdist only supports floating-point dtypes, {name} got: {}",
            t.dtype.name()
        );
    }
    check_cdist_p(p)?;
    let mode_code = mode.unwrap_or(0);
    ensure!(
        (0..=2).contains(&mode_code),
        "possible modes: 0, 1, 2, but was: {mode_code}"
    );
    let (mut shape, early) = cdist_batch(x1, x2)?;
    // Without rows, batch or columns the CPU returns before its kernels, which are what
    // require one dtype.
    if !early {
        check_same_dtype("cdist", x1, x2)?;
    }
    let (rows1, rows2) = (x1.sizes[x1.dim() - 2], x2.sizes[x2.dim() - 2]);
    // Euclidean distances go through a matrix product, which takes half types, when
    // `compute_mode` asks for one or by default past 25 rows; the direct kernel does not.
    let by_product = p == 2.0
        && match mode_code {
            1 => true,
            2 => false,
            _ => rows1 > 25 || rows2 > 25,
        };
    ensure_kernel!(
        early || by_product || !matches!(x1.dtype, ScalarType::Float16 | ScalarType::Bfloat16),
        "\"cdist\" not implemented for '{}'",
        x1.dtype.name()
    );
    shape.extend([rows1, rows2]);
    let out = cx.empty_contiguous(&shape, x1.dtype)?;
    let inputs = [x1.clone(), x2.clone()];
    launch(cx, LibraryOp::Cdist((p, mode)), &inputs, vec![out])
}

/// `_pdist_forward(self, p=2)`: the `p`-norm distances between the rows of the contiguous
/// 2-d `self`, each pair once: `n * (n - 1) / 2` of them.
pub fn pdist(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let p = args.float_or(1, 2.0)?;
    check_pdist_input(x, p, "_pdist_forward requires contiguous input")?;
    // Without pairs or columns the CPU returns before its dtype dispatch.
    let early = x.sizes[0] <= 1 || x.sizes[1] == 0;
    ensure_kernel!(
        early || !matches!(x.dtype, ScalarType::Float16 | ScalarType::Bfloat16),
        "\"pdist\" not implemented for '{}'",
        x.dtype.name()
    );
    let n = x.sizes[0];
    let out = cx.empty_contiguous(&[if n <= 1 { 0 } else { n * (n - 1) / 2 }], x.dtype)?;
    launch(cx, LibraryOp::Pdist(p), std::slice::from_ref(x), vec![out])
}

/// `_pdist_backward(grad, self, p, pdist)`: the gradient of `self`, contiguous.
pub fn pdist_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let (p, dist) = (args.float_or(2, 2.0)?, args.tensor(3)?);
    let self_contiguous = "_pdist_backward requires self to be contiguous";
    ensure!(is_contiguous(&x.sizes, &x.strides), "{self_contiguous}");
    ensure!(
        is_contiguous(&dist.sizes, &dist.strides),
        "_pdist_backward requires pdist to be contiguous"
    );
    ensure_kernel!(
        matches!(x.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"pdist_backward\" not implemented for '{}'",
        x.dtype.name()
    );
    // Past the CPU's own checks, those of the forward: the host's kernel reads a matrix.
    check_pdist_input(x, p, self_contiguous)?;
    ensure!(
        grad.sizes == dist.sizes,
        "_pdist_backward: expected grad of shape {}, but got {}",
        fmt_shape(&dist.sizes),
        fmt_shape(&grad.sizes)
    );
    let out = cx.empty_contiguous(&x.sizes, x.dtype)?;
    let inputs = [grad.clone(), x.clone(), dist.clone()];
    launch(cx, LibraryOp::PdistBackward(p), &inputs, vec![out])
}

/// `pdist`'s checks, and the contiguity `_pdist_forward` and its backward require.
fn check_pdist_input(x: &TensorMeta, p: f64, not_contiguous: &str) -> Result<()> {
    ensure!(
        x.dim() == 2,
        "pdist only supports 2D tensors, got: {}D",
        x.dim()
    );
    ensure!(
        x.dtype.is_floating(),
        "pdist only supports floating-point dtypes"
    );
    ensure!(
        (0.0..).contains(&p),
        "pdist only supports non-negative p values"
    );
    ensure!(is_contiguous(&x.sizes, &x.strides), "{not_contiguous}");
    Ok(())
}

/// `_cdist_backward(grad, x1, x2, p, cdist)`: the gradient of `x1` expanded to the batch
/// shape (autograd sums the broadcast away), contiguous; `zeros_like(x1)` without rows,
/// columns or batch.
pub fn cdist_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (grad, x1, x2) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (p, dist) = (args.float_or(3, 2.0)?, args.tensor(4)?);
    check_cdist_dims(x1, x2)?;
    let (mut shape, empty) = cdist_batch(x1, x2)?;
    if empty {
        let out = cx.empty(&x1.sizes, preserve_strides(x1)?, x1.dtype)?;
        cx.k.fill(&out, Scalar::Integer(0))
            .map_err(failed("fill"))?;
        return Ok(vec![Output::Tensor(out)]);
    }
    ensure_kernel!(
        matches!(x1.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"cdist_backward\" not implemented for '{}'",
        x1.dtype.name()
    );
    check_same_dtype("cdist", x1, x2)?;
    check_cdist_p(p)?;
    let expected: Vec<i64> = shape
        .iter()
        .copied()
        .chain([x1.sizes[x1.dim() - 2], x2.sizes[x2.dim() - 2]])
        .collect();
    for (t, what) in [(grad, "grad"), (dist, "cdist")] {
        ensure!(
            t.sizes == expected && t.dtype == x1.dtype,
            "_cdist_backward: expected {what} of shape {} and dtype {}, but got {}",
            fmt_shape(&expected),
            x1.dtype.name(),
            t.describe()
        );
    }
    shape.extend_from_slice(&x1.sizes[x1.dim() - 2..]);
    let out = cx.empty_contiguous(&shape, x1.dtype)?;
    let inputs = [grad.clone(), x1.clone(), x2.clone(), dist.clone()];
    launch(cx, LibraryOp::CdistBackward(p), &inputs, vec![out])
}

/// `linalg_cross(self, other, *, dim=-1)` and `.out`: the cross product of broadcast
/// 3-vectors along `dim`, contiguous.
pub fn cross(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    ensure!(
        a.dim() == b.dim(),
        "linalg.cross: inputs must have the same number of dimensions."
    );
    ensure!(
        a.dim() > 0,
        "linalg.cross: inputs must be vectors, but got 0-dimensional tensors"
    );
    let dim = args.int_or(2, -1)?;
    let d = wrap_dim(dim, a.dim())?;
    ensure!(
        a.sizes[d] == 3 && b.sizes[d] == 3,
        "linalg.cross: inputs dimension {dim} must have length 3. Got {} and {}",
        a.sizes[d],
        b.sizes[d]
    );
    check_not_bool(a.dtype, "cross")?;
    check_same_dtype("linalg.cross", a, b)?;
    let shape = broadcast(&a.sizes, &b.sizes)?;
    let (out, result) = output(cx, form.dest(args)?, &shape, a.dtype)?;
    let inputs = [a.clone(), b.clone()];
    cx.k.library(
        LibraryOp::Cross(d as i64),
        &inputs,
        std::slice::from_ref(&out),
    )
    .map_err(failed("library"))?;
    Ok(vec![result])
}

/// The checks of `grid_sampler_{2,3}d(input, grid, interpolation_mode, padding_mode,
/// align_corners)` for `dims` spatial dims, then those of its CPU `kernel`.
fn check_grid<'a>(
    args: &Args<'a>,
    dims: usize,
    kernel: &str,
) -> Result<(&'a TensorMeta, &'a TensorMeta)> {
    let (x, grid) = (args.tensor(0)?, args.tensor(1)?);
    if x.dim() > 0 && grid.dim() > 0 {
        check_grid_common(x, grid)?;
    }
    ensure!(
        x.dim() == dims + 2 && grid.dim() == dims + 2,
        "grid_sampler(): expected {}D input and grid with same number of dimensions, but got \
         input with sizes {} and grid with sizes {}",
        dims + 2,
        fmt_shape(&x.sizes),
        fmt_shape(&grid.sizes)
    );
    let (interpolation, padding) = (args.int(2)?, args.int(3)?);
    ensure!(
        (0..=2).contains(&interpolation) && (0..=2).contains(&padding),
        "grid_sampler(): unknown interpolation mode {interpolation} or padding mode {padding}"
    );
    ensure!(
        dims == 2 || interpolation != 2,
        "grid_sampler(): bicubic interpolation only supports 4D input"
    );
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    check_scalar_type(x.dtype, grid.dtype)?;
    Ok((x, grid))
}

/// `check_grid_sampler_common`, which the CPU runs before the rank check: the batch, the
/// grid's last dim against the input's rank, then non-empty spatial dims.
fn check_grid_common(x: &TensorMeta, grid: &TensorMeta) -> Result<()> {
    ensure!(
        x.sizes[0] == grid.sizes[0],
        "grid_sampler(): expected grid and input to have same batch size, but got input with \
         sizes {} and grid with sizes {}",
        fmt_shape(&x.sizes),
        fmt_shape(&grid.sizes)
    );
    let dims = x.dim() as i64 - 2;
    ensure!(
        grid.sizes[grid.dim() - 1] == dims,
        "grid_sampler(): expected grid to have size {dims} in last dimension, but got grid with \
         sizes {}",
        fmt_shape(&grid.sizes)
    );
    for d in 2..x.dim() {
        ensure!(
            x.sizes[d] > 0,
            "grid_sampler(): expected input to have non-empty spatial dimensions, but input has \
             sizes {} with dimension {d} being empty",
            fmt_shape(&x.sizes)
        );
    }
    Ok(())
}

fn grid_params(args: &Args, dims: usize) -> Result<GridSampleParams> {
    Ok(GridSampleParams {
        interpolation: args.int(2)?,
        padding: args.int(3)?,
        align_corners: args.bool_or(4, false)?,
        volumetric: dims == 3,
    })
}

/// `grid_sampler_{2,3}d(input, grid, interpolation_mode, padding_mode, align_corners)`:
/// `[N, C, *grid's spatial sizes]`, contiguous.
pub fn grid_sampler(args: &Args, cx: &mut Ctx, dims: usize) -> Outputs {
    args.at_most(5)?;
    let kernel = match dims {
        2 => "grid_sampler_2d_cpu_kernel_impl",
        _ => "grid_sampler3d_cpu",
    };
    let (x, grid) = check_grid(args, dims, kernel)?;
    let mut shape = vec![x.sizes[0], x.sizes[1]];
    shape.extend_from_slice(&grid.sizes[1..=dims]);
    let out = cx.empty_contiguous(&shape, x.dtype)?;
    let inputs = [x.clone(), grid.clone()];
    launch(
        cx,
        LibraryOp::GridSampler(grid_params(args, dims)?),
        &inputs,
        vec![out],
    )
}

/// `grid_sampler_{2,3}d_backward(grad_output, input, grid, interpolation_mode,
/// padding_mode, align_corners, output_mask)`: the gradients of `input` and `grid` that
/// `output_mask` asks for, contiguous.
pub fn grid_sampler_backward(args: &Args, cx: &mut Ctx, dims: usize) -> Outputs {
    args.at_most(7)?;
    let grad = args.tensor(0)?;
    let rest = Args::new(&args.raw()[1..]);
    let kernel = match dims {
        2 => "grid_sampler_2d_backward_cpu_kernel_impl",
        _ => "grid_sampler_3d_backward_cpu",
    };
    let (x, grid) = check_grid(&rest, dims, kernel)?;
    check_scalar_type(x.dtype, grad.dtype)?;
    let mut shape = vec![x.sizes[0], x.sizes[1]];
    shape.extend_from_slice(&grid.sizes[1..=dims]);
    ensure!(
        grad.sizes == shape,
        "grid_sampler_{dims}d_backward: expected grad_output of shape {}, but got {}",
        fmt_shape(&shape),
        fmt_shape(&grad.sizes)
    );
    let mask = args.opt_int_list(6)?.unwrap_or(&[1, 1]);
    let wanted = |i: usize| mask.get(i).is_none_or(|m| *m != 0);
    // PyTorch's CPU kernels make both gradients contiguous.
    let mut outs = vec![];
    let mut results = vec![];
    for (i, like) in [x, grid].into_iter().enumerate() {
        if wanted(i) {
            let t = cx.empty_contiguous(&like.sizes, like.dtype)?;
            outs.push(t.clone());
            results.push(Output::Tensor(t));
        } else {
            results.push(Output::None);
        }
    }
    if outs.is_empty() {
        return Ok(results);
    }
    let inputs = [grad.clone(), x.clone(), grid.clone()];
    let op = LibraryOp::GridSamplerBackward((grid_params(&rest, dims)?, wanted(0), wanted(1)));
    cx.k.library(op, &inputs, &outs)
        .map_err(failed("library"))?;
    Ok(results)
}

/// `channel_shuffle(self, groups)`: `self`'s shape in its suggested memory format.
pub fn channel_shuffle(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let groups = args.int(1)?;
    ensure!(
        x.dim() > 2,
        "channel_shuffle expects input to have at least 3 dimensions, but got input with sizes {}",
        fmt_shape(&x.sizes)
    );
    ensure!(
        groups > 0,
        "Number of groups to divide channels in must be positive. Value of groups:{groups}"
    );
    let c = x.sizes[1];
    ensure!(
        c % groups == 0,
        "Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
    );
    let strides = strides_for(&x.sizes, suggest_memory_format(&x.sizes, &x.strides))?;
    let out = cx.empty(&x.sizes, strides, x.dtype)?;
    launch(
        cx,
        LibraryOp::ChannelShuffle(groups),
        std::slice::from_ref(x),
        vec![out],
    )
}
