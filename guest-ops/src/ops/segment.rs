//! Reductions over segments and conversions between sorted sparse indices: `segment_reduce`
//! and its backward (segments as lengths or offsets along an axis) and
//! `_convert_indices_from_coo_to_csr`/`_convert_indices_from_csr_to_coo`, which graph
//! libraries call on dense tensors. The host computes each with libtorch's kernel after it
//! has checked that the lengths, offsets or indices stay inside the tensors they index.

use crate::error::{ensure, ensure_index, ensure_kernel, Error, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::shape::{fmt_shape, wrap_dim};
use crate::types::{Arg, LibraryOp, Reduction, ScalarType, SegmentReduceParams, TensorMeta};

/// `get_reduction_enum`: the reductions `segment_reduce` takes by name.
fn reduction(name: &str) -> Result<Reduction> {
    Ok(match name {
        "max" | "amax" => Reduction::Amax,
        "min" | "amin" => Reduction::Amin,
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        "prod" => Reduction::Prod,
        _ => {
            return Err(Error::invalid(format!(
                "reduce argument must be either sum, prod, mean, amax or amin, got {name}"
            )))
        }
    })
}

fn is_index_type(dtype: ScalarType) -> bool {
    matches!(dtype, ScalarType::Int32 | ScalarType::Int64)
}

fn is_integral(dtype: ScalarType) -> bool {
    matches!(
        dtype,
        ScalarType::Uint8
            | ScalarType::Int8
            | ScalarType::Int16
            | ScalarType::Int32
            | ScalarType::Int64
    )
}

/// The segments of a call: lengths or offsets, along which (wrapped) axis, and what they
/// make of `data`'s sizes.
struct Segments<'a> {
    bounds: &'a TensorMeta,
    params: SegmentReduceParams,
    /// The result's sizes: `data`'s with one element per segment along the axis.
    sizes: Vec<i64>,
}

impl Segments<'_> {
    /// `"offsets"` or `"lengths"`, as the kernels' names and messages say.
    fn what(&self) -> &'static str {
        if self.params.offsets {
            "offsets"
        } else {
            "lengths"
        }
    }

    /// The dispatch checks, bounds (of an index type, in the kernel `kernel(what)` names)
    /// before data (floating).
    fn check_dtypes(&self, data: ScalarType, kernel: impl Fn(&str) -> String) -> Result<()> {
        ensure_kernel!(
            is_index_type(self.bounds.dtype),
            "\"{}\" not implemented for '{}'",
            kernel(self.what()),
            self.bounds.dtype.name()
        );
        ensure_kernel!(
            matches!(
                data,
                ScalarType::Float32
                    | ScalarType::Float64
                    | ScalarType::Float16
                    | ScalarType::Bfloat16
            ),
            "\"_segment_reduce_cpu\" not implemented for '{}'",
            data.name()
        );
        Ok(())
    }
}

/// The checks both directions make, in the CPU kernels' order: `lengths` at `lengths`,
/// `offsets` at `offsets`, and the other arguments (reduce name at `reduce`, axis, unsafe,
/// initial at `rest`, where `unsafe` is absent from the backward).
fn segments<'a>(
    op: &str,
    args: &'a Args,
    data: &TensorMeta,
    (reduce, lengths, offsets): (usize, usize, usize),
    (axis, unchecked, initial): (usize, Option<usize>, usize),
) -> Result<Segments<'a>> {
    let axis = wrap_dim(args.int_or(axis, 0)?, data.dim())?;
    let (lengths, offsets) = (args.opt_tensor(lengths)?, args.opt_tensor(offsets)?);
    let (bounds, is_offsets) = match (offsets, lengths) {
        (Some(o), _) => (o, true),
        (None, Some(l)) => (l, false),
        (None, None) => {
            return Err(Error::invalid(
                "segment_reduce(): Either lengths or offsets must be defined.",
            ))
        }
    };
    let reduce = reduction(args.str(reduce)?)?;
    let what = if is_offsets { "offsets" } else { "lengths" };
    ensure!(
        data.dim() >= bounds.dim(),
        "Expected data.dim() >= {what}_value.dim() to be true, but got false."
    );
    ensure!(
        axis + 1 == bounds.dim(),
        "{op}(): Expected axis to be the last dimension of {what} but got {axis}."
    );
    // The CPU kernel reads one row of bounds per index before the axis: they must agree.
    ensure!(
        bounds.sizes[..axis] == data.sizes[..axis],
        "{op}(): {what} {} must have data's sizes {} before axis {axis}",
        fmt_shape(&bounds.sizes),
        fmt_shape(&data.sizes)
    );
    let mut sizes = data.sizes.clone();
    sizes[axis] = bounds.sizes[axis] - i64::from(is_offsets);
    let initial = match args.raw().get(initial) {
        None | Some(Arg::None) => None,
        Some(_) => Some(args.scalar(initial)?),
    };
    let unchecked = match unchecked {
        Some(i) => args.bool_or(i, false)?,
        None => true,
    };
    Ok(Segments {
        bounds,
        params: SegmentReduceParams {
            reduce,
            axis: axis as i64,
            offsets: is_offsets,
            unchecked,
            initial,
        },
        sizes,
    })
}

/// `segment_reduce(data, reduce, *, lengths, indices, offsets, axis, unsafe, initial)`: each
/// segment of `data` along `axis` reduced to one element.
pub fn segment_reduce(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let data = args.tensor(0)?;
    // The CPU kernel wraps the axis before it looks at the indices.
    wrap_dim(args.int_or(5, 0)?, data.dim())?;
    ensure!(
        args.opt_tensor(3)?.is_none(),
        "segment_reduce(): indices based reduction is not supported yet."
    );
    let segments = segments("segment_reduce", args, data, (1, 2, 4), (5, Some(6), 7))?;
    segments.check_dtypes(data.dtype, |what| {
        format!("_segment_reduce_{what}_cpu_kernel1")
    })?;
    let out = cx.empty_contiguous(&segments.sizes, data.dtype)?;
    launch(
        cx,
        LibraryOp::SegmentReduce(segments.params),
        &[data.clone(), segments.bounds.clone()],
        vec![out],
    )
}

/// `_segment_reduce_backward(grad, output, data, reduce, *, lengths, offsets, axis,
/// initial)`: the gradient of `data`, in its shape and `grad`'s dtype.
pub fn segment_reduce_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let (grad, output, data) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let segments = segments("segment_reduce", args, data, (3, 4, 5), (6, None, 7))?;
    segments.check_dtypes(grad.dtype, |what| {
        format!("_segment_reduce_cpu_{what}_backward_kernel1")
    })?;
    for t in [output, data] {
        ensure!(
            t.dtype == grad.dtype,
            "expected scalar type {} but found {}",
            grad.dtype.name(),
            t.dtype.name()
        );
    }
    for (name, t) in [("grad", grad), ("output", output)] {
        ensure!(
            t.sizes == segments.sizes,
            "_segment_reduce_backward: {name} must be {} (data {} reduced over {} segments), got {}",
            fmt_shape(&segments.sizes),
            fmt_shape(&data.sizes),
            segments.sizes[segments.params.axis as usize],
            fmt_shape(&t.sizes)
        );
    }
    let out = cx.empty_contiguous(&data.sizes, grad.dtype)?;
    launch(
        cx,
        LibraryOp::SegmentReduceBackward(segments.params),
        &[
            grad.clone(),
            output.clone(),
            data.clone(),
            segments.bounds.clone(),
        ],
        vec![out],
    )
}

fn index_dtype(out_int32: bool) -> ScalarType {
    if out_int32 {
        ScalarType::Int32
    } else {
        ScalarType::Int64
    }
}

/// `_convert_indices_from_coo_to_csr(self, size, *, out_int32)`: the `size + 1` row
/// pointers of sorted row indices.
pub fn coo_to_csr(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (indices, size) = (args.tensor(0)?, args.int(1)?);
    let out_int32 = args.bool_or(2, false)?;
    ensure!(
        indices.dim() <= 1,
        "Input is supposed to be a vector, but got {} dimensional tensor.",
        indices.dim()
    );
    let out = cx.empty_contiguous(&[size.saturating_add(1)], index_dtype(out_int32))?;
    ensure_kernel!(
        is_integral(indices.dtype),
        "\"convert_indices_from_coo_to_csr_cpu\" not implemented for '{}'",
        indices.dtype.name()
    );
    launch(
        cx,
        LibraryOp::CooToCsr((size, out_int32)),
        std::slice::from_ref(indices),
        vec![out],
    )
}

/// `_convert_indices_from_csr_to_coo(crow_indices, col_indices, *, out_int32, transpose)`:
/// each element's row and column (column and row when `transpose`), `[2, nnz]`.
pub fn csr_to_coo(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (crow, col) = (args.tensor(0)?, args.tensor(1)?);
    let (out_int32, transpose) = (args.bool_or(2, false)?, args.bool_or(3, false)?);
    ensure!(
        crow.dim() == col.dim(),
        // The CPU's message names crow_indices' dims twice.
        "crow_indices and col_indices are supposed to have the same dimensionality, but got {} \
         and {} dimensional tensors, respectively.",
        crow.dim(),
        crow.dim()
    );
    ensure_index!(
        crow.dim() > 0,
        "Dimension specified as -1 but tensor has no dimensions"
    );
    if crow.dim() > 1 {
        return Err(Error::unsupported(format!(
            "_convert_indices_from_csr_to_coo of batched indices {} is not supported on device \
             remote yet; set TORCH_REMOTE_CPU_FALLBACK=1 to run it on the CPU instead",
            fmt_shape(&crow.sizes)
        )));
    }
    let out = cx.empty_contiguous(&[2, col.sizes[0]], index_dtype(out_int32))?;
    ensure_kernel!(
        is_integral(crow.dtype),
        "\"convert_indices_from_csr_to_coo_cpu\" not implemented for '{}'",
        crow.dtype.name()
    );
    launch(
        cx,
        LibraryOp::CsrToCoo((out_int32, transpose)),
        &[crow.clone(), col.clone()],
        vec![out],
    )
}
