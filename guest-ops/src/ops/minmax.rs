//! Extreme-value reductions: `amax`/`amin`, `aminmax`, `max`/`min` (full and along a dim)
//! and `argmax`/`argmin`, which have no identity and so refuse empty reductions.

use crate::error::{ensure, ensure_index, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::reduce::kernel_dims;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::overlap::check_partial;
use crate::rules::shape::{numel, reduced_shape, reduction_mask, wrap_dim};
use crate::types::{IndexReduceOp, ReduceOp, ScalarType, TensorMeta};

/// `zero_numel_check_dims`: reducing over an empty dim has no identity for max/min. Each of
/// `dims` is named as given (`amax` names -1 where `max.dim` has wrapped it already).
fn check_nonempty(name: &str, x: &TensorMeta, dims: &[i64], all: bool) -> Result<()> {
    if all {
        ensure!(
            numel(&x.sizes)? != 0,
            "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify \
             the reduction dim with the 'dim' argument."
        );
    }
    for &dim in dims {
        // A 0-dim tensor's dim 0 or -1 is the tensor itself: one element.
        let size = x.sizes.get(wrap_dim(dim, x.dim())?).copied().unwrap_or(1);
        ensure_index!(
            size != 0,
            "{name}(): Expected reduction dim {dim} to have non-zero size."
        );
    }
    Ok(())
}

/// `amax`/`amin(self, dim=[], keepdim=False)` and their `out=` forms.
pub fn amax_amin(args: &Args, cx: &mut Ctx, form: Form, op: ReduceOp) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let x = args.tensor(0)?;
    let dims = args.opt_int_list(1)?.unwrap_or(&[]);
    let keepdim = args.bool_or(2, false)?;
    let name = if op == ReduceOp::Amax { "amax" } else { "amin" };
    let mask = reduction_mask(dims, x.dim())?;
    check_nonempty(name, x, dims, dims.is_empty())?;
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == x.dtype,
            "Expected the dtype for input and out to match, but got {} for input's dtype and {} \
             for out's dtype.",
            x.dtype.name(),
            out.dtype.name()
        );
    }
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (out, outputs) = output(cx, dest, &shape, x.dtype)?;
    cx.k.reduce(op, x, &kernel_dims(&mask), keepdim, x.dtype, &out)
        .map_err(failed("reduce"))?;
    Ok(vec![outputs])
}

/// `aminmax(self, *, dim=None, keepdim=False)` and `aminmax.out` (`min`, `max` at 3 and 4):
/// both extremes over one dim or all, in `self`'s dtype.
pub fn aminmax(args: &Args, cx: &mut Ctx, outs: bool) -> Outputs {
    args.at_most(if outs { 5 } else { 3 })?;
    let x = args.tensor(0)?;
    let keepdim = args.bool_or(2, false)?;
    let along_dim = args.opt_int(1)?.is_some();
    let mask = match args.opt_int(1)? {
        Some(dim) => {
            let d = wrap_dim(dim, x.dim())?;
            ensure_index!(
                x.dim() == 0 || x.sizes[d] != 0,
                "aminmax: Expected reduction dim {d} to have non-zero size."
            );
            (0..x.dim()).map(|k| k == d).collect()
        }
        None => {
            ensure!(
                numel(&x.sizes)? != 0,
                "aminmax(): cannot compute aminmax over an empty dimension as the operation has \
                 no identity."
            );
            vec![true; x.dim()]
        }
    };
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let dims = kernel_dims(&mask);
    let mut results = vec![];
    for (at, op) in [(3, ReduceOp::Amin), (4, ReduceOp::Amax)] {
        let dest = if outs {
            Dest::Out(at, args.tensor(at as usize)?)
        } else {
            Dest::New
        };
        if let Dest::Out(_, out) = dest {
            ensure!(
                out.dtype == x.dtype,
                "Expected out tensor to have dtype {}, but got {} instead",
                x.dtype.type_meta_name(),
                out.dtype.type_meta_name()
            );
        }
        let (out, result) = output(cx, dest, &shape, x.dtype)?;
        // Only the CPU's reduction along a dim goes through TensorIterator's overlap check.
        if along_dim {
            check_partial(&out, x)?;
        }
        cx.k.reduce(op, x, &dims, keepdim, x.dtype, &out)
            .map_err(failed("reduce"))?;
        results.push(result);
    }
    Ok(results)
}

/// `max(self)`/`min(self)` and their `unary_out` forms: a 0-dim result.
pub fn max_min_all(args: &Args, cx: &mut Ctx, form: Form, op: ReduceOp) -> Outputs {
    args.at_most(1 + form.out_len())?;
    let x = args.tensor(0)?;
    let name = if op == ReduceOp::Amax { "max" } else { "min" };
    check_nonempty(name, x, &[], true)?;
    let (out, outputs) = output(cx, form.dest(args)?, &[], x.dtype)?;
    let all: Vec<i64> = (0..x.dim() as i64).collect();
    cx.k.reduce(op, x, &all, false, x.dtype, &out)
        .map_err(failed("reduce"))?;
    Ok(vec![outputs])
}

/// `max.dim`/`min.dim(self, dim, keepdim=False)` and `max.dim_max`/`min.dim_min(..., *,
/// values, indices)`: values and their indices along one dim.
pub fn max_min_dim(args: &Args, cx: &mut Ctx, outs: bool, op: IndexReduceOp) -> Outputs {
    args.at_most(if outs { 5 } else { 3 })?;
    let x = args.tensor(0)?;
    let d = wrap_dim(args.int(1)?, x.dim())?;
    let keepdim = args.bool_or(2, false)?;
    let name = if op == IndexReduceOp::Max {
        "max"
    } else {
        "min"
    };
    let mask = reduction_mask(&[d as i64], x.dim())?;
    check_nonempty(name, x, &[d as i64], false)?;
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (values_dest, indices_dest) = if outs {
        (Dest::Out(3, args.tensor(3)?), Dest::Out(4, args.tensor(4)?))
    } else {
        (Dest::New, Dest::New)
    };
    let (values, values_out) = output(cx, values_dest, &shape, x.dtype)?;
    let (indices, indices_out) = output(cx, indices_dest, &shape, ScalarType::Int64)?;
    check_partial(&values, x)?;
    check_partial(&indices, x)?;
    cx.k.index_reduce(op, x, Some(d as i64), keepdim, Some(&values), &indices)
        .map_err(failed("index_reduce"))?;
    Ok(vec![values_out, indices_out])
}

/// `argmax`/`argmin(self, dim=None, keepdim=False)` and their `out=` forms.
pub fn argmax_argmin(args: &Args, cx: &mut Ctx, form: Form, op: IndexReduceOp) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let x = args.tensor(0)?;
    let keepdim = args.bool_or(2, false)?;
    let name = if op == IndexReduceOp::Argmax {
        "argmax"
    } else {
        "argmin"
    };
    let (dim, shape) = match args.opt_int(1)? {
        None => {
            ensure_index!(
                numel(&x.sizes)? != 0,
                "{name}(): Expected reduction dim to be specified for input.numel() == 0."
            );
            (
                None,
                if keepdim {
                    vec![1; x.dim()]
                } else {
                    Vec::new()
                },
            )
        }
        Some(dim) => {
            let d = wrap_dim(dim, x.dim())?;
            let mask = reduction_mask(&[d as i64], x.dim())?;
            check_nonempty(name, x, &[d as i64], false)?;
            (Some(d as i64), reduced_shape(&x.sizes, &mask, keepdim))
        }
    };
    ensure!(
        x.dtype != ScalarType::Bool,
        "{name}(): does not support bool input"
    );
    let (out, outputs) = output(cx, form.dest(args)?, &shape, ScalarType::Int64)?;
    cx.k.index_reduce(op, x, dim, keepdim, None, &out)
        .map_err(failed("index_reduce"))?;
    Ok(vec![outputs])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    fn dims(d: &[i64]) -> Arg {
        Arg::IntList(d.to_vec())
    }

    #[test]
    fn max_min_family() {
        let x = f32s(&[2, 3], 1);
        let (res, fake) = run(
            "max",
            "dim",
            vec![arg(&x), Arg::Integer(0), Arg::Boolean(true)],
        );
        let outputs = res.unwrap();
        assert_eq!(
            geometry(&meta(&outputs, 0)),
            (vec![1, 3], vec![3, 1], 0, ScalarType::Float32)
        );
        assert_eq!(meta(&outputs, 1).dtype, ScalarType::Int64);
        assert_eq!(fake.calls[0].detail, "IndexReduceOp::Max Some(0) true");
        let (values, indices) = (f32s(&[3], 2), tensor(&[3], ScalarType::Int64, 3));
        let args = vec![
            arg(&x),
            Arg::Integer(0),
            Arg::Boolean(false),
            arg(&values),
            arg(&indices),
        ];
        let (res, _) = run("min", "dim_min", args);
        assert_eq!(res.unwrap(), vec![Output::Argument(3), Output::Argument(4)]);
        let (res, _) = run("max", "", vec![arg(&x)]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, Vec::<i64>::new());
        let empty = f32s(&[0, 3], 4);
        let (res, _) = run("max", "", vec![arg(&empty)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("max(): Expected reduction dim to be specified for input.numel() == 0."));
        let (res, _) = run("max", "dim", vec![arg(&empty), Arg::Integer(0)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("max(): Expected reduction dim 0 to have non-zero size."));
        let (res, _) = run("amax", "", vec![arg(&empty), dims(&[1])]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![0]);
        let (res, _) = run("amax", "", vec![arg(&empty), dims(&[-2])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("amax(): Expected reduction dim -2 to have non-zero size."));
        // A 0-dim tensor reduces over its dim 0 (or -1): its one element.
        let scalar = f32s(&[], 6);
        for (op, overload, dim) in [
            ("amax", "", dims(&[-1])),
            ("argmax", "", Arg::Integer(0)),
            ("max", "dim", Arg::Integer(-1)),
        ] {
            let (res, _) = run(op, overload, vec![arg(&scalar), dim]);
            assert_eq!(meta(&res.unwrap(), 0).sizes, Vec::<i64>::new(), "{op}");
        }
        let out = tensor(&[3], ScalarType::Float64, 5);
        let (res, _) = run(
            "amax",
            "out",
            vec![arg(&x), dims(&[0]), Arg::Boolean(false), arg(&out)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected the dtype for input and out to match"));
    }

    #[test]
    fn argmax_shapes() {
        let x = f32s(&[2, 3], 1);
        let (res, fake) = run("argmax", "", vec![arg(&x), Arg::None, Arg::Boolean(true)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![1, 1], vec![1, 1], 0, ScalarType::Int64)
        );
        assert_eq!(fake.calls[0].detail, "IndexReduceOp::Argmax None true");
        let (res, _) = run("argmin", "", vec![arg(&x), Arg::Integer(-1)]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2]);
        let (res, _) = run("argmax", "", vec![arg(&f32s(&[0], 2))]);
        assert!(res
            .unwrap_err()
            .message
            .contains("argmax(): Expected reduction dim to be specified for input.numel() == 0."));
        let (res, _) = run(
            "argmax",
            "out",
            vec![
                arg(&x),
                Arg::Integer(1),
                Arg::Boolean(false),
                arg(&f32s(&[2], 3)),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected out tensor to have dtype long int, but got float instead"));
    }
}
