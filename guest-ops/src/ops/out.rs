//! Outputs of ops that are not elementwise (reductions, products, softmax, losses): fresh
//! contiguous tensors, or `out=`/in-place tensors checked and resized like structured kernels.

use crate::error::{ensure, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::{Dest, Form};
use crate::rules::layout::{contiguous_strides, strides_for, suggest_memory_format};
use crate::rules::overlap::check_internal;
use crate::rules::shape::fmt_shape;
use crate::types::{Output, ScalarType, TensorMeta};

/// The output of `sizes` and `dtype` in `dest`, and what the op returns for it.
pub fn output(
    cx: &mut Ctx,
    dest: Dest,
    sizes: &[i64],
    dtype: ScalarType,
) -> Result<(TensorMeta, Output)> {
    match dest {
        Dest::New => {
            let t = cx.empty_contiguous(sizes, dtype)?;
            Ok((t.clone(), Output::Tensor(t)))
        }
        Dest::InPlace(i, t) => {
            ensure!(
                t.sizes == sizes,
                "Bad in-place call: input tensor size {} and output tensor size {} should match",
                fmt_shape(&t.sizes),
                fmt_shape(sizes)
            );
            ensure!(
                t.dtype == dtype,
                "Bad in-place call: input tensor dtype {} and output tensor dtype {} should match",
                t.dtype.name(),
                dtype.name()
            );
            check_internal(t)?;
            Ok((t.clone(), Output::Argument(i)))
        }
        Dest::Out(i, t) => {
            ensure!(
                t.dtype == dtype,
                "Expected out tensor to have dtype {}, but got {} instead",
                dtype.type_meta_name(),
                t.dtype.type_meta_name()
            );
            resize_output(cx, i, t, sizes)
        }
    }
}

/// For ops that keep their input's layout (resampling, padding): a fresh tensor of `sizes`
/// in the memory format `like` suggests, or the `out=` tensor of `form` resized to it.
pub fn output_like(
    args: &Args,
    cx: &mut Ctx,
    form: Form,
    sizes: &[i64],
    like: &TensorMeta,
) -> Result<(TensorMeta, Output)> {
    if let Form::Out(at) = form {
        let out = args.tensor(at as usize)?;
        ensure!(
            out.dtype == like.dtype,
            "Expected out tensor to have dtype {}, but got {} instead",
            like.dtype.type_meta_name(),
            out.dtype.type_meta_name()
        );
        // Resized as the CPU's structured kernels resize an out=: in the layout `like` gives.
        let format = suggest_memory_format(&like.sizes, &like.strides);
        return resized(cx, (at, out), (sizes, strides_for(sizes, format)?), true);
    }
    let format = suggest_memory_format(&like.sizes, &like.strides);
    let t = cx.empty(sizes, strides_for(sizes, format)?, like.dtype)?;
    Ok((t.clone(), Output::Tensor(t)))
}

/// `resize_output`: an `out=` tensor of other sizes becomes contiguous with `sizes`.
pub fn resize_output(
    cx: &mut Ctx,
    index: u32,
    t: &TensorMeta,
    sizes: &[i64],
) -> Result<(TensorMeta, Output)> {
    resized(cx, (index, t), (sizes, contiguous_strides(sizes)?), true)
}

/// `resize_` of an `out=` tensor, as kernels that call it themselves do: contiguous with
/// `sizes` where those differ, without `resize_output`'s warning or overlap check.
pub fn resize_quietly(
    cx: &mut Ctx,
    index: u32,
    t: &TensorMeta,
    sizes: &[i64],
) -> Result<(TensorMeta, Output)> {
    resized(cx, (index, t), (sizes, contiguous_strides(sizes)?), false)
}

/// `t` as given if it has `sizes`, else resized to `sizes` with `strides`; `structured` for
/// `resize_output` (its overlap check and warning), not for a plain `resize_`.
fn resized(
    cx: &mut Ctx,
    (index, t): (u32, &TensorMeta),
    (sizes, strides): (&[i64], Vec<i64>),
    structured: bool,
) -> Result<(TensorMeta, Output)> {
    if t.sizes == sizes {
        if structured {
            check_internal(t)?;
        }
        return Ok((t.clone(), Output::Argument(index)));
    }
    let resized = if structured {
        cx.resize_out(t, sizes, strides)?
    } else {
        cx.resize(t, sizes, strides)?
    };
    Ok((resized.clone(), Output::Updated((index, resized))))
}
