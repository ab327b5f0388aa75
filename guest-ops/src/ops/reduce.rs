//! Accumulating reductions: `sum`, `mean`, `prod`, `all`, `any`, and `equal`. Their outputs
//! are contiguous, like `resize_reduction`'s.

use crate::error::{ensure, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::copy::warn_if_imaginary_dropped;
use crate::ops::ctx::Ctx;
use crate::ops::library;
use crate::ops::out::output;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_not_bool, promote};
use crate::rules::shape::{reduced_shape, reduction_mask};
use crate::types::{
    BinaryOp, LibraryOp, Operand, Output, ReduceOp, Scalar, ScalarType, TensorMeta,
};

/// The reduced dims for a kernel: wrapped, ascending and always spelled out, since an empty
/// list means "all" to the kernel but "none" to libtorch's `all`/`any`.
pub fn kernel_dims(mask: &[bool]) -> Vec<i64> {
    (0..mask.len())
        .filter(|d| mask[*d])
        .map(|d| d as i64)
        .collect()
}

/// `sum`/`mean`/`prod` over all dims (`full`: `sum(self, *, dtype)`, `mean.dtype_out`) or
/// over `dim` (`sum.dim_IntList(self, dim, keepdim, *, dtype)`, `prod.dim_int`, their outs).
pub fn sum_like(args: &Args, cx: &mut Ctx, form: Form, op: ReduceOp, full: bool) -> Outputs {
    let dtype_at = if full { 1 } else { 3 };
    args.at_most(dtype_at + 1 + form.out_len())?;
    let x = args.tensor(0)?;
    let (dims, keepdim) = if full {
        (&[][..], false)
    } else {
        (
            args.opt_int_list(1)?.unwrap_or(&[]),
            args.bool_or(2, false)?,
        )
    };
    let requested = args.opt_dtype(dtype_at)?;
    if op == ReduceOp::Mean {
        check_mean(x.dtype, requested)?;
    }
    let dest = form.dest(args)?;
    let dtype = match (requested, dest) {
        (Some(d), _) => d,
        (None, Dest::Out(_, out)) => out.dtype,
        (None, _) if x.dtype.is_integral(true) => ScalarType::Int64,
        (None, _) => x.dtype,
    };
    let mask = reduction_mask(dims, x.dim())?;
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (out, outputs) = output(cx, dest, &shape, dtype)?;
    warn_if_imaginary_dropped(cx, x, dtype)?;
    reduce_into(cx, op, x, (&kernel_dims(&mask), keepdim), &out)?;
    Ok(vec![outputs])
}

/// `op` of `x` over `dims` into `out`, in `out`'s dtype as `sum_out`/`mean_out` compute.
pub fn reduce_into(
    cx: &mut Ctx,
    op: ReduceOp,
    x: &TensorMeta,
    (dims, keepdim): (&[i64], bool),
    out: &TensorMeta,
) -> Result<()> {
    let compute = out.dtype.op_math();
    if op == ReduceOp::Mean && compute != out.dtype && x.dtype != out.dtype {
        // The CPU's mean into half or bfloat16 sums in float, divides, then casts.
        let float = cx.empty_contiguous(&out.sizes, compute)?;
        cx.k.reduce(op, x, dims, keepdim, compute, &float)
            .map_err(failed("reduce"))?;
        cx.k.copy(&float, out).map_err(failed("copy"))?;
        cx.free(&float);
        return Ok(());
    }
    cx.k.reduce(op, x, dims, keepdim, out.dtype, out)
        .map_err(failed("reduce"))
}

/// `count_nonzero.dim_IntList(self, dim)` and `count_nonzero(self, dim=None)`: Long counts
/// of the elements that are not zero, over `dim` (all by default).
pub fn count_nonzero(args: &Args, cx: &mut Ctx, list: bool) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let dims = if list {
        args.int_list(1)?.to_vec()
    } else {
        args.opt_int(1)?.map(|d| vec![d]).unwrap_or_default()
    };
    let mask = reduction_mask(&dims, x.dim())?;
    let shape = reduced_shape(&x.sizes, &mask, false);
    let nonzero = cx.empty_contiguous(&x.sizes, ScalarType::Bool)?;
    truth_into(cx, x, &nonzero)?;
    let (out, result) = output(cx, Dest::New, &shape, ScalarType::Int64)?;
    cx.k.reduce(
        ReduceOp::Sum,
        &nonzero,
        &kernel_dims(&mask),
        false,
        ScalarType::Int64,
        &out,
    )
    .map_err(failed("reduce"))?;
    cx.free(&nonzero);
    Ok(vec![result])
}

/// `trace(self)`: the sum of a matrix's diagonal, as a 0-dim tensor (Long for integers).
pub fn trace(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    // The CPU's dtype dispatch comes first.
    check_not_bool(x.dtype, "trace")?;
    ensure!(
        x.dim() == 2,
        "trace: expected a matrix, but got tensor with dim {}",
        x.dim()
    );
    let dtype = if x.dtype.is_integral(true) {
        ScalarType::Int64
    } else {
        x.dtype
    };
    let (out, result) = output(cx, Dest::New, &[], dtype)?;
    library::run(cx, LibraryOp::Trace, std::slice::from_ref(x), out, result)
}

fn check_mean(input: ScalarType, requested: Option<ScalarType>) -> Result<()> {
    let (what, dtype) = match requested {
        Some(d) => ("Optional", d),
        None => ("Input", input),
    };
    ensure!(
        dtype.is_floating() || dtype.is_complex(),
        "mean(): could not infer output dtype. {what} dtype must be either a floating point or \
         complex dtype. Got: {}",
        dtype.name()
    );
    Ok(())
}

/// `all`/`any` in all their forms: `full` (`all(self)`, `all.all_out`), or over `dim`
/// (`all.dim`, `all.dims`, `all.out`, `all.dims_out`). Results are bool, or uint8 for uint8
/// inputs, and an `out=` tensor must be one of the two.
pub fn all_any(args: &Args, cx: &mut Ctx, form: Form, op: ReduceOp, full: bool) -> Outputs {
    args.at_most(if full { 1 } else { 3 } + form.out_len())?;
    let x = args.tensor(0)?;
    let name = if op == ReduceOp::All { "all" } else { "any" };
    let (dims, keepdim) = if full {
        (None, false)
    } else {
        (args.opt_int_list(1)?, args.bool_or(2, false)?)
    };
    let mask = match dims {
        None => vec![true; x.dim()],
        Some([]) => return truth_of(args, cx, form),
        Some(dims) => reduction_mask(dims, x.dim())?,
    };
    let natural = if x.dtype == ScalarType::Uint8 {
        ScalarType::Uint8
    } else {
        ScalarType::Bool
    };
    let dest = form.dest(args)?;
    let dtype = match dest {
        Dest::Out(_, out) => out.dtype,
        _ => natural,
    };
    ensure!(
        matches!(dtype, ScalarType::Bool | ScalarType::Uint8),
        "{name} only supports bool tensor for result, got: {}",
        dtype.name()
    );
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (out, outputs) = output(cx, dest, &shape, dtype)?;
    let target = if dtype == natural {
        out.clone()
    } else {
        cx.empty_contiguous(&shape, natural)?
    };
    cx.k.reduce(op, x, &kernel_dims(&mask), keepdim, x.dtype, &target)
        .map_err(failed("reduce"))?;
    if target != out {
        cx.k.copy(&target, &out).map_err(failed("copy"))?;
        cx.free(&target);
    }
    Ok(vec![outputs])
}

/// `x != 0` into the Bool tensor `out`.
fn truth_into(cx: &mut Ctx, x: &TensorMeta, out: &TensorMeta) -> Result<()> {
    let zero = Operand::Number(Scalar::Integer(0));
    cx.k.binary(
        BinaryOp::Ne,
        &Operand::Tensor(x.clone()),
        &zero,
        None,
        x.dtype,
        out,
    )
    .map_err(failed("binary"))
}

/// `all`/`any` over no dims: each element's truth, as Bool (Uint8 for a Uint8 input).
fn truth_of(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    let x = args.tensor(0)?;
    let natural = if x.dtype == ScalarType::Uint8 {
        ScalarType::Uint8
    } else {
        ScalarType::Bool
    };
    let (out, outputs) = output(cx, form.dest(args)?, &x.sizes, natural)?;
    let truth = if out.dtype == ScalarType::Bool {
        out.clone()
    } else {
        cx.empty_contiguous(&x.sizes, ScalarType::Bool)?
    };
    truth_into(cx, x, &truth)?;
    if truth != out {
        cx.k.copy(&truth, &out).map_err(failed("copy"))?;
        cx.free(&truth);
    }
    Ok(vec![outputs])
}

/// `equal(self, other)`: whether both have the same sizes and equal elements, compared in
/// their promoted dtype. The result is a 0-dim Bool tensor, which the client reads for the
/// schema's `bool`.
pub fn equal(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let out = cx.empty_contiguous(&[], ScalarType::Bool)?;
    if a.sizes != b.sizes {
        cx.k.fill(&out, Scalar::Boolean(false))
            .map_err(failed("fill"))?;
        return Ok(vec![Output::Tensor(out)]);
    }
    let same = cx.empty_contiguous(&a.sizes, ScalarType::Bool)?;
    let (ta, tb) = (Operand::Tensor(a.clone()), Operand::Tensor(b.clone()));
    cx.k.binary(
        BinaryOp::Eq,
        &ta,
        &tb,
        None,
        promote(a.dtype, b.dtype),
        &same,
    )
    .map_err(failed("binary"))?;
    let dims: Vec<i64> = (0..a.dim() as i64).collect();
    cx.k.reduce(ReduceOp::All, &same, &dims, false, ScalarType::Bool, &out)
        .map_err(failed("reduce"))?;
    cx.free(&same);
    Ok(vec![Output::Tensor(out)])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    fn dims(d: &[i64]) -> Arg {
        Arg::IntList(d.to_vec())
    }

    #[test]
    fn sum_shapes_and_dtypes() {
        let x = f32s(&[2, 3, 4], 1);
        let (res, fake) = run(
            "sum",
            "dim_IntList",
            vec![arg(&x), dims(&[1, -1]), Arg::Boolean(true)],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 1, 1], vec![1, 1, 1], 0, ScalarType::Float32)
        );
        assert_eq!(
            fake.calls[0].detail,
            "ReduceOp::Sum [1, 2] true ScalarType::Float32"
        );
        let i = tensor(&[3], ScalarType::Int32, 2);
        let (res, _) = run("sum", "", vec![arg(&i)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![], vec![], 0, ScalarType::Int64)
        );
        // an int32 out keeps int32; a dtype argument must match out
        let out = tensor(&[], ScalarType::Int32, 3);
        let (res, fake) = run(
            "sum",
            "IntList_out",
            vec![
                arg(&i),
                dims(&[0]),
                Arg::Boolean(false),
                Arg::None,
                arg(&out),
            ],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(4)]);
        assert!(fake.calls[0].detail.ends_with("ScalarType::Int32"));
        let args = vec![
            arg(&x),
            dims(&[0]),
            Arg::Boolean(false),
            Arg::Dtype(ScalarType::Float64),
            arg(&f32s(&[3, 4], 4)),
        ];
        let (res, _) = run("sum", "IntList_out", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected out tensor to have dtype double, but got float instead"));
        let (res, _) = run("sum", "dim_IntList", vec![arg(&x), dims(&[0, 0])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("dim 0 appears multiple times in the list of dims"));
    }

    #[test]
    fn reductions_of_strided_inputs_are_contiguous() {
        // empty(2, 3, 4).permute(2, 0, 1).sum(1, keepdim=True).stride() == (3, 3, 1)
        let mut p = f32s(&[4, 2, 3], 1);
        p.strides = vec![1, 12, 4];
        let (res, _) = run(
            "sum",
            "dim_IntList",
            vec![arg(&p), dims(&[1]), Arg::Boolean(true)],
        );
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![3, 3, 1]);
    }

    #[test]
    fn mean_rejects_integers() {
        let i = tensor(&[3], ScalarType::Int64, 1);
        let (res, _) = run("mean", "", vec![arg(&i)]);
        assert!(res.unwrap_err().message.contains(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: Long"
        ));
        let (res, _) = run(
            "mean",
            "dim",
            vec![
                arg(&f32s(&[3], 2)),
                dims(&[0]),
                Arg::Boolean(false),
                Arg::Dtype(ScalarType::Int64),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Optional dtype must be either"));
        let out = tensor(&[], ScalarType::Float64, 3);
        let (res, _) = run(
            "mean",
            "out",
            vec![
                arg(&f32s(&[3], 2)),
                dims(&[0]),
                Arg::Boolean(false),
                Arg::None,
                arg(&out),
            ],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(4)]);
    }

    #[test]
    fn prod_all_any() {
        let i = tensor(&[2, 3], ScalarType::Int32, 1);
        let (res, fake) = run(
            "prod",
            "dim_int",
            vec![arg(&i), Arg::Integer(-1), Arg::Boolean(true)],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 1], vec![1, 1], 0, ScalarType::Int64)
        );
        assert_eq!(
            fake.calls[0].detail,
            "ReduceOp::Prod [1] true ScalarType::Int64"
        );
        let u = tensor(&[2, 3], ScalarType::Uint8, 2);
        let (res, fake) = run("all", "", vec![arg(&u)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Uint8);
        assert_eq!(
            fake.calls[0].detail,
            "ReduceOp::All [0, 1] false ScalarType::Uint8"
        );
        let f = f32s(&[2, 3], 3);
        let (res, _) = run("any", "dim", vec![arg(&f), Arg::Integer(1)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2], vec![1], 0, ScalarType::Bool)
        );
        let (res, fake) = run(
            "all",
            "all_out",
            vec![arg(&f), arg(&tensor(&[], ScalarType::Uint8, 4))],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(1)]);
        assert_eq!(fake.kernels(), vec!["reduce", "copy"]);
        assert_eq!(fake.freed, vec![100]);
        let (res, _) = run(
            "all",
            "out",
            vec![arg(&f), Arg::Integer(0), Arg::Boolean(false), arg(&i)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("all only supports bool tensor for result, got: Int"));
    }
}
