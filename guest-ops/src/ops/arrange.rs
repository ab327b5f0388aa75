//! Ops that rearrange elements: `cat`, `flip`, `roll`, the scans (`cumsum`, `cumprod`,
//! `logcumsumexp`, `cummax`/`cummin`), `sort`, `topk`, the
//! order statistics (`kthvalue`, `median`, `nanmedian`, `mode`), and `unfold`'s backward.

use crate::error::{ensure, ensure_index, ensure_kernel, ensure_type, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::copy::warn_if_imaginary_dropped;
use crate::ops::ctx::Ctx;
use crate::ops::library;
use crate::ops::out::output;
use crate::ops::tensor_arg::{check_same_type, check_scalar_types, TensorArg};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims;
use crate::rules::dtype::{can_cast, check_not_bool, ResultType};
use crate::rules::layout::{strides_for, suggest_memory_format, MemoryFormat};
use crate::rules::overlap::{check_internal, check_none, check_partial};
use crate::rules::propagate::preserve_strides;
use crate::rules::shape::{dim_mask, fmt_shape, numel, wrap_dim};
use crate::types::{LibraryOp, Output, ScalarType, ScanOp, SelectOp, TensorMeta};

/// `suggest_memory_format` of `t`.
fn suggested(t: &TensorMeta) -> MemoryFormat {
    suggest_memory_format(&t.sizes, &t.strides)
}

/// `cat(tensors, dim=0)` and `cat.out`. 1-d empty tensors are skipped (legacy behavior); the
/// result is channels-last only when every input is.
pub fn cat(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let xs = args.tensor_list(0)?;
    let dim = args.int_or(1, 0)?;
    ensure!(
        !xs.is_empty(),
        "torch.cat(): expected a non-empty list of Tensors"
    );
    for (i, t) in xs.iter().enumerate() {
        ensure!(
            t.dim() > 0,
            "zero-dimensional tensor (at position {i}) cannot be concatenated"
        );
    }
    let skipped = |t: &TensorMeta| t.sizes == [0];
    let reference = xs.iter().find(|t| !skipped(t)).unwrap_or(&xs[0]);
    let d = wrap_dim(dim, reference.dim())?;
    let mut shape = reference.sizes.clone();
    shape[d] = 0;
    let mut format = None;
    for (n, t) in xs.iter().enumerate().filter(|(_, t)| !skipped(t)) {
        ensure!(
            t.dim() == reference.dim(),
            "Tensors must have same number of dimensions: got {} and {}",
            reference.dim(),
            t.dim()
        );
        for k in (0..t.dim()).filter(|k| *k != d) {
            ensure!(
                t.sizes[k] == reference.sizes[k],
                "Sizes of tensors must match except in dimension {d}. Expected size {} but got \
                 size {} for tensor number {n} in the list.",
                reference.sizes[k],
                t.sizes[k]
            );
        }
        shape[d] = shape[d].saturating_add(t.sizes[d]);
    }
    // Skipped tensors have a say in the layout too: a 1-d one makes it contiguous.
    for t in xs {
        let f = suggested(t);
        format = match format {
            None => Some(f),
            Some(prev) if prev == f => Some(f),
            Some(_) => Some(MemoryFormat::Contiguous),
        };
    }
    if xs.iter().all(skipped) {
        shape = vec![0];
    }
    let format = format.unwrap_or(MemoryFormat::Contiguous);
    let mut state = ResultType::default();
    for t in xs {
        state.tensor(t.dtype, t.dim());
    }
    let dtype = state.result().unwrap_or(ScalarType::Float32);
    let (out, result) = match form.dest(args)? {
        Dest::Out(i, given) => {
            ensure_type!(
                can_cast(dtype, given.dtype),
                "torch.cat(): input types can't be cast to the desired output type {}",
                given.dtype.name()
            );
            if given.sizes == shape {
                check_internal(given)?;
                (given.clone(), Output::Argument(i))
            } else {
                // The CPU grows `given`'s own storage, so an input sharing it overlaps.
                xs.iter().try_for_each(|t| check_none(given, t))?;
                let t = cx.resize_out(given, &shape, strides_for(&shape, format)?)?;
                (t.clone(), Output::Updated((i, t)))
            }
        }
        _ => {
            let t = cx.empty(&shape, strides_for(&shape, format)?, dtype)?;
            (t.clone(), Output::Tensor(t))
        }
    };
    for t in xs {
        check_none(&out, t)?;
    }
    cx.k.cat(xs, d as i64, &out).map_err(failed("cat"))?;
    Ok(vec![result])
}

/// `flip(self, dims)`: laid out as `empty_like(self)`.
pub fn flip(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let mask = dim_mask(args.int_list(1)?, x.dim())?;
    let dims: Vec<i64> = (0..x.dim())
        .filter(|d| mask[*d])
        .map(|d| d as i64)
        .collect();
    let strides = preserve_strides(x)?;
    let out = cx.empty(&x.sizes, strides, x.dtype)?;
    cx.k.flip(x, &dims, &out).map_err(failed("flip"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `triu`/`tril(self, diagonal=0)`, their in-place and `out=` forms: a contiguous result of
/// the input's shape and dtype.
pub fn triangle(args: &Args, cx: &mut Ctx, form: Form, upper: bool) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let x = args.tensor(0)?;
    let diagonal = args.opt_int(1)?.unwrap_or(0);
    let name = if upper { "triu" } else { "tril" };
    ensure!(
        x.dim() >= 2,
        "{name}: input tensor must have at least 2 dimensions"
    );
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) | Dest::InPlace(_, out) = dest {
        ensure!(
            out.dtype == x.dtype,
            "{name}: expected out dtype {} but got {}",
            x.dtype.name(),
            out.dtype.name()
        );
    }
    let (out, outputs) = output(cx, dest, &x.sizes, x.dtype)?;
    cx.k.triangle(x, diagonal, upper, &out)
        .map_err(failed("triangle"))?;
    Ok(vec![outputs])
}

/// `roll(self, shifts, dims=[])`. As PyTorch's CPU kernel builds it: an empty `self` is
/// cloned as it is laid out, a roll along dims is a `cat` of two slices per dim (so it keeps
/// a channels-last layout while every slice is one), and a roll of the flattened tensor is
/// contiguous.
pub fn roll(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let x = args.tensor(0)?;
    let shifts = args.int_list(1)?;
    let dims = args.opt_int_list(2)?.unwrap_or(&[]);
    ensure!(!shifts.is_empty(), "`shifts` required");
    ensure!(
        (dims.is_empty() && shifts.len() == 1) || shifts.len() == dims.len(),
        "shifts and dimensions must align. shifts: {}, dims:{}",
        shifts.len(),
        dims.len()
    );
    ensure_index!(
        x.dim() > 0 || dims.is_empty(),
        "Dimension specified as 0 but tensor has no dimensions"
    );
    let dims = dims
        .iter()
        .map(|d| wrap_dim(*d, x.dim()).map(|w| w as i64))
        .collect::<Result<Vec<i64>>>()?;
    let strides = if numel(&x.sizes)? == 0 {
        preserve_strides(x)?
    } else {
        // A shift by a multiple of the dim's size cuts an empty slice, which is no longer
        // channels-last.
        let sliced = dims.iter().zip(shifts).all(|(&d, &s)| {
            let size = x.sizes[d as usize];
            s.rem_euclid(size) != 0
        });
        let format = match dims.is_empty() || !sliced {
            true => MemoryFormat::Contiguous,
            false => suggested(x),
        };
        strides_for(&x.sizes, format)?
    };
    let out = cx.empty(&x.sizes, strides, x.dtype)?;
    cx.k.roll(x, shifts, &dims, &out).map_err(failed("roll"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `unfold_backward(grad_in, input_sizes, dim, size, step)`: zeros of `input_sizes` with
/// `unfold_backward(grad_in, input_sizes, dim, size, step)`: `grad_in`'s windows added where
/// `unfold` took them, by the CPU's kernel (overlapping windows add up in its order).
pub fn unfold_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let grad = args.tensor(0)?;
    let sizes = args.int_list(1)?;
    let (dim, size, step) = (args.int(2)?, args.int(3)?, args.int(4)?);
    let out = cx.empty_contiguous(sizes, grad.dtype)?;
    let windows = dims::unfold(&out, dim, size, step)?;
    ensure!(
        windows.sizes == grad.sizes,
        "unfold_backward: grad_in of shape {} does not match the windows {} of an input of \
         shape {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&windows.sizes),
        fmt_shape(sizes)
    );
    let op = LibraryOp::UnfoldBackward((sizes.to_vec(), dim, size, step));
    library::launch(cx, op, std::slice::from_ref(grad), vec![out])
}

/// `cumsum`/`cumprod(self, dim, *, dtype=None)`, their in-place and `out=` forms. Integer
/// inputs accumulate in int64 unless a dtype (or an `out=` tensor) says otherwise.
pub fn scan(args: &Args, cx: &mut Ctx, form: Form, op: ScanOp) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let x = args.tensor(0)?;
    let d = wrap_dim(args.int(1)?, x.dim())?;
    let dest = form.dest(args)?;
    let dtype = match (args.opt_dtype(2)?, dest) {
        (Some(dtype), _) => dtype,
        (None, Dest::Out(_, out) | Dest::InPlace(_, out)) => out.dtype,
        (None, Dest::New) if x.dtype.is_integral(true) => ScalarType::Int64,
        (None, Dest::New) => x.dtype,
    };
    let kernel = if op == ScanOp::Cumsum {
        "cumsum"
    } else {
        "cumprod"
    };
    check_not_bool(dtype, &format!("{kernel}_out_cpu"))?;
    let (out, outputs) = output(cx, dest, &x.sizes, dtype)?;
    check_partial(&out, x)?;
    warn_if_imaginary_dropped(cx, x, dtype)?;
    cx.k.scan(op, x, d as i64, dtype, &out)
        .map_err(failed("scan"))?;
    Ok(vec![outputs])
}

/// `_logcumsumexp(self, dim)` and `.out`: floating inputs, a contiguous result of their dtype.
pub fn logcumsumexp(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let x = args.tensor(0)?;
    let d = wrap_dim(args.int(1)?, x.dim())?;
    ensure_kernel!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "\"logcumsumexp_out_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    let (out, outputs) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    check_partial(&out, x)?;
    cx.k.scan(ScanOp::Logcumsumexp, x, d as i64, x.dtype, &out)
        .map_err(failed("scan"))?;
    Ok(vec![outputs])
}

/// `_cummax_helper`/`_cummin_helper(self, values, indices, dim)`: the running extremes and
/// where they were, written into the given `values` (self's dtype) and Long `indices`.
pub fn cumulative_extreme(args: &Args, cx: &mut Ctx, max: bool) -> Outputs {
    args.at_most(4)?;
    let (x, values, indices) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let d = wrap_dim(args.int(3)?, x.dim())?;
    ensure!(
        values.sizes == x.sizes && indices.sizes == x.sizes,
        "cummax/cummin: values {} and indices {} must have self's shape {}",
        fmt_shape(&values.sizes),
        fmt_shape(&indices.sizes),
        fmt_shape(&x.sizes)
    );
    ensure!(
        values.dtype == x.dtype && indices.dtype == ScalarType::Int64,
        "cummax/cummin: expected values of dtype {} and Long indices, but got {} and {}",
        x.dtype.name(),
        values.dtype.name(),
        indices.dtype.name()
    );
    let op = if max {
        LibraryOp::Cummax(d as i64)
    } else {
        LibraryOp::Cummin(d as i64)
    };
    cx.k.library(
        op,
        std::slice::from_ref(x),
        &[values.clone(), indices.clone()],
    )
    .map_err(failed("library"))?;
    Ok(vec![])
}

/// The values and indices outputs of `sort`/`topk` of `shape`; fresh ones take `strides`.
fn value_index_outputs(
    args: &Args,
    cx: &mut Ctx,
    outs: Option<usize>,
    shape: &[i64],
    strides: Vec<i64>,
    dtype: ScalarType,
) -> Result<(TensorMeta, TensorMeta, Vec<Output>)> {
    if let Some(at) = outs {
        let (values, v_out) = output(cx, Dest::Out(at as u32, args.tensor(at)?), shape, dtype)?;
        let index_dest = Dest::Out(at as u32 + 1, args.tensor(at + 1)?);
        let (indices, i_out) = output(cx, index_dest, shape, ScalarType::Int64)?;
        return Ok((values, indices, vec![v_out, i_out]));
    }
    let values = cx.empty(shape, strides.clone(), dtype)?;
    let indices = cx.empty(shape, strides, ScalarType::Int64)?;
    let outputs = vec![
        Output::Tensor(values.clone()),
        Output::Tensor(indices.clone()),
    ];
    Ok((values, indices, outputs))
}

/// `sort(self, dim=-1, descending=False)`, `sort.stable(self, *, stable, dim=-1,
/// descending=False)` and their `values=`/`indices=` forms (`outs` at that position). Fresh
/// outputs keep a dense input's strides.
pub fn sort(args: &Args, cx: &mut Ctx, stable_form: bool, outs: Option<usize>) -> Outputs {
    let at = usize::from(stable_form);
    args.at_most(3 + at + 2 * usize::from(outs.is_some()))?;
    let x = args.tensor(0)?;
    let stable = if stable_form {
        args.bool_or(1, false)?
    } else {
        false
    };
    let d = wrap_dim(args.int_or(1 + at, -1)?, x.dim())?;
    let descending = args.bool_or(2 + at, false)?;
    let strides = preserve_strides(x)?;
    let (values, indices, outputs) =
        value_index_outputs(args, cx, outs, &x.sizes, strides, x.dtype)?;
    cx.k.sort(x, d as i64, descending, stable, &values, &indices)
        .map_err(failed("sort"))?;
    Ok(outputs)
}

/// `topk(self, k, dim=-1, largest=True, sorted=True)` and `topk.values`.
pub fn topk(args: &Args, cx: &mut Ctx, outs: bool) -> Outputs {
    args.at_most(if outs { 7 } else { 5 })?;
    let x = args.tensor(0)?;
    let k = args.int(1)?;
    let d = wrap_dim(args.int_or(2, -1)?, x.dim())?;
    let (largest, sorted) = (args.bool_or(3, true)?, args.bool_or(4, true)?);
    let size = if x.dim() == 0 { 1 } else { x.sizes[d] };
    ensure!(k >= 0 && k <= size, "selected index k out of range");
    let mut shape = x.sizes.clone();
    if x.dim() > 0 {
        shape[d] = k;
    }
    numel(&shape)?;
    ensure!(
        x.dtype != ScalarType::Bool,
        "topk does not support bool dtypes on CPU"
    );
    let strides = strides_for(&shape, MemoryFormat::Contiguous)?;
    let at = outs.then_some(5);
    let (values, indices, outputs) = value_index_outputs(args, cx, at, &shape, strides, x.dtype)?;
    cx.k.topk(x, k, d as i64, largest, sorted, &values, &indices)
        .map_err(failed("topk"))?;
    Ok(outputs)
}

fn select_name(op: SelectOp) -> &'static str {
    match op {
        SelectOp::Kthvalue => "kthvalue",
        SelectOp::Median => "median",
        SelectOp::Nanmedian => "nanmedian",
        SelectOp::Mode => "mode",
    }
}

/// `kthvalue(self, k, dim=-1, keepdim=False)`, `median.dim(self, dim, keepdim=False)`,
/// `nanmedian.dim`, `mode(self, dim=-1, keepdim=False)` and their `values=`/`indices=` forms:
/// values and Long indices, reduced along `dim`.
pub fn select(args: &Args, cx: &mut Ctx, op: SelectOp, outs: bool) -> Outputs {
    let at = usize::from(op == SelectOp::Kthvalue);
    args.at_most(3 + at + 2 * usize::from(outs))?;
    let x = args.tensor(0)?;
    let given = if outs {
        Some((args.tensor(3 + at)?, args.tensor(4 + at)?))
    } else {
        None
    };
    // `mode_out` checks its outputs' dtypes before it wraps the dim.
    if let (SelectOp::Mode, Some(given)) = (op, given) {
        check_select_outs(op, x, given)?;
    }
    let k = if at == 1 { args.int(1)? } else { 0 };
    let d = wrap_dim(args.int_or(1 + at, -1)?, x.dim())?;
    let keepdim = args.bool_or(2 + at, false)?;
    let size = if x.dim() == 0 { 1 } else { x.sizes[d] };
    // `zero_numel_check_dims`, which nanmedian reports as median.
    let name = match op {
        SelectOp::Nanmedian => "median",
        other => select_name(other),
    };
    ensure_index!(
        size > 0,
        "{name}(): Expected reduction dim {d} to have non-zero size."
    );
    ensure!(
        op != SelectOp::Kthvalue || (k >= 1 && k <= size),
        "kthvalue(): selected number k out of range for dimension {d}"
    );
    if let (SelectOp::Kthvalue | SelectOp::Median | SelectOp::Nanmedian, Some(given)) = (op, given)
    {
        if op == SelectOp::Kthvalue {
            check_none(given.0, x)?;
        }
        check_select_outs(op, x, given)?;
    }
    let mut shape = x.sizes.clone();
    if x.dim() > 0 {
        if keepdim {
            shape[d] = 1;
        } else {
            shape.remove(d);
        }
    }
    let kernel = match op {
        SelectOp::Kthvalue => Some("kthvalue_cpu"),
        SelectOp::Median | SelectOp::Nanmedian => Some("median_out"),
        SelectOp::Mode => None,
    };
    if let Some(kernel) = kernel {
        check_not_bool(x.dtype, kernel)?;
    }
    let strides = strides_for(&shape, MemoryFormat::Contiguous)?;
    let at_out = outs.then_some(3 + at);
    let (values, indices, outputs) =
        value_index_outputs(args, cx, at_out, &shape, strides, x.dtype)?;
    // The CPU's checks differ by op: kthvalue rejects values sharing any of the input, mode
    // values or indices sharing part of it, and median nothing.
    match op {
        SelectOp::Kthvalue => check_none(&values, x)?,
        SelectOp::Mode => {
            check_partial(&values, x)?;
            check_partial(&indices, x)?;
        }
        SelectOp::Median | SelectOp::Nanmedian => {}
    }
    cx.k.select(op, x, k, Some(d as i64), keepdim, &values, Some(&indices))
        .map_err(failed("select"))?;
    Ok(outputs)
}

/// The dtypes of `select`'s `values=` and `indices=` tensors, with each op's CPU message.
fn check_select_outs(
    op: SelectOp,
    x: &TensorMeta,
    (values, indices): (&TensorMeta, &TensorMeta),
) -> Result<()> {
    let long = ScalarType::Int64;
    match op {
        SelectOp::Kthvalue => {
            ensure!(
                values.dtype == x.dtype,
                "output values must be of same type as input"
            );
            ensure!(
                indices.dtype == long,
                "output indices must be of scalar type Long"
            );
        }
        SelectOp::Median | SelectOp::Nanmedian => {
            let indices = TensorArg::new(indices, "indices", 1);
            check_scalar_types("median", indices, &[long])?;
            let (values, x) = (
                TensorArg::new(values, "values", 0),
                TensorArg::new(x, "self", 2),
            );
            check_same_type("median", values, x)?;
        }
        SelectOp::Mode => {
            for (what, out, expected) in [("values", values, x.dtype), ("indices", indices, long)] {
                ensure!(
                    out.dtype == expected,
                    "expected scalar type '{}' but got '{}' for {what} output",
                    expected.name(),
                    out.dtype.name()
                );
            }
        }
    }
    Ok(())
}

/// `median(self)` and `nanmedian(self)`: the lower median of every element, 0-dim.
pub fn median_all(args: &Args, cx: &mut Ctx, op: SelectOp) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    check_not_bool(x.dtype, "median_cpu")?;
    let (values, result) = output(cx, Dest::New, &[], x.dtype)?;
    cx.k.select(op, x, 0, None, false, &values, None)
        .map_err(failed("select"))?;
    Ok(vec![result])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    #[test]
    fn unfold_backward_is_the_cpus_kernel_into_a_contiguous_gradient() {
        let grad = f32s(&[4, 2], 1);
        let args = |g: &crate::types::TensorMeta| {
            vec![
                arg(g),
                Arg::IntList(vec![5]),
                Arg::Integer(0),
                Arg::Integer(2),
                Arg::Integer(1),
            ]
        };
        let (res, fake) = run("unfold_backward", "", args(&grad));
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![5], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["library"]);
        let (res, _) = run("unfold_backward", "", args(&f32s(&[3, 2], 1)));
        assert!(res
            .unwrap_err()
            .message
            .contains("grad_in of shape [3, 2] does not match the windows [4, 2]"));
    }

    #[test]
    fn cat_shapes_dtypes_and_layouts() {
        let (a, b) = (f32s(&[3, 4], 1), tensor(&[2, 4], ScalarType::Float64, 2));
        let list = Arg::TensorList(vec![a.clone(), f32s(&[0], 3), b.clone()]);
        let (res, fake) = run("cat", "", vec![list, Arg::Integer(0)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![5, 4], vec![4, 1], 0, ScalarType::Float64)
        );
        assert_eq!(fake.calls[0].detail, "0");
        let mut cl = f32s(&[2, 3, 4, 5], 4);
        cl.strides = vec![60, 1, 15, 3];
        let list = Arg::TensorList(vec![cl.clone(), cl]);
        let (res, _) = run("cat", "", vec![list, Arg::Integer(1)]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![120, 1, 30, 6]);
        let list = Arg::TensorList(vec![a.clone(), f32s(&[3, 5], 5)]);
        let (res, _) = run("cat", "", vec![list]);
        assert!(res.unwrap_err().message.contains(
            "Sizes of tensors must match except in dimension 0. Expected size 4 but got size 5 for tensor number 1 in the list."
        ));
        let (res, _) = run("cat", "", vec![Arg::TensorList(vec![])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("expected a non-empty list of Tensors"));
        let out = tensor(&[0], ScalarType::Int64, 6);
        let list = Arg::TensorList(vec![a.clone(), a]);
        let (res, _) = run("cat", "out", vec![list, Arg::Integer(0), arg(&out)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("input types can't be cast to the desired output type Long"));
    }

    #[test]
    fn flip_roll_scan() {
        let mut xt = f32s(&[3, 4], 1);
        xt.strides = vec![1, 3];
        let (res, fake) = run("flip", "", vec![arg(&xt), Arg::IntList(vec![-1])]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![1, 3]);
        assert_eq!(fake.calls[0].detail, "[1]");
        let (res, _) = run("flip", "", vec![arg(&xt), Arg::IntList(vec![0, -2])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("dim 0 appears multiple times in the list of dims"));
        let (res, _) = run("roll", "", vec![arg(&xt), Arg::IntList(vec![1])]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![4, 1]);
        let (res, _) = run(
            "roll",
            "",
            vec![arg(&xt), Arg::IntList(vec![1, 2]), Arg::IntList(vec![0])],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("shifts and dimensions must align. shifts: 2, dims:1"));
        let b = tensor(&[3], ScalarType::Bool, 2);
        let (res, fake) = run("cumsum", "", vec![arg(&b), Arg::Integer(0)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Int64);
        assert_eq!(fake.calls[0].detail, "ScanOp::Cumsum 0 ScalarType::Int64");
        let out = tensor(&[3], ScalarType::Float64, 3);
        let (res, _) = run(
            "cumprod",
            "out",
            vec![arg(&f32s(&[3], 4)), Arg::Integer(0), Arg::None, arg(&out)],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(3)]);
    }

    #[test]
    fn sort_and_topk() {
        let mut xt = f32s(&[3, 4], 1);
        xt.strides = vec![1, 3];
        let (res, fake) = run(
            "sort",
            "stable",
            vec![
                arg(&xt),
                Arg::Boolean(true),
                Arg::Integer(0),
                Arg::Boolean(true),
            ],
        );
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).strides, vec![1, 3]);
        assert_eq!(
            geometry(&meta(&outputs, 1)),
            (vec![3, 4], vec![1, 3], 0, ScalarType::Int64)
        );
        assert_eq!(fake.calls[0].detail, "0 true true");
        let (res, _) = run("topk", "", vec![arg(&xt), Arg::Integer(2), Arg::Integer(0)]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 4]);
        let (res, _) = run("topk", "", vec![arg(&xt), Arg::Integer(5)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("selected index k out of range"));
    }
}
