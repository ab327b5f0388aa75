//! `out=` forms whose CPU kernels compute a result and copy it in (the factorizations, the
//! FFTs, `nonzero`, `histc`): the functional form lowers the op, then each result is copied
//! into its `out=` tensor under the rules of the op's CPU kernel.

use crate::error::{ensure, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::dtype::{can_cast, check_scalar_type};
use crate::rules::layout::contiguous_strides;
use crate::rules::overlap::check_internal;
use crate::types::{Output, TensorMeta};

type Functional = fn(&Args, &mut Ctx) -> Outputs;

/// How an `out=` tensor takes a result.
#[derive(Clone, Copy)]
enum Rule {
    /// Structured kernels: the result's dtype exactly; a resized tensor takes the result's
    /// strides (LAPACK's column-major ones).
    Exact,
    /// A kernel that writes into the out tensor through a typed pointer: the result's dtype
    /// exactly, with `data_ptr`'s message.
    Typed,
    /// `api`'s own checks: any dtype the result safely casts to. A resized tensor is
    /// contiguous, but where a `direct` kernel writes into one of the result's dtype: that
    /// takes the result's strides.
    Castable { api: &'static str, direct: bool },
}

/// A structured op's `out=` form: its last `outs` arguments are the outputs.
pub fn exact(args: &Args, cx: &mut Ctx, outs: usize, functional: Functional) -> Outputs {
    into_outs(args, cx, outs, Rule::Exact, functional)
}

/// An `out=` form whose CPU kernel writes into the out tensor as the result's dtype.
pub fn typed(args: &Args, cx: &mut Ctx, functional: Functional) -> Outputs {
    into_outs(args, cx, 1, Rule::Typed, functional)
}

/// The `out=` form of `api`, which casts its one result into the out tensor (writing into
/// it `direct`ly where the dtypes agree).
pub fn castable(
    args: &Args,
    cx: &mut Ctx,
    api: &'static str,
    direct: bool,
    functional: Functional,
) -> Outputs {
    into_outs(args, cx, 1, Rule::Castable { api, direct }, functional)
}

fn into_outs(
    args: &Args,
    cx: &mut Ctx,
    outs: usize,
    rule: Rule,
    functional: Functional,
) -> Outputs {
    let raw = args.raw();
    let first = raw
        .len()
        .checked_sub(outs)
        .ok_or_else(|| Error::invalid(format!("expected {outs} out= tensors")))?;
    let results = functional(&Args::new(&raw[..first]), cx)?;
    ensure!(
        results.len() == outs,
        "{} results for {outs} out= tensors",
        results.len()
    );
    let mut outputs = Vec::with_capacity(outs);
    for (i, result) in results.into_iter().enumerate() {
        let Output::Tensor(result) = result else {
            return Err(Error::invalid("an out= form whose result is not a tensor"));
        };
        let at = first + i;
        let (out, output) = place(cx, at as u32, args.tensor(at)?, &result, rule)?;
        cx.k.copy(&result, &out).map_err(failed("copy"))?;
        // A result may share its storage with another, or view an argument's.
        if cx.allocated(result.storage) {
            cx.free(&result);
        }
        outputs.push(output);
    }
    Ok(outputs)
}

/// `out` checked against `result` and resized to it, and what the op returns for it.
fn place(
    cx: &mut Ctx,
    at: u32,
    out: &TensorMeta,
    result: &TensorMeta,
    rule: Rule,
) -> Result<(TensorMeta, Output)> {
    let strides = match rule {
        Rule::Exact => {
            ensure!(
                out.dtype == result.dtype,
                "Expected out tensor to have dtype {}, but got {} instead",
                result.dtype.type_meta_name(),
                out.dtype.type_meta_name()
            );
            result.strides.clone()
        }
        Rule::Typed => {
            check_scalar_type(result.dtype, out.dtype)?;
            result.strides.clone()
        }
        Rule::Castable { api, direct } => {
            ensure!(
                can_cast(result.dtype, out.dtype),
                "{api}: Expected result to be safely castable from {} dtype, but got result \
                 with dtype {}",
                result.dtype.name(),
                out.dtype.name()
            );
            if direct && out.dtype == result.dtype {
                result.strides.clone()
            } else {
                contiguous_strides(&result.sizes)?
            }
        }
    };
    if out.sizes == result.sizes {
        check_internal(out)?;
        return Ok((out.clone(), Output::Argument(at)));
    }
    let resized = cx.resize_out(out, &result.sizes, strides)?;
    Ok((resized.clone(), Output::Updated((at, resized))))
}
