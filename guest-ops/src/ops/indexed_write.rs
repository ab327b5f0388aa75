//! Writes at indices along a dim that the host's libtorch computes whole, one `library`
//! kernel each: `scatter_reduce`, `index_reduce`, `index_copy`, `index_fill_` and
//! `embedding_renorm_`. Their checks are PyTorch's; each result has `self`'s shape and dtype.

use crate::error::{ensure, ensure_index, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::index::{check_index_source, check_scatter_shapes, check_write_apart, is_index};
use crate::ops::out::output;
use crate::ops::tensor_arg::{check_dim, check_scalar_types, TensorArg, INDEX_TYPES};
use crate::ops::{Form, Outputs};
use crate::rules::dtype::{check_not_bool, checked_number};
use crate::rules::overlap::{check_internal, check_partial};
use crate::rules::shape::{numel, wrap_dim};
use crate::types::{LibraryOp, Reduction, Scalar, ScalarType, TensorMeta};

/// The reduction named `reduce`, among those `allowed`; `refusal` gives the message for
/// another name.
fn reduction(
    reduce: &str,
    allowed: &[Reduction],
    refusal: impl FnOnce() -> String,
) -> Result<Reduction> {
    allowed
        .iter()
        .copied()
        .find(|r| reduction_name(*r) == reduce)
        .ok_or_else(|| Error::invalid(refusal()))
}

fn reduction_name(r: Reduction) -> &'static str {
    match r {
        Reduction::Sum => "sum",
        Reduction::Prod => "prod",
        Reduction::Mean => "mean",
        Reduction::Amax => "amax",
        Reduction::Amin => "amin",
    }
}

/// Runs `op` on `self` and `rest` into the output `form` gives, which may share no memory
/// with the first `apart` of `rest`.
fn write(
    args: &Args,
    cx: &mut Ctx,
    form: Form,
    op: LibraryOp,
    (rest, apart): (&[&TensorMeta], usize),
) -> Outputs {
    let x = args.tensor(0)?;
    let (out, result) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    check_write_apart(&out, &rest[..apart])?;
    check_partial(&out, x)?;
    let mut inputs = vec![x.clone()];
    inputs.extend(rest.iter().map(|t| (*t).clone()));
    cx.k.library(op, &inputs, std::slice::from_ref(&out))
        .map_err(failed("library"))?;
    Ok(vec![result])
}

/// `scatter_reduce.two(self, dim, index, src, reduce, *, include_self=True)`, in place and
/// `.two_out`.
pub fn scatter_reduce(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    let (x, index, src) = (args.tensor(0)?, args.tensor(2)?, args.tensor(3)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    // The scatter family's shared checks, named as `scatter`'s; an empty index may have any
    // dtype, as in `scatter`.
    ensure!(
        is_index(index.dtype) || numel(&index.sizes)? == 0,
        "scatter(): Expected dtype int32/int64 for index"
    );
    ensure!(
        src.dtype == x.dtype,
        "scatter(): Expected self.dtype to be equal to src.dtype"
    );
    check_scatter_shapes(x, d, index, Value::Tensor(src))?;
    let all = [
        Reduction::Sum,
        Reduction::Prod,
        Reduction::Mean,
        Reduction::Amax,
        Reduction::Amin,
    ];
    // `get_operator_enum` takes `max` and `min` for `amax` and `amin` here.
    let name = match args.opt_str(4)?.unwrap_or("") {
        "max" => "amax",
        "min" => "amin",
        other => other,
    };
    let reduce = reduction(name, &all, || {
        format!("reduce argument must be either sum, prod, mean, amax or amin, got {name}")
    })?;
    ensure_kernel!(
        reduce != Reduction::Mean || x.dtype != ScalarType::Bool,
        "\"scatter_gather_tensor_cpu_reduce_mean\" not implemented for 'Bool'"
    );
    let op = LibraryOp::ScatterReduce((d as i64, reduce, args.bool_or(5, true)?));
    write(args, cx, form, op, (&[index, src], 2))
}

/// `index_reduce(self, dim, index, source, reduce, *, include_self=True)`, in place and
/// `.out`.
pub fn index_reduce(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    const OP: &str = "index_reduce_()";
    args.at_most(6 + form.out_len())?;
    let (x, index, source) = (args.tensor(0)?, args.tensor(2)?, args.tensor(3)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    let allowed = [
        Reduction::Prod,
        Reduction::Mean,
        Reduction::Amax,
        Reduction::Amin,
    ];
    let name = args.opt_str(4)?.unwrap_or("");
    let reduce = reduction(name, &allowed, || {
        format!(
            "index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {name}."
        )
    })?;
    check_index_source(OP, x, d, index, source)?;
    check_not_bool(x.dtype, "index_func_")?;
    cx.warn_once("index_reduce() is in beta and the API may change at any time.");
    let op = LibraryOp::IndexReduce((d as i64, reduce, args.bool_or(5, true)?));
    write(args, cx, form, op, (&[index, source], 2))
}

/// `index_copy(self, dim, index, source)`, in place and `.out`.
pub fn index_copy(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    const OP: &str = "index_copy_()";
    args.at_most(4 + form.out_len())?;
    let (x, index, source) = (args.tensor(0)?, args.tensor(2)?, args.tensor(3)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    ensure_index!(
        index.dim() < 2,
        "{OP}: Index should have dimension 1 or 0 (got {})",
        index.dim()
    );
    let n = numel(&index.sizes)?;
    ensure_index!(
        source.dim() != 0 || n == 1,
        "{OP}: When source is scalar, index should have one element (got {n})"
    );
    ensure_index!(
        x.dim() == source.dim() || source.dim() == 0 || x.dim() == 0,
        "{OP}: When source and destination are not scalars, their dimensionality must match. \
         Source dimensionality ({}), destination dimensionality ({})",
        source.dim(),
        x.dim()
    );
    ensure!(
        index.dtype == ScalarType::Int64,
        "{OP}: Expected a long tensor for index, but got {}",
        index.dtype.name()
    );
    ensure!(
        x.dtype == source.dtype,
        "{OP}: self and source expected to have the same dtype, but got (self) {} and \
         (source) {}",
        x.dtype.name(),
        source.dtype.name()
    );
    // Each printed as c10 prints a vector: its sizes, space-separated.
    let slice = |t: &TensorMeta| -> Vec<String> {
        let mut sizes: Vec<String> = t.sizes.iter().map(i64::to_string).collect();
        if !sizes.is_empty() {
            sizes.remove(d.min(sizes.len() - 1));
        }
        sizes
    };
    let (dest, src) = (slice(x), slice(source));
    ensure!(
        dest == src,
        "{OP}: Source/destination tensor must have same slice shapes. Destination slice shape: \
         {} at dimension {d} and source slice shape: {} at dimension 0.",
        dest.join(" "),
        src.join(" ")
    );
    let source_len = source.sizes.get(d).copied().unwrap_or(1);
    ensure_index!(
        source.dim() == 0 || n == source_len,
        "{OP}: Number of indices ({n}) should be equal to source.size(dim) ({source_len})"
    );
    write(
        args,
        cx,
        form,
        LibraryOp::IndexCopy(d as i64),
        (&[index, source], 2),
    )
}

/// `index_fill_.int_Scalar(self, dim, index, value)` and `.int_Tensor` (a 0-dim value).
pub fn index_fill(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "index_fill_()";
    args.at_most(4)?;
    let (x, index, value) = (args.tensor(0)?, args.tensor(2)?, args.value(3)?);
    // In the CPU's order: the value tensor's rank, then the index, then the number.
    if let Value::Tensor(value) = value {
        ensure!(
            value.dim() == 0,
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {} \
             dimension(s).",
            value.dim()
        );
    }
    ensure_index!(
        index.dtype == ScalarType::Int64,
        "{OP}: Expected dtype int64 for index."
    );
    // A value tensor comes to the CPU's check as its `item()`.
    let complex = match value {
        Value::Number(value) => matches!(value, Scalar::Complex(_)),
        Value::Tensor(value) => value.dtype.is_complex(),
    };
    ensure!(
        !complex || x.dtype.is_complex(),
        "{OP}: Converting complex Scalar to non-complex type is not supported"
    );
    let d = wrap_dim(args.int(1)?, x.dim())?;
    ensure!(index.dim() <= 1, "Index has to be a vector/scalar");
    check_internal(x)?;
    match value {
        Value::Number(value) => {
            checked_number(value, x.dtype)?;
            let op = LibraryOp::IndexFill((d as i64, Some(value)));
            write(args, cx, Form::InPlace, op, (&[index], 1))
        }
        Value::Tensor(value) => {
            let op = LibraryOp::IndexFill((d as i64, None));
            write(args, cx, Form::InPlace, op, (&[index, value], 1))
        }
    }
}

/// `embedding_renorm_(self, indices, max_norm, norm_type)`: the rows of the 2-d `self` at
/// `indices` whose `norm_type`-norm exceeds `max_norm` are scaled down to it, in place.
pub fn embedding_renorm(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "embedding_renorm_";
    args.at_most(4)?;
    let (x, indices) = (args.tensor(0)?, args.tensor(1)?);
    check_dim(OP, TensorArg::new(x, "self", 1), 2)?;
    check_scalar_types(OP, TensorArg::new(indices, "indices", 2), &INDEX_TYPES)?;
    // The norm of each row refuses what is not floating (the CPU's kernel takes any).
    ensure!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "norm(): input dtype should be either floating point or complex. Got {} instead.",
        x.dtype.name()
    );
    check_internal(x)?;
    let op = LibraryOp::EmbeddingRenorm((args.float_or(2, 1.0)?, args.float_or(3, 2.0)?));
    write(args, cx, Form::InPlace, op, (&[indices], 0))
}
