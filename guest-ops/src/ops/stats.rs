//! Statistical reductions: `var`/`std` (and `var_mean`/`std_mean`) with a correction,
//! `linalg_vector_norm` and `logsumexp`. Results are contiguous, like every reduction's.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::reduce::kernel_dims;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_can_cast, default_float, promote};
use crate::rules::shape::{fmt_shape, numel, reduced_shape, reduction_mask};
use crate::types::{Arg, MomentOp, Output, ReduceOp, Scalar, TensorMeta};

fn mask_of(args: &Args, i: usize, x: &TensorMeta) -> Result<Vec<bool>> {
    reduction_mask(args.opt_int_list(i)?.unwrap_or(&[]), x.dim())
}

/// `var`/`std.correction(self, dim=None, *, correction=None, keepdim=False)` and their
/// `correction_out` forms; with `with_mean`, `var_mean`/`std_mean.correction`.
pub fn moments(args: &Args, cx: &mut Ctx, form: Form, op: MomentOp, with_mean: bool) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let x = args.tensor(0)?;
    let mask = mask_of(args, 1, x)?;
    let correction = args.scalar_or(2, Scalar::Integer(1))?;
    let keepdim = args.bool_or(3, false)?;
    let name = match (op, with_mean) {
        (MomentOp::Var, false) => "var",
        (MomentOp::Std, false) => "std",
        (MomentOp::Var, true) => "var_mean",
        (MomentOp::Std, true) => "std_mean",
    };
    ensure!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "{} only support floating point and complex dtypes",
        if with_mean { name } else { "std and var" }
    );
    let dest = form.dest(args)?;
    let dtype = match dest {
        Dest::Out(_, out) => {
            check_can_cast(x.dtype.real_part(), out.dtype)?;
            out.dtype
        }
        _ => x.dtype.real_part(),
    };
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (out, result) = output(cx, dest, &shape, dtype)?;
    let outputs = numel(&shape)?;
    // A real input reduced into complex runs the CPU's complex kernel, which it lacks, unless
    // the one-output or empty-input paths take it first.
    ensure_kernel!(
        x.dtype.is_complex() || !dtype.is_complex() || outputs == 1 || numel(&x.sizes)? == 0,
        "\"std_cpu\" not implemented for '{}'",
        dtype.name()
    );
    let reduced = if outputs == 0 {
        0
    } else {
        numel(&x.sizes)? / outputs
    };
    if reduced as f64 - correction.to_f64() <= 0.0 {
        cx.warn(format!(
            "{name}(): degrees of freedom is <= 0. Correction should be strictly less than the \
             reduction factor (input numel divided by output numel)."
        ));
    }
    let mean = if with_mean {
        Some(cx.empty_contiguous(&shape, x.dtype)?)
    } else {
        None
    };
    // The CPU reduces in the out= tensor's dtype (`make_reduction` casts the input to it).
    let widened = if x.dtype.is_floating() && dtype.is_floating() && dtype != x.dtype && !with_mean
    {
        let wide = cx.empty_contiguous(&x.sizes, dtype)?;
        cx.k.copy(x, &wide).map_err(failed("copy"))?;
        Some(wide)
    } else {
        None
    };
    let source = widened.as_ref().unwrap_or(x);
    let dims = kernel_dims(&mask);
    cx.k.moments(op, source, &dims, correction, keepdim, &out, mean.as_ref())
        .map_err(failed("moments"))?;
    if let Some(wide) = &widened {
        cx.free(wide);
    }
    let mut outputs = vec![result];
    outputs.extend(mean.map(crate::types::Output::Tensor));
    Ok(outputs)
}

/// Which overload of `norm` an op is: whether it takes `dim, keepdim`, a `dtype`, an `out`.
#[derive(Debug, Clone, Copy)]
pub struct NormForm {
    pub dims: bool,
    pub dtype: bool,
    pub out: bool,
}

/// `norm.Scalar`, `norm.ScalarOpt_dtype`, `norm.ScalarOpt_dim`, `norm.ScalarOpt_dim_dtype`,
/// `norm.out` and `norm.dtype_out`: `linalg_vector_norm` with `p` (None is 2).
pub fn norm(args: &Args, cx: &mut Ctx, form: NormForm) -> Outputs {
    let raw = args.raw();
    let at = |i: usize| raw.get(i).cloned().unwrap_or(Arg::None);
    let p = match at(1) {
        Arg::None => Arg::Scalar(Scalar::Integer(2)),
        p => p,
    };
    let (dim, keepdim, next) = if form.dims {
        (at(2), at(3), 4)
    } else {
        (Arg::None, Arg::Boolean(false), 2)
    };
    let (dtype, next) = if form.dtype {
        (at(next), next + 1)
    } else {
        (Arg::None, next)
    };
    args.at_most(next + usize::from(form.out))?;
    let mut list = vec![at(0), p, dim, keepdim, dtype];
    if !form.out {
        return vector_norm(&Args::new(&list), cx, Form::Functional);
    }
    list.push(at(next));
    let outputs = vector_norm(&Args::new(&list), cx, Form::Out(5))?;
    // The `out` argument is at `next` in `norm`'s own schema.
    Ok(outputs
        .into_iter()
        .map(|o| match o {
            Output::Argument(5) => Output::Argument(next as u32),
            Output::Updated((5, m)) => Output::Updated((next as u32, m)),
            other => other,
        })
        .collect())
}

/// `linalg_vector_norm(self, ord=2, dim=None, keepdim=False, *, dtype=None)` and `.out`.
pub fn vector_norm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let x = args.tensor(0)?;
    let ord = args.scalar_or(1, Scalar::Integer(2))?;
    let mask = mask_of(args, 2, x)?;
    let keepdim = args.bool_or(3, false)?;
    ensure!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
        x.dtype.name()
    );
    let dtype = match args.opt_dtype(4)? {
        Some(d) => {
            ensure!(
                d.is_floating() || d.is_complex(),
                "linalg.vector_norm: dtype should be floating point or complex, but got {}",
                d.name()
            );
            let kind = if x.dtype.is_complex() {
                "complex"
            } else {
                "real"
            };
            ensure!(
                x.dtype.is_complex() == d.is_complex(),
                "linalg.vector_norm: dtype should be {kind} for {kind} inputs, but got {}",
                d.name()
            );
            ensure!(
                promote(x.dtype, d) == d,
                "linalg.vector_norm: the dtype of the input ({}) should be convertible without \
                 narrowing to the specified dtype ({})",
                x.dtype.name(),
                d.name()
            );
            d
        }
        None => x.dtype,
    };
    let p = ord.to_f64();
    if p < 0.0 || p.is_infinite() {
        for (d, reduced) in mask.iter().enumerate() {
            if *reduced && x.sizes[d] == 0 {
                let shown = match ord {
                    Scalar::Integer(v) => v.to_string(),
                    _ => p.to_string(),
                };
                // Without `dim` the CPU names no dimension.
                let message = match args.opt_int_list(2)? {
                    Some(dims) if !dims.is_empty() => format!(
                        "linalg.vector_norm cannot compute the {shown} norm on the dimension \
                         {d}because this dimension is empty and the operation does not have an \
                         identity"
                    ),
                    _ => format!(
                        "linalg.vector_norm cannot compute the {shown} norm on an empty tensor \
                         because the operation does not have an identity"
                    ),
                };
                return Err(Error::invalid(message));
            }
        }
    }
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    // A complex norm is computed in complex and is real.
    let (out, result) = output(cx, form.dest(args)?, &shape, dtype.real_part())?;
    cx.k.vector_norm(x, ord, &kernel_dims(&mask), keepdim, dtype, &out)
        .map_err(failed("vector_norm"))?;
    Ok(vec![result])
}

/// `logsumexp(self, dim, keepdim=False)` and `.out`; integers give the default float.
pub fn logsumexp(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let x = args.tensor(0)?;
    let dims = args.int_list(1)?;
    let keepdim = args.bool_or(2, false)?;
    // With no dims the CPU reduces every dim, then adds the maxima it kept to a sum it did not
    // keep: that fails unless the dims are kept (or the input is empty: it sums no maxima).
    ensure!(
        !dims.is_empty() || keepdim || x.dim() == 0 || numel(&x.sizes)? == 0,
        "output with shape [] doesn't match the broadcast shape {}",
        fmt_shape(&vec![1; x.dim()])
    );
    let mask = reduction_mask(dims, x.dim())?;
    let dest = form.dest(args)?;
    let dtype = match dest {
        Dest::Out(_, out) => {
            ensure!(
                out.dtype.is_floating(),
                "logsumexp(): Expected floating point type for result tensor, but got: {}",
                out.dtype.name()
            );
            out.dtype
        }
        _ if x.dtype.is_integral(true) => default_float(),
        _ => x.dtype,
    };
    let shape = reduced_shape(&x.sizes, &mask, keepdim);
    let (out, result) = output(cx, dest, &shape, dtype)?;
    cx.k.reduce(
        ReduceOp::Logsumexp,
        x,
        &kernel_dims(&mask),
        keepdim,
        dtype,
        &out,
    )
    .map_err(failed("reduce"))?;
    Ok(vec![result])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Scalar, ScalarType};

    #[test]
    fn var_std_shapes() {
        let mut xt = f32s(&[3, 4], 1);
        xt.strides = vec![1, 3];
        let (res, fake) = run("var", "correction", vec![arg(&xt), Arg::IntList(vec![1])]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![3], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(
            fake.calls[0].detail,
            "MomentOp::Var [1] Scalar::Integer(1) false"
        );
        let args = vec![
            arg(&xt),
            Arg::None,
            Arg::Scalar(Scalar::Integer(0)),
            Arg::Boolean(true),
        ];
        let (res, _) = run("std_mean", "correction", args);
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![1, 1]);
        assert_eq!(meta(&outputs, 1).sizes, vec![1, 1]);
        let long = tensor(&[3], ScalarType::Int64, 2);
        let (res, _) = run("std", "correction", vec![arg(&long)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("std and var only support floating point and complex dtypes"));
    }

    #[test]
    fn vector_norm_and_logsumexp() {
        let x = f32s(&[0, 3], 1);
        let inf = Arg::Scalar(Scalar::Float(f64::INFINITY));
        let (res, _) = run(
            "linalg_vector_norm",
            "",
            vec![arg(&x), inf, Arg::IntList(vec![0])],
        );
        assert!(res.unwrap_err().message.contains(
            "cannot compute the inf norm on the dimension 0because this dimension is empty"
        ));
        let args = vec![
            arg(&f32s(&[3, 4], 2)),
            Arg::Scalar(Scalar::Integer(2)),
            Arg::None,
            Arg::Boolean(false),
            Arg::Dtype(ScalarType::Float16),
        ];
        let (res, _) = run("linalg_vector_norm", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("should be convertible without narrowing to the specified dtype (Half)"));
        let long = tensor(&[2, 3], ScalarType::Int64, 3);
        let (res, fake) = run("logsumexp", "", vec![arg(&long), Arg::IntList(vec![1])]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(
            fake.calls[0].detail,
            "ReduceOp::Logsumexp [1] false ScalarType::Float32"
        );
    }
}
